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
    public static final long FAST_SLOW_PATH = FAST_SYSCALL_ENTRY + 0xbe;

    /** RIP after the fast entry's doorbell write. */
    public static final long FAST_DOORBELL_RIP = FAST_SLOW_PATH + DOORBELL_WRITE_LENGTH;

    /**
     * The end of the fast entry. A #PF or #GP between {@link #FAST_SYSCALL_ENTRY} and here is the
     * entry touching the program's memory through a pointer the program passed: the host answers
     * that call itself ({@code EFAULT}), once RAX, RCX, RSI and RDI are back from the save area
     * ({@link GuestCallPages#SAVED_RCX}) and the entry resumes at {@link #FAST_SLOW_PATH}.
     */
    public static final long FAST_SYSCALL_END = FAST_SYSCALL_ENTRY + 0x6c3;

    /** The assembled {@code fast_syscall_entry} (trap-stub.S; TrapStubTest compares). */
    private static final String FAST_SYSCALL_ENTRY_CODE = ""
            + "41f7c3000100000f85b100000085ff0f88a900000048890c2518c000004889342520c0000048893c2528c00000488904"
            + "2530c000004885c00f842a0200004883f82d0f840a0200004883f8010f849e0000004883f82c0f84860000004883f814"
            + "0f84de0000004883f8330f84ca0300004883f8360f84890200004883f8100f8445030000483de90000000f84f9030000"
            + "483de80000000f84c1040000483d190100000f84ac040000483d200100000f84040500004883f82b0f84070500008c0c"
            + "2500a00000480f07488b0c2518c00000488b342520c00000488b3c2528c00000ebdc4d85c075d749f7c2ffbfffff75ce"
            + "393c2564c0000075c5f7042504b000000200000074b8833c2500c000000873ae4885d274a98b0c250cb000002b0c2504"
            + "c0000072a34839ca779e8b3c2504c000004881c700c100004889d1f3a489d0e9b8000000393c2564c000000f856dffff"
            + "fff7042504b00000020000000f845cffffff833c2500c00000080f834effffff4883fa010f8244ffffff4883fa080f87"
            + "3affffff8b0c250cb000002b0c2504c000000f8230ffffff48890c2548c0000089142540c000004889342538c000008b"
            + "3c2504c000004881c700c1000031c0488b342538c00000488b4e08488b364883042538c0000010483b0c2548c0000077"
            + "6448290c2548c000004801c8f3a4ff0c2540c0000075c84885c074498b0c2500c00000c1e104c78180c0000001000000"
            + "8b3c2528c0000089b984c000008b3c2504c0000089b988c0000089818cc0000001c7893c2504c00000ff042500c00000"
            + "e94c040000488b042530c00000e976feffff4d85c00f8563feffff49f7c2bfffffff0f8556feffff393c2564c000000f"
            + "8549feffff4885d20f8440feffff833c2500c00000080f8332feffff8b0c2514b000002b0c2568c000000f8628feffff"
            + "4839ca730289d189c84889f78b342568c000004881c600b20000f3a401042568c000008b0c2500c00000c1e1048b3c25"
            + "30c0000089b980c000008b3c2528c0000089b984c00000898188c00000c7818cc0000000000000ff042500c00000e98e"
            + "030000393c2564c000000f85aefdfffff7042504b00000040000000f849dfdffff4183f8040f8593fdffff833c2500c0"
            + "0000080f8385fdffff418b0a83fe01744383fe060f857efdffff83fa01743e83f9010f8c70fdffff83fa06741c83fa04"
            + "740983fa050f855dfdffff81f9ff7f00000f8f51fdffffeb1483f97f0f8f46fdffffeb0983fa090f853bfdffff8b3c25"
            + "00c00000c1e704898780c000008b042528c00000898784c00000898f88c00000c1e60809d689b78cc00000ff042500c0"
            + "000031c0e9c8020000393c2564c000000f85e8fcfffff7042504b00000010000000f84d7fcffff81fe215400000f85cb"
            + "fcffff4889d6833c2500c00000080f83c4fcffff8b368b0c2500c00000c1e104898180c0000089b984c0000089b188c0"
            + "0000c7818cc0000000000000ff042500c0000031c0e957020000393c2564c000000f8577fcffff833c2510b00000000f"
            + "8469fcffff8b0a85c90f8869fcffff3b0c2510b0000076078b0c2510b000004889f7be20b00000f3a48b0c2510b00000"
            + "890a31c0e908020000393c251cb000000f8528fcffff39142564c000000f851bfcffff833c2500c00000080f830dfcff"
            + "ff833c2560c00000000f85fffbffff83fe02744283fe010f85f1fbfffff7042504b00000100000000f84e0fbffff418b"
            + "0af7c120d8ff3f0f85dbfbffff498b7a0448893c2558c00000c7042550c0000001000000eb13f7042504b00000080000"
            + "000f84a7fbffff31c9c7042560c00000010000008b3c2500c00000c1e704898780c00000899784c00000898f88c00000"
            + "89b78cc00000ff042500c0000031c0e93d0100004d85c00f8561fbffff393c2518b000000f8554fbffff4585d20f854b"
            + "fbffff83fa010f8c42fbffff83fa400f8f39fbffff48b900edffffff7f00004839ce0f8330fbffff833c2550c0000000"
            + "0f8522fbffffc7042550c000000100000031c0e9d900000041f7c2fff7f7ff0f85f9faffff393c2508b000000f85ecfa"
            + "ffff8b0425a0b0000085c00f889b00000039042564c000000f848e000000833c2500c00000080f8349fcffff4885f674"
            + "2d8b0a85c90f883afcffff3b0c25a4b0000076078b0c25a4b000004889f7bea8b00000f3a48b0c25a4b00000890a31f6"
            + "813c2530c0000020010000410f44f28b0c2500c00000c1e104c78180c00000200100008b3c2528c0000089b984c00000"
            + "89b188c0000089818cc00000ff042500c0000089042564c00000eb15833c2528b10000000f84bbfbffff48c7c0f5ffff"
            + "ff488b342520c00000488b3c2528c00000488b0c2518c000004889242510c00000bc80c0000041539d488b242510c000"
            + "00ffe1";

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
