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
    public static final long FAST_SLOW_PATH = FAST_SYSCALL_ENTRY + 0x11b;

    /** RIP after the fast entry's doorbell write. */
    public static final long FAST_DOORBELL_RIP = FAST_SLOW_PATH + DOORBELL_WRITE_LENGTH;

    /**
     * The end of the fast entry. A #PF or #GP between {@link #FAST_SYSCALL_ENTRY} and here is the
     * entry touching the program's memory through a pointer the program passed: the host answers
     * that call itself ({@code EFAULT}), once RAX, RCX, RSI and RDI are back from the save area
     * ({@link GuestCallPages#SAVED_RCX}) and the entry resumes at {@link #FAST_SLOW_PATH}.
     */
    public static final long FAST_SYSCALL_END = FAST_SYSCALL_ENTRY + 0x1127;

    /**
     * Where a rewritten call site's trampoline jumps instead of executing {@code syscall} (nested
     * PVM only, where the entry runs at CPL 3): it sets R11 from RFLAGS and clears the flags FMASK
     * clears, as the instruction would, and goes on as {@link #FAST_SYSCALL_ENTRY}. Inside the fast
     * entry's range, so that a vCPU stopped there is halfway through a call.
     */
    public static final long REWRITTEN_ENTRY = FAST_SYSCALL_ENTRY + 0x10ff;

    /** The assembled {@code fast_syscall_entry} (trap-stub.S; TrapStubTest compares). */
    private static final String FAST_SYSCALL_ENTRY_CODE = ""
            + "41f7c3000100000f850e01000048890c2518c000004889342520c0000048893c2528c000004889042530c000004883f8"
            + "0b0f84d90c00004883f8190f84a40d00004883f8090f84250f0000483dba0000000f842608000085ff0f88bc00000048"
            + "833c2588c10000000f85fa0300004885c00f844e0400004883f82d0f842e0400004883f8010f84b10100004883f82c0f"
            + "84910100004883f8140f846f0200004883f8330f84700600004883f8340f84bc0600004883f8360f84d20400004883f8"
            + "100f848e050000483de90000000f84bd070000483de80000000f84e1080000483d190100000f84cc080000483d200100"
            + "000f84520b00004883f82b0f84550b00004883f8300f84bb0500004883f80d74364883f80e0f84ad0600008c0c2500a0"
            + "0000480f07488b042530c00000488b0c2518c00000488b342520c00000488b3c2528c00000ebd44983fa0875ce8d4fff"
            + "83f93f77d8480fa30c25b8c1000072cd4885d274094881fa0000010072bf4885f6742b83ff0974b583ff1374b04881fe"
            + "0000010072a7833c2500c000001073958b042504c000003d800d000077874885d2741e89fec1e60581c6e0df00004889"
            + "d7b904000000f348a5488b342520c000004885f67452488db860c20000b904000000f348a58b0c2500c00000c1e104c7"
            + "8180c000000d0000008b3c2528c0000089b984c00000898188c0000083042504c0000020ff042500c00000ffcf480fab"
            + "3c25b8c10000eb07ff0425acc1000031c0e9730e00004d85c00f85ecfeffff49f7c2ffbfffff0f85dffeffff393c2564"
            + "c000000f8598000000f7042504b00000020000000f84c1feffff833c256cc00000000f85b3feffff8b0c250cb0000083"
            + "3c2500c00000100f83b0feffff4885d20f84a7feffff4881fe000001000f829afeffff2b0c2504c000000f828dfeffff"
            + "4839ca0f8784feffff4889d1483b342588c1000073144801f1483b0c2580c100000f8766feffff4829f18b3c2504c000"
            + "004881c760c20000f3a489d0e93e0100004883f8010f8530feffff83ff1f0f8727feffff0fa33c2588b100000f8319fe"
            + "ffff8b0c258cb10000e961ffffff393c2564c000000f8500fefffff7042504b00000020000000f84effdffff833c256c"
            + "c00000000f85e1fdffff833c2500c00000100f83d3fdffff4883fa010f82c9fdffff4883fa080f87bffdffff4889d148"
            + "c1e104483b342588c1000073144801f1483b0c2580c100000f87affdffff4829f18b0c250cb000002b0c2504c000000f"
            + "8298fdffff48890c2548c0000089142540c000004889342538c000008b3c2504c000004881c760c2000031c0488b3425"
            + "38c00000488b4e08488b364883042538c0000010483b0c2548c000000f8743fdffff483b342588c1000073144801f148"
            + "3b0c2580c100000f8728fdffff4829f148290c2548c000004801c8f3a4ff0c2540c0000075a64885c00f8406fdffff8b"
            + "0c2500c00000c1e104c78180c00000010000008b3c2528c0000089b984c000008b3c2504c0000089b988c0000089818c"
            + "c0000001c7893c2504c00000ff042500c00000e9310c00004883f8010f84cafdffff4883f82c0f84aafdffff4883f814"
            + "0f8488feffff483de80000000f842e050000483d190100000f8419050000483de90000000f84e6030000e96cfcffff4d"
            + "85c00f8563fcffff49f7c2bfffffff0f8556fcffff393c2564c000000f8549fcffff4885d20f8440fcffff48b900f0ff"
            + "ffff7f00004829d10f823ffcffff4839ce0f8736fcffff833c2500c00000100f8316fcffff8b0c2514b000002b0c2568"
            + "c000000f8214fcffff7511f7042504b00000000200000f8401fcffff4839ca730289d189c84889f78b342568c0000048"
            + "81c600b20000f3a401042568c000008b0c2500c00000c1e1048b3c2530c0000089b980c000008b3c2528c0000089b984"
            + "c00000898188c00000c7818cc0000000000000ff042500c00000e90a0b0000393c2564c000000f857ffbfffff7042504"
            + "b00000040000000f846efbffff4183f8040f8564fbffff833c2500c00000100f8356fbffff418b0a83fe01744383fe06"
            + "0f8557fbffff83fa01743e83f9010f8c49fbffff83fa06741c83fa04740983fa050f8536fbffff81f9ff7f00000f8f2a"
            + "fbffffeb1483f97f0f8f1ffbffffeb0983fa090f8514fbffff8b3c2500c00000c1e704898780c000008b042528c00000"
            + "898784c00000898f88c00000c1e60809d689b78cc00000ff042500c0000031c0e9440a0000393c2564c000000f85b9fa"
            + "fffff7042504b00000010000000f84a8faffff81fe215400000f859cfaffff4889d6833c2500c00000100f839dfaffff"
            + "8b368b0c2500c00000c1e104898180c0000089b984c0000089b188c00000c7818cc0000000000000ff042500c0000031"
            + "c0e9d3090000393c2564c000000f8548fafffff7042504b00000200000000f8437faffff83fe010f852efaffff833c25"
            + "6cc00000000f8520faffff833c2500c00000100f8312faffffc704256cc0000001000000e979ffffff393c2564c00000"
            + "0f85f5f9ffff833c2510b00000000f84e7f9ffff8b0a85c90f88eff9ffff3b0c2510b0000076078b0c2510b000004889"
            + "f7be20b00000f3a48b0c2510b00000890aff042598c1000031c0e92a090000393c2564c000000f859ff9fffff7042504"
            + "b00000800000000f848ef9ffff8b0a85c90f8896f9ffff3b0c25a4b0000076078b0c25a4b000004889f7bea8b00000f3"
            + "a48b0c25a4b00000890aff0425a8c1000031c0e9d10800004983fa080f8549f9ffff4885d2740d4881fa000001000f82"
            + "37f9ffff488b0c2500e80000833c25c8c10000007408488b0c25c0c100004885f674644881fe000001000f821df9ffff"
            + "83ff020f8714f9ffff488b0685ff75054809c8eb0b83ff02740648f7d04821c84825fffefbff4889c648f7d648853425"
            + "08e800000f85dbf8ffff4885d2740348890a48890425c0c10000c70425c8c1000001000000eb084885d2740348890aff"
            + "0425b0c1000031c0e91c0800008b042510e80000ff0425b4c10000e909080000393c251cb000000f857ef8ffff85d20f"
            + "8876f8ffff39142564c000000f8569f8ffff833c2500c00000100f835bf8ffff833c2560c00000000f85bb00000083fe"
            + "02746c83fe010f853ff8fffff7042504b00000100000000f842ef8ffffb90c0000004c3b142588c1000073144c01d148"
            + "3b0c2580c100000f8720f8ffff4c29d1418b0af7c120d8ff3f0f850ef8ffff498b7a0448893c2558c00000890c2574c0"
            + "0000c7042550c0000001000000eb13f7042504b00000080000000f84cbf7ffff31c989342560c000008b3c2500c00000"
            + "c1e704898780c00000899784c00000898f88c0000089b78cc00000ff042500c0000031c0e91007000083fe020f8589f7"
            + "ffff833c2560c0000001740e833c2560c00000030f8571f7ffffc7042550c0000000000000eb994d85c00f855bf7ffff"
            + "833c2560c00000010f8438010000393c2518b00000740d393c252cb100000f8537f7ffff4585d20f852ef7ffff83fa01"
            + "0f8c25f7ffff83fa400f8f1cf7ffff48b900edffffff7f00004839ce0f831bf7ffff833c256cc00000000f850df7ffff"
            + "833c2550c00000007575393c2518b0000074168b0c25a0b00000390c2564c000000f85e6f6ffffeb21f7042504b00000"
            + "4000000074148b0c2514b00000390c2568c000000f85c3f6ffff833c2570c00000040f83b5f6ffffff042570c00000b9"
            + "90c10000813c2530c00000e80000007405b994c10000ff0131c0e9fa050000833c2560c00000030f8580f6ffff393c25"
            + "2cb100000f8573f6ffff8b0c25a0b00000390c2564c000000f855ff6ffff833c2574c00000010f8551f6fffff7042504"
            + "b00000000100000f8440f6ffff8b0c2514b00000390c2568c000000f852cf6ffffe964ffffff393c251cb000000f85bb"
            + "feffff393c2518b000007421393c252cb100000f85f2f5ffff8b0c25a0b00000390c2564c000000f85f0f5ffff833c25"
            + "68c00000000f85e2f5ffff833c2504c00000000f85d4f5ffff833c256cc00000000f85c6f5ffff833c2500c00000100f"
            + "83b8f5ffff83fa010f8caff5ffff81faaaaaaa0a0f8fa3f5ffff48b900f0ffffff7f00004839ce0f8390f5ffff4829f1"
            + "4863c2486bc00c4839c80f8775f5ffffb90c000000483b342588c1000073144801f1483b0c2580c100000f8755f5ffff"
            + "4829f18b0c2530b10000230c2574c000000f843ef5ffff890e488b042558c00000488946048b042500c00000c1e004c7"
            + "8080c00000e80000008b342564c0000089b084c00000898888c0000089b88cc00000ff042500c00000c7042560c00000"
            + "03000000c7042550c0000001000000b801000000e95004000041f7c2fff7f7ff0f85c5f4ffff393c2508b000000f85b8"
            + "f4ffff8b0425a0b0000085c00f88f903000039042564c000000f84ec030000833c2500c00000100f8398f4ffff4885f6"
            + "742d8b0a85c90f8889f4ffff3b0c25a4b0000076078b0c25a4b000004889f7bea8b00000f3a48b0c25a4b00000890a31"
            + "f6813c2530c0000020010000410f44f28b0c2500c00000c1e104c78180c00000200100008b3c2528c0000089b984c000"
            + "0089b188c0000089818cc00000ff042500c0000089042564c00000e989030000833c2534b10000000f84fdf3ffff833c"
            + "2500c00000100f83eff3fffff7c7ff0f00000f85e3f3ffff4881c6ff0f00000f82e8f3ffff48c1ee0c0f84def3ffff48"
            + "b9ffffffff070000004829f10f82cbf3ffff48c1e10c4839cf0f87bef3ffffb80b0000004889f148c1e9200f85a4f3ff"
            + "ff8b0c2500c00000c1e104898180c0000089b184c000004889b988c00000ff042500c0000048833c2588c1000000740a"
            + "483b3c2580c10000730848893c2580c100004889f048c1e00c4801f8483b042588c1000076084889042588c1000031c0"
            + "e9b4020000833c2534b10000000f8428f3ffff48833c2588c10000000f8519f3ffff833c2500c00000100f830bf3ffff"
            + "49f7c2feffffff0f85fef2fffff7c7ff0f00000f85f2f2ffff4885d20f84e9f2ffff48b900f0ffffff7f00004839ca0f"
            + "83e8f2ffff4839ce0f83dff2ffff4881c6ff0f00004881e600f0ffff0f84cbf2ffff4889d14881c1ff0f00004881e100"
            + "f0ffff4839f10f87b1f2ffff488b042508c000004885c0742448f7d84803042570b100004839c70f8288f2ffff483b3c"
            + "2580b100000f837af2ffffeb1c483b3c2558b100000f826af2ffff483b3c2560b100000f835cf2ffff48b800f0ffffff"
            + "7f00004829f04839c70f8746f2ffff4829ce7509ff0425a4c10000eb764801cf48c1ee0cb8190000004889f148c1e920"
            + "0f851ff2ffff8b0c2500c00000c1e104898180c0000089b184c000004889b988c00000ff042500c0000048833c2588c1"
            + "000000740a483b3c2580c10000730848893c2580c100004889f048c1e00c4801f8483b042588c1000076084889042588"
            + "c10000488b042528c00000e9290100004885ff0f85a2f1ffff4883fa030f8598f1ffff4983fa220f858ef1ffff4d85c9"
            + "0f8585f1ffff48833c2570b10000000f8476f1ffff48833c2588c10000000f8567f1ffff833c2500c00000100f8359f1"
            + "ffff48b900f0ffffff7f00004839ce0f8358f1ffff4881c6ff0f00004881e600f0ffff0f8444f1ffff483b342578b100"
            + "000f8636f1ffff488b042570b10000482b042568b10000488b0c2508c000004839c10f870df1ffff4829c84839c60f87"
            + "01f1ffff4801f1488b3c2570b100004829cf48c1ee0c8b042500c00000c1e004c78080c000000900000089b084c00000"
            + "4889b888c0000048890c2508c00000ff042500c000004889f8eb2e833c2528b10000000f84acf0ffffb9a0c10000813c"
            + "2530c00000200100007405b99cc10000ff0148c7c0f5ffffff8b3425d0c1000083fe087328c1e604488b3c2518c00000"
            + "4889bee0c10000488b3c2530c000004889bee8c10000ff0425d0c10000488b342520c00000488b3c2528c00000488b0c"
            + "2518c000004889242510c00000bc80c0000041539d488b242510c00000ffe14889242510c00000bc80c000009c4c8b1c"
            + "2448812424ffbafbff9d488b242510c00000e9d9eeffff";

    /** The fast entry's machine code, to be placed at {@link #FAST_SYSCALL_ENTRY}. */
    public static byte[] fastSyscallEntry() {
        return java.util.HexFormat.of().parseHex(FAST_SYSCALL_ENTRY_CODE);
    }

    /**
     * Where a request VM's first entry after a reset starts, on hosts where the fast entry is used
     * (nested PVM): {@code xrstor} of the template's FPU image at {@link GuestLayout#FPU_IMAGE},
     * then RAX, RDX and RIP from {@link GuestCallPages#RESUME_RAX}, {@link GuestCallPages#RESUME_RDX}
     * and {@link GuestCallPages#RESUME_RIP}. In a page of its own ({@link GuestLayout#FPU_RESTORE}).
     */
    public static final long FPU_RESTORE_ENTRY = GuestLayout.FPU_RESTORE;

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
