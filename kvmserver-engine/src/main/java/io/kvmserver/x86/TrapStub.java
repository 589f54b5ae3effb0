package io.kvmserver.x86;

/**
 * The machine code of the in-guest trap stub; its annotated source is {@code trap-stub.S} beside
 * this class in the resources, and {@code TrapStubTest} assembles that file with {@code as} and
 * compares the bytes.
 *
 * <p>Why two ports for a system call: on hardware VMX, {@code syscall} enters {@code LSTAR} at
 * CPL 0, the stub's {@code out} exits directly on {@link #PORT_SYSCALL} and {@code sysretq}
 * returns. On nested PVM hosts {@code syscall} stays at CPL 3, the same {@code out} raises #GP,
 * and the CPL 0 #GP entry exits on {@code PORT_EXCEPTION_BASE + 13}; the host recognises the
 * faulting RIP as the stub and completes the call through the {@code iretq} frame. The stub is
 * the same bytes in both cases, so nothing depends on which kind of host we run on.
 */
public final class TrapStub {

    private TrapStub() {
    }

    /** {@code out 0x80, al} from CPL 0: a system call on hosts where syscall switches CPL. */
    public static final int PORT_SYSCALL = 0x80;
    /** Exception vector {@code v} exits on port {@code PORT_EXCEPTION_BASE + v}. */
    public static final int PORT_EXCEPTION_BASE = 0xa0;

    /** RIP of the {@code out} instruction at the syscall entry (faults there at CPL 3). */
    public static final long SYSCALL_OUT_RIP = GuestLayout.SYSCALL_ENTRY;

    private static final int EXCEPTION_ENTRY_SIZE = 16;

    /** Vectors for which the CPU pushes an error code. */
    private static boolean hasErrorCode(int vector) {
        return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21
                || vector == 29 || vector == 30;
    }

    /** {@code out 0x80, al; sysretq} */
    public static byte[] syscallEntry() {
        return new byte[] {(byte) 0xe6, (byte) PORT_SYSCALL, 0x48, 0x0f, 0x07};
    }

    /**
     * The 32 exception entries, 16 bytes apart: {@code [push 0;] out PORT, al; add rsp, 8; iretq}.
     * The dummy push gives every frame the same shape, so the host finds RIP at the same place.
     */
    public static byte[] exceptionEntries() {
        byte[] code = new byte[GuestLayout.EXCEPTION_VECTORS * EXCEPTION_ENTRY_SIZE];
        for (int v = 0; v < GuestLayout.EXCEPTION_VECTORS; v++) {
            int p = v * EXCEPTION_ENTRY_SIZE;
            if (!hasErrorCode(v)) {
                code[p++] = 0x6a;
                code[p++] = 0x00;
            }
            code[p++] = (byte) 0xe6;
            code[p++] = (byte) (PORT_EXCEPTION_BASE + v);
            code[p++] = 0x48;
            code[p++] = (byte) 0x83;
            code[p++] = (byte) 0xc4;
            code[p++] = 0x08;
            code[p++] = 0x48;
            code[p++] = (byte) 0xcf;
            while (p < (v + 1) * EXCEPTION_ENTRY_SIZE) {
                code[p++] = (byte) 0xcc; // int3 padding: never executed
            }
        }
        return code;
    }

    public static long exceptionEntry(int vector) {
        return GuestLayout.EXCEPTION_ENTRIES + (long) vector * EXCEPTION_ENTRY_SIZE;
    }
}
