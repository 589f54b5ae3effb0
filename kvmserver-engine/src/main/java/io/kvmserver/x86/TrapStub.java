package io.kvmserver.x86;

/**
 * The machine code of the in-guest trap stub; its annotated source is {@code trap-stub.S} beside
 * this class in the resources, and {@code TrapStubTest} assembles that file with {@code as} and
 * compares the bytes.
 *
 * <p>A system call reaches the host through one instruction, whatever privilege {@code syscall}
 * left the vCPU at: {@code mov %cs, SYSCALL_DOORBELL} writes the code segment selector to a page
 * with no guest memory behind it, an MMIO exit whose data says where the stub runs. On hardware
 * VMX {@code syscall} entered at CPL 0 (the data is the kernel selector): the host emulates the
 * call and the stub's {@code sysretq} returns. On nested PVM hosts {@code syscall} stays at CPL 3
 * (the user selector): the host emulates the call and returns to RCX itself, setting RIP and
 * RFLAGS; the {@code sysretq} is never reached. An earlier stub used {@code out}, which at CPL 3
 * raises #GP and reaches the host through the exception entry, four KVM exits per call instead of
 * two (~10-15 µs more per call on PVM, measured side by side: docs/benchmarks.md).
 */
public final class TrapStub {

    private TrapStub() {
    }

    /** Exception vector {@code v} exits on port {@code PORT_EXCEPTION_BASE + v}. */
    public static final int PORT_EXCEPTION_BASE = 0xa0;

    /** Length of the syscall entry's {@code mov %cs, SYSCALL_DOORBELL}. */
    private static final int DOORBELL_WRITE_LENGTH = 7;

    /** RIP after the syscall entry's doorbell write, where the vCPU stands at its MMIO exit. */
    public static final long SYSCALL_DOORBELL_RIP = GuestLayout.SYSCALL_ENTRY + DOORBELL_WRITE_LENGTH;

    /**
     * LSTAR on hosts where {@code syscall} stays at CPL 3 (nested PVM): answers a few calls of a
     * served connection in the guest ({@link GuestCallPages}) and rings the doorbell for the rest.
     * It runs at CPL 3 and returns with {@code jmp *%rcx}, so it is never the entry where
     * {@code syscall} enters CPL 0.
     */
    public static final long FAST_SYSCALL_ENTRY = GuestLayout.SYSCALL_ENTRY + 0x40;

    /** The fast entry's doorbell write ({@code slow} in the source): every call it does not answer. */
    public static final long FAST_SLOW_PATH = FAST_SYSCALL_ENTRY + 0x2f;

    /** RIP after the fast entry's doorbell write. */
    public static final long FAST_DOORBELL_RIP = FAST_SLOW_PATH + DOORBELL_WRITE_LENGTH;

    /**
     * The fast entry's {@code rep movsb} of the program's buffer into the queue page: a fault there
     * is the program's bad pointer, answered by the host ({@code EFAULT}) once RCX, RSI and RDI are
     * back from the save area and the entry resumes at {@link #FAST_SLOW_PATH}.
     */
    public static final long FAST_COPY_RIP = FAST_SYSCALL_ENTRY + 0xae;

    /** The assembled {@code fast_syscall_entry} (trap-stub.S; TrapStubTest compares). */
    private static final String FAST_SYSCALL_ENTRY_CODE = ""
            + "41f7c300010000752685ff78224883f80174344883f82c7420483d200100000f84f20000004883f82b0f84f50000008c"
            + "0c2500a00000480f074d85c075f149f7c2ffbfffff75e8393c2500b0000075dff7042504b000000200000074d2833c25"
            + "00c000000873c84885d274c348890c2518c000008b0c250cb000002b0c2504c000000f82820000004839ca777d488934"
            + "2520c0000048893c2528c000008b3c2504c000004881c700c100004889d1f3a4488b342520c00000488b3c2528c00000"
            + "8b0c2500c00000c1e104c78180c000000100000089b984c000008b042504c00000898188c0000089918cc0000001d089"
            + "042504c00000ff042500c000004889d0488b0c2518c00000eb2e488b0c2518c00000e918ffffff41f7c2fff7f7ff0f85"
            + "0bffffff393c2508b000000f85fefeffff48c7c0f5ffffff4889242510c00000bc80c0000041539d488b242510c00000"
            + "ffe1";

    /** The fast entry's machine code, to be placed at {@link #FAST_SYSCALL_ENTRY}. */
    public static byte[] fastSyscallEntry() {
        return java.util.HexFormat.of().parseHex(FAST_SYSCALL_ENTRY_CODE);
    }

    private static final int EXCEPTION_ENTRY_SIZE = 16;

    /** Vectors for which the CPU pushes an error code. */
    private static boolean hasErrorCode(int vector) {
        return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21
                || vector == 29 || vector == 30;
    }

    /** {@code mov %cs, SYSCALL_DOORBELL; sysretq} */
    public static byte[] syscallEntry() {
        int doorbell = (int) GuestLayout.SYSCALL_DOORBELL;
        return new byte[] {(byte) 0x8c, 0x0c, 0x25, (byte) doorbell, (byte) (doorbell >>> 8), (byte) (doorbell >>> 16),
            (byte) (doorbell >>> 24), 0x48, 0x0f, 0x07};
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
