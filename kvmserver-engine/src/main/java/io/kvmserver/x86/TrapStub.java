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
    public static final long FAST_SLOW_PATH = FAST_SYSCALL_ENTRY + 0xc8;

    /** RIP after the fast entry's doorbell write. */
    public static final long FAST_DOORBELL_RIP = FAST_SLOW_PATH + DOORBELL_WRITE_LENGTH;

    /**
     * The end of the fast entry. A #PF or #GP between {@link #FAST_SYSCALL_ENTRY} and here is the
     * entry touching the program's memory through a pointer the program passed: the host answers
     * that call itself ({@code EFAULT}), once RAX, RCX, RSI and RDI are back from the save area
     * ({@link GuestCallPages#SAVED_RCX}) and the entry resumes at {@link #FAST_SLOW_PATH}.
     */
    public static final long FAST_SYSCALL_END = FAST_SYSCALL_ENTRY + 0x8af;

    /** The assembled {@code fast_syscall_entry} (trap-stub.S; TrapStubTest compares). */
    private static final String FAST_SYSCALL_ENTRY_CODE = ""
            + "41f7c3000100000f85bb00000085ff0f88b300000048890c2518c000004889342520c0000048893c2528c00000488904"
            + "2530c000004885c00f844c0200004883f82d0f842c0200004883f8010f84a80000004883f82c0f84900000004883f814"
            + "0f84f20000004883f8330f843f0400004883f8360f84ab0200004883f8100f8467030000483de90000000f846e040000"
            + "483de80000000f8441050000483d190100000f842c050000483d200100000f84f00600004883f82b0f84f30600004883"
            + "f8300f84940300008c0c2500a00000480f07488b0c2518c00000488b342520c00000488b3c2528c00000ebdc4d85c075"
            + "d749f7c2ffbfffff75ce393c2564c0000075c5f7042504b000000200000074b8833c256cc000000075ae833c2500c000"
            + "000873a44885d2749f8b0c250cb000002b0c2504c0000072994839ca77948b3c2504c000004881c700c100004889d1f3"
            + "a489d0e9c6000000393c2564c000000f8563fffffff7042504b00000020000000f8452ffffff833c256cc00000000f85"
            + "44ffffff833c2500c00000080f8336ffffff4883fa010f822cffffff4883fa080f8722ffffff8b0c250cb000002b0c25"
            + "04c000000f8218ffffff48890c2548c0000089142540c000004889342538c000008b3c2504c000004881c700c1000031"
            + "c0488b342538c00000488b4e08488b364883042538c0000010483b0c2548c00000776448290c2548c000004801c8f3a4"
            + "ff0c2540c0000075c84885c074498b0c2500c00000c1e104c78180c00000010000008b3c2528c0000089b984c000008b"
            + "3c2504c0000089b988c0000089818cc0000001c7893c2504c00000ff042500c00000e916060000488b042530c00000e9"
            + "5efeffff4d85c00f854bfeffff49f7c2bfffffff0f853efeffff393c2564c000000f8531feffff4885d20f8428feffff"
            + "833c2500c00000080f831afeffff8b0c2514b000002b0c2568c000000f8610feffff4839ca730289d189c84889f78b34"
            + "2568c000004881c600b20000f3a401042568c000008b0c2500c00000c1e1048b3c2530c0000089b980c000008b3c2528"
            + "c0000089b984c00000898188c00000c7818cc0000000000000ff042500c00000e958050000393c2564c000000f8596fd"
            + "fffff7042504b00000040000000f8485fdffff4183f8040f857bfdffff833c2500c00000080f836dfdffff418b0a83fe"
            + "01744383fe060f8566fdffff83fa01743e83f9010f8c58fdffff83fa06741c83fa04740983fa050f8545fdffff81f9ff"
            + "7f00000f8f39fdffffeb1483f97f0f8f2efdffffeb0983fa090f8523fdffff8b3c2500c00000c1e704898780c000008b"
            + "042528c00000898784c00000898f88c00000c1e60809d689b78cc00000ff042500c0000031c0e992040000393c2564c0"
            + "00000f85d0fcfffff7042504b00000010000000f84bffcffff81fe215400000f85b3fcffff4889d6833c2500c0000008"
            + "0f83acfcffff8b368b0c2500c00000c1e104898180c0000089b984c0000089b188c00000c7818cc0000000000000ff04"
            + "2500c0000031c0e921040000393c2564c000000f855ffcfffff7042504b00000200000000f844efcffff83fe010f8545"
            + "fcffff833c256cc00000000f8537fcffff833c2500c00000080f8329fcffffc704256cc0000001000000e979ffffff39"
            + "3c2564c000000f850cfcffff833c2510b00000000f84fefbffff8b0a85c90f88fefbffff3b0c2510b0000076078b0c25"
            + "10b000004889f7be20b00000f3a48b0c2510b00000890a31c0e97f030000393c251cb000000f85bdfbffff85d20f88b5"
            + "fbffff39142564c000000f85a8fbffff833c2500c00000080f839afbffff833c2560c00000000f858cfbffff83fe0274"
            + "4983fe010f857efbfffff7042504b00000100000000f846dfbffff418b0af7c120d8ff3f0f8568fbffff498b7a044889"
            + "3c2558c00000890c2574c00000c7042550c0000001000000eb13f7042504b00000080000000f842dfbffff31c9893425"
            + "60c000008b3c2500c00000c1e704898780c00000899784c00000898f88c0000089b78cc00000ff042500c0000031c0e9"
            + "a90200004d85c00f85ebfaffff833c2560c00000010f8499000000393c2518b00000740d393c252cb100000f85c7faff"
            + "ff4585d20f85befaffff83fa010f8cb5faffff83fa400f8facfaffff48b900edffffff7f00004839ce0f83a3faffff83"
            + "3c2550c00000000f8595faffff833c256cc00000000f8587faffff393c2518b0000074148b0c25a0b00000390c2564c0"
            + "00000f856afaffff833c2570c00000020f835cfaffffff042570c0000031c0e9f9010000393c251cb000000f855affff"
            + "ff393c2518b000007421393c252cb100000f8521faffff8b0c25a0b00000390c2564c000000f8517faffff833c2568c0"
            + "0000000f8509faffff833c2504c00000000f85fbf9ffff833c256cc00000000f85edf9ffff833c2500c00000080f83df"
            + "f9ffff83fa010f8cd6f9ffff81faaaaaaa0a0f8fcaf9ffff48b900f0ffffff7f00004839ce0f83b7f9ffff4829f14863"
            + "c2486bc00c4839c80f8739fbffff8b0c2530b10000230c2574c000000f8425fbffff890e488b042558c0000048894604"
            + "8b042500c00000c1e004c78080c00000e80000008b342564c0000089b084c00000898888c0000089b88cc00000ff0425"
            + "00c00000c7042560c0000003000000c7042550c0000001000000b801000000e9d900000041f7c2fff7f7ff0f8517f9ff"
            + "ff393c2508b000000f850af9ffff8b0425a0b0000085c00f889b00000039042564c000000f848e000000833c2500c000"
            + "00080f837ffaffff4885f6742d8b0a85c90f8870faffff3b0c25a4b0000076078b0c25a4b000004889f7bea8b00000f3"
            + "a48b0c25a4b00000890a31f6813c2530c0000020010000410f44f28b0c2500c00000c1e104c78180c00000200100008b"
            + "3c2528c0000089b984c0000089b188c0000089818cc00000ff042500c0000089042564c00000eb15833c2528b1000000"
            + "0f84f1f9ffff48c7c0f5ffffff488b342520c00000488b3c2528c00000488b0c2518c000004889242510c00000bc80c0"
            + "000041539d488b242510c00000ffe1";

    /** The fast entry's machine code, to be placed at {@link #FAST_SYSCALL_ENTRY}. */
    public static byte[] fastSyscallEntry() {
        return java.util.HexFormat.of().parseHex(FAST_SYSCALL_ENTRY_CODE);
    }

    /**
     * Where a request VM's first entry after a reset starts, on hosts where the fast entry is used
     * (nested PVM): {@code xrstor} of the template's FPU image at {@link GuestLayout#FPU_IMAGE},
     * then RAX, RDX and RIP from {@link GuestCallPages#RESUME_RAX}, {@link GuestCallPages#RESUME_RDX}
     * and {@link GuestCallPages#RESUME_RIP}. In the syscall entry's page, after the fast entry.
     */
    public static final long FPU_RESTORE_ENTRY = GuestLayout.SYSCALL_ENTRY + 0xf00;

    /** The end of {@code fpu_restore_entry}: a vCPU stopped in between has not reached the program yet. */
    public static final long FPU_RESTORE_END = FPU_RESTORE_ENTRY + 0x2a;

    /** The assembled {@code fpu_restore_entry} (trap-stub.S; TrapStubTest compares). */
    private static final String FPU_RESTORE_CODE =
            "b8ffffffffbaffffffff480fae2c2500d00000488b042548b10000488b142550b10000ff242540b10000";

    /** The FPU restore's machine code, to be placed at {@link #FPU_RESTORE_ENTRY}. */
    public static byte[] fpuRestoreEntry() {
        return java.util.HexFormat.of().parseHex(FPU_RESTORE_CODE);
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
