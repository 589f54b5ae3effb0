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
    public static final long FAST_SLOW_PATH = FAST_SYSCALL_ENTRY + 0xea;

    /** RIP after the fast entry's doorbell write. */
    public static final long FAST_DOORBELL_RIP = FAST_SLOW_PATH + DOORBELL_WRITE_LENGTH;

    /**
     * The end of the fast entry. A #PF or #GP between {@link #FAST_SYSCALL_ENTRY} and here is the
     * entry touching the program's memory through a pointer the program passed: the host answers
     * that call itself ({@code EFAULT}), once RAX, RCX, RSI and RDI are back from the save area
     * ({@link GuestCallPages#SAVED_RCX}) and the entry resumes at {@link #FAST_SLOW_PATH}.
     */
    public static final long FAST_SYSCALL_END = FAST_SYSCALL_ENTRY + 0xa9a;

    /** The assembled {@code fast_syscall_entry} (trap-stub.S; TrapStubTest compares). */
    private static final String FAST_SYSCALL_ENTRY_CODE = ""
            + "41f7c3000100000f85dd00000048890c2518c000004889342520c0000048893c2528c000004889042530c000004883f8"
            + "0b0f84560800004883f8190f84f3080000833c2508c00000000f859b00000085ff0f88930000004885c00f844c020000"
            + "4883f82d0f842c0200004883f8010f84a80000004883f82c0f84900000004883f8140f84f20000004883f8330f843f04"
            + "00004883f8360f84ab0200004883f8100f8467030000483de90000000f846e040000483de80000000f8441050000483d"
            + "190100000f842c050000483d200100000f84f00600004883f82b0f84f30600004883f8300f84940300008c0c2500a000"
            + "00480f07488b0c2518c00000488b342520c00000488b3c2528c00000ebdc4d85c075d749f7c2ffbfffff75ce393c2564"
            + "c0000075c5f7042504b000000200000074b8833c256cc000000075ae833c2500c000000873a44885d2749f8b0c250cb0"
            + "00002b0c2504c0000072994839ca77948b3c2504c000004881c700c100004889d1f3a489d0e9c6000000393c2564c000"
            + "000f8563fffffff7042504b00000020000000f8452ffffff833c256cc00000000f8544ffffff833c2500c00000080f83"
            + "36ffffff4883fa010f822cffffff4883fa080f8722ffffff8b0c250cb000002b0c2504c000000f8218ffffff48890c25"
            + "48c0000089142540c000004889342538c000008b3c2504c000004881c700c1000031c0488b342538c00000488b4e0848"
            + "8b364883042538c0000010483b0c2548c00000776448290c2548c000004801c8f3a4ff0c2540c0000075c84885c07449"
            + "8b0c2500c00000c1e104c78180c00000010000008b3c2528c0000089b984c000008b3c2504c0000089b988c000008981"
            + "8cc0000001c7893c2504c00000ff042500c00000e9df070000488b042530c00000e95efeffff4d85c00f854bfeffff49"
            + "f7c2bfffffff0f853efeffff393c2564c000000f8531feffff4885d20f8428feffff833c2500c00000080f831afeffff"
            + "8b0c2514b000002b0c2568c000000f8610feffff4839ca730289d189c84889f78b342568c000004881c600b20000f3a4"
            + "01042568c000008b0c2500c00000c1e1048b3c2530c0000089b980c000008b3c2528c0000089b984c00000898188c000"
            + "00c7818cc0000000000000ff042500c00000e921070000393c2564c000000f8596fdfffff7042504b00000040000000f"
            + "8485fdffff4183f8040f857bfdffff833c2500c00000080f836dfdffff418b0a83fe01744383fe060f8566fdffff83fa"
            + "01743e83f9010f8c58fdffff83fa06741c83fa04740983fa050f8545fdffff81f9ff7f00000f8f39fdffffeb1483f97f"
            + "0f8f2efdffffeb0983fa090f8523fdffff8b3c2500c00000c1e704898780c000008b042528c00000898784c00000898f"
            + "88c00000c1e60809d689b78cc00000ff042500c0000031c0e95b060000393c2564c000000f85d0fcfffff7042504b000"
            + "00010000000f84bffcffff81fe215400000f85b3fcffff4889d6833c2500c00000080f83acfcffff8b368b0c2500c000"
            + "00c1e104898180c0000089b984c0000089b188c00000c7818cc0000000000000ff042500c0000031c0e9ea050000393c"
            + "2564c000000f855ffcfffff7042504b00000200000000f844efcffff83fe010f8545fcffff833c256cc00000000f8537"
            + "fcffff833c2500c00000080f8329fcffffc704256cc0000001000000e979ffffff393c2564c000000f850cfcffff833c"
            + "2510b00000000f84fefbffff8b0a85c90f88fefbffff3b0c2510b0000076078b0c2510b000004889f7be20b00000f3a4"
            + "8b0c2510b00000890a31c0e948050000393c251cb000000f85bdfbffff85d20f88b5fbffff39142564c000000f85a8fb"
            + "ffff833c2500c00000080f839afbffff833c2560c00000000f858cfbffff83fe02744983fe010f857efbfffff7042504"
            + "b00000100000000f846dfbffff418b0af7c120d8ff3f0f8568fbffff498b7a0448893c2558c00000890c2574c00000c7"
            + "042550c0000001000000eb13f7042504b00000080000000f842dfbffff31c989342560c000008b3c2500c00000c1e704"
            + "898780c00000899784c00000898f88c0000089b78cc00000ff042500c0000031c0e9720400004d85c00f85ebfaffff83"
            + "3c2560c00000010f8499000000393c2518b00000740d393c252cb100000f85c7faffff4585d20f85befaffff83fa010f"
            + "8cb5faffff83fa400f8facfaffff48b900edffffff7f00004839ce0f83a3faffff833c2550c00000000f8595faffff83"
            + "3c256cc00000000f8587faffff393c2518b0000074148b0c25a0b00000390c2564c000000f856afaffff833c2570c000"
            + "00020f835cfaffffff042570c0000031c0e9c2030000393c251cb000000f855affffff393c2518b000007421393c252c"
            + "b100000f8521faffff8b0c25a0b00000390c2564c000000f8517faffff833c2568c00000000f8509faffff833c2504c0"
            + "0000000f85fbf9ffff833c256cc00000000f85edf9ffff833c2500c00000080f83dff9ffff83fa010f8cd6f9ffff81fa"
            + "aaaaaa0a0f8fcaf9ffff48b900f0ffffff7f00004839ce0f83b7f9ffff4829f14863c2486bc00c4839c80f8739fbffff"
            + "8b0c2530b10000230c2574c000000f8425fbffff890e488b042558c00000488946048b042500c00000c1e004c78080c0"
            + "0000e80000008b342564c0000089b084c00000898888c0000089b88cc00000ff042500c00000c7042560c00000030000"
            + "00c7042550c0000001000000b801000000e9a202000041f7c2fff7f7ff0f8517f9ffff393c2508b000000f850af9ffff"
            + "8b0425a0b0000085c00f886402000039042564c000000f8457020000833c2500c00000080f837ffaffff4885f6742d8b"
            + "0a85c90f8870faffff3b0c25a4b0000076078b0c25a4b000004889f7bea8b00000f3a48b0c25a4b00000890a31f6813c"
            + "2530c0000020010000410f44f28b0c2500c00000c1e104c78180c00000200100008b3c2528c0000089b984c0000089b1"
            + "88c0000089818cc00000ff042500c0000089042564c00000e9db010000833c2534b10000000f844ff8ffff833c2500c0"
            + "0000080f8341f8fffff7c7ff0f00000f8535f8ffff4881c6ff0f00000f8232f8ffff48c1ee0c0f8428f8ffff48b9ffff"
            + "ffff070000004829f10f8215f8ffff48c1e10c4839cf0f8708f8ffffb80b0000004889f148c1e9200f858bf9ffff8b0c"
            + "2500c00000c1e104898180c0000089b184c000004889b988c00000ff042500c00000c7042508c000000100000031c0e9"
            + "34010000833c2534b10000000f84a8f7ffff833c2508c00000000f859af7ffff833c2500c00000080f838cf7ffff49f7"
            + "c2feffffff0f857ff7fffff7c7ff0f00000f8573f7ffff4885d20f846af7ffff48b900f0ffffff7f00004839ca0f8361"
            + "f7ffff4839ce0f8358f7ffff4881c6ff0f00004881e600f0ffff0f8444f7ffff4889d14881c1ff0f00004881e100f0ff"
            + "ff4839f10f872af7ffff483b3c2558b100000f821cf7ffff483b3c2560b100000f830ef7ffff48b800f0ffffff7f0000"
            + "4829f04839c70f878df8ffff4829ce74484801cf48c1ee0cb8190000004889f148c1e9200f856ff8ffff8b0c2500c000"
            + "00c1e104898180c0000089b184c000004889b988c00000ff042500c00000c7042508c0000001000000488b042528c000"
            + "00eb15833c2528b10000000f8428f8ffff48c7c0f5ffffff488b342520c00000488b3c2528c00000488b0c2518c00000"
            + "4889242510c00000bc80c0000041539d488b242510c00000ffe1";

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
