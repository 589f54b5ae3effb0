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
    public static final long FAST_SLOW_PATH = FAST_SYSCALL_ENTRY + 0xab;

    /** RIP after the fast entry's doorbell write. */
    public static final long FAST_DOORBELL_RIP = FAST_SLOW_PATH + DOORBELL_WRITE_LENGTH;

    /**
     * The end of the fast entry. A #PF or #GP between {@link #FAST_SYSCALL_ENTRY} and here is the
     * entry touching the program's memory through a pointer the program passed: the host answers
     * that call itself ({@code EFAULT}), once RAX, RCX, RSI and RDI are back from the save area
     * ({@link GuestCallPages#SAVED_RCX}) and the entry resumes at {@link #FAST_SLOW_PATH}.
     */
    public static final long FAST_SYSCALL_END = FAST_SYSCALL_ENTRY + 0x4bd;

    /** The assembled {@code fast_syscall_entry} (trap-stub.S; TrapStubTest compares). */
    private static final String FAST_SYSCALL_ENTRY_CODE = ""
            + "41f7c3000100000f859e00000085ff0f889600000048890c2518c000004889342520c0000048893c2528c00000488904"
            + "2530c000004883f8010f849e0000004883f82c0f84860000004883f8140f84de0000004883f8330f84920200004883f8"
            + "360f84d80100004883f8100f840d020000483de90000000f84c1020000483de80000000f8489030000483d190100000f"
            + "8474030000483d200100000f84c90300004883f82b0f84cc0300008c0c2500a00000480f07488b0c2518c00000488b34"
            + "2520c00000488b3c2528c00000ebdc4d85c075d749f7c2ffbfffff75ce393c2500b0000075c5f7042504b00000020000"
            + "0074b8833c2500c000000873ae4885d274a98b0c250cb000002b0c2504c0000072a34839ca779e8b3c2504c000004881"
            + "c700c100004889d1f3a489d0e9b8000000393c2500b000000f856dfffffff7042504b00000020000000f845cffffff83"
            + "3c2500c00000080f834effffff4883fa010f8244ffffff4883fa080f873affffff8b0c250cb000002b0c2504c000000f"
            + "8230ffffff48890c2548c0000089142540c000004889342538c000008b3c2504c000004881c700c1000031c0488b3425"
            + "38c00000488b4e08488b364883042538c0000010483b0c2548c00000776448290c2548c000004801c8f3a4ff0c2540c0"
            + "000075c84885c074498b0c2500c00000c1e104c78180c00000010000008b3c2528c0000089b984c000008b3c2504c000"
            + "0089b988c0000089818cc0000001c7893c2504c00000ff042500c00000e959020000488b042530c00000e976feffff39"
            + "3c2500b000000f855ffefffff7042504b00000040000000f844efeffff83fe060f8545feffff83fa010f853cfeffff41"
            + "83f8040f8532feffff4c89d6eb2d393c2500b000000f8520fefffff7042504b00000010000000f840ffeffff81fe2154"
            + "00000f8503feffff4889d6833c2500c00000080f83fcfdffff8b368b0c2500c00000c1e104898180c0000089b984c000"
            + "0089b188c00000c7818cc0000000000000ff042500c0000031c0e99c010000393c2500b000000f85affdffff833c2510"
            + "b00000000f84a1fdffff8b0a85c90f88a1fdffff3b0c2510b0000076078b0c2510b000004889f7be20b00000f3a48b0c"
            + "2510b00000890a31c0e94d010000393c251cb000000f8560fdffff39142500b000000f8553fdffff833c2500c0000008"
            + "0f8345fdffff833c2560c00000000f8537fdffff83fe02744283fe010f8529fdfffff7042504b00000100000000f8418"
            + "fdffff418b0af7c120d8ff3f0f8513fdffff498b7a0448893c2558c00000c7042550c0000001000000eb13f7042504b0"
            + "0000080000000f84dffcffff31c9c7042560c00000010000008b3c2500c00000c1e704898780c00000899784c0000089"
            + "8f88c0000089b78cc00000ff042500c0000031c0e9820000004d85c00f8599fcffff393c2518b000000f858cfcffff45"
            + "85d20f8583fcffff83fa010f8c7afcffff83fa400f8f71fcffff48b900edffffff7f00004839ce0f8368fcffff833c25"
            + "50c00000000f855afcffffc7042550c000000100000031c0eb2141f7c2fff7f7ff0f8534fcffff393c2508b000000f85"
            + "27fcffff48c7c0f5ffffff488b342520c00000488b3c2528c00000488b0c2518c000004889242510c00000bc80c00000"
            + "41539d488b242510c00000ffe1";

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
