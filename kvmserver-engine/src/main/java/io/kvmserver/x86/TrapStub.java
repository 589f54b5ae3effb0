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
    public static final long FAST_SLOW_PATH = FAST_SYSCALL_ENTRY + 0x125;

    /** RIP after the fast entry's doorbell write. */
    public static final long FAST_DOORBELL_RIP = FAST_SLOW_PATH + DOORBELL_WRITE_LENGTH;

    /**
     * The end of the fast entry. A #PF or #GP between {@link #FAST_SYSCALL_ENTRY} and here is the
     * entry touching the program's memory through a pointer the program passed: the host answers
     * that call itself ({@code EFAULT}), once RAX, RCX, RSI and RDI are back from the save area
     * ({@link GuestCallPages#SAVED_RCX}) and the entry resumes at {@link #FAST_SLOW_PATH}.
     */
    public static final long FAST_SYSCALL_END = FAST_SYSCALL_ENTRY + 0x1200;

    /**
     * Where a rewritten call site's trampoline jumps instead of executing {@code syscall} (nested
     * PVM only, where the entry runs at CPL 3): it sets R11 from RFLAGS and clears the flags FMASK
     * clears, as the instruction would, and goes on as {@link #FAST_SYSCALL_ENTRY}. Inside the fast
     * entry's range, so that a vCPU stopped there is halfway through a call.
     */
    public static final long REWRITTEN_ENTRY = FAST_SYSCALL_ENTRY + 0x11d8;

    /** The assembled {@code fast_syscall_entry} (trap-stub.S; TrapStubTest compares). */
    private static final String FAST_SYSCALL_ENTRY_CODE = ""
            + "41f7c3000100000f851801000048890c2518c000004889342520c0000048893c2528c000004889042530c000004883f8"
            + "0b0f84b20d00004883f8190f847d0e00004883f8090f84fe0f0000483dba0000000f84ec08000085ff0f88c600000048"
            + "833c2588c10000000f85040400004885c00f84580400004883f82d0f84380400004883f8010f84bb0100004883f82c0f"
            + "849b0100004883f8140f84790200004883f8330f84360700004883f8340f84820700004883f8360f84dc0400004883f8"
            + "100f84980500004883f8480f8462060000483de90000000f8479080000483de80000000f849d090000483d190100000f"
            + "8488090000483d200100000f840e0c00004883f82b0f84110c00004883f8300f84c60500004883f80d74364883f80e0f"
            + "84690700008c0c2500a00000480f07488b042530c00000488b0c2518c00000488b342520c00000488b3c2528c00000eb"
            + "d44983fa0875ce8d4fff83f93f77d8480fa30c25b8c1000072cd4885d274094881fa0000010072bf4885f6742b83ff09"
            + "74b583ff1374b04881fe0000010072a7833c2500c000001073958b042504c000003d800d000077874885d2741e89fec1"
            + "e60581c6e0df00004889d7b904000000f348a5488b342520c000004885f67452488db860c20000b904000000f348a58b"
            + "0c2500c00000c1e104c78180c000000d0000008b3c2528c0000089b984c00000898188c0000083042504c0000020ff04"
            + "2500c00000ffcf480fab3c25b8c10000eb07ff0425acc1000031c0e9420f00004d85c00f85ecfeffff49f7c2ffbfffff"
            + "0f85dffeffff393c2564c000000f8598000000f7042504b00000020000000f84c1feffff833c256cc00000000f85b3fe"
            + "ffff8b0c250cb00000833c2500c00000100f83b0feffff4885d20f84a7feffff4881fe000001000f829afeffff2b0c25"
            + "04c000000f828dfeffff4839ca0f8784feffff4889d1483b342588c1000073144801f1483b0c2580c100000f8766feff"
            + "ff4829f18b3c2504c000004881c760c20000f3a489d0e93e0100004883f8010f8530feffff83ff1f0f8727feffff0fa3"
            + "3c2588b100000f8319feffff8b0c258cb10000e961ffffff393c2564c000000f8500fefffff7042504b0000002000000"
            + "0f84effdffff833c256cc00000000f85e1fdffff833c2500c00000100f83d3fdffff4883fa010f82c9fdffff4883fa08"
            + "0f87bffdffff4889d148c1e104483b342588c1000073144801f1483b0c2580c100000f87affdffff4829f18b0c250cb0"
            + "00002b0c2504c000000f8298fdffff48890c2548c0000089142540c000004889342538c000008b3c2504c000004881c7"
            + "60c2000031c0488b342538c00000488b4e08488b364883042538c0000010483b0c2548c000000f8743fdffff483b3425"
            + "88c1000073144801f1483b0c2580c100000f8728fdffff4829f148290c2548c000004801c8f3a4ff0c2540c0000075a6"
            + "4885c00f8406fdffff8b0c2500c00000c1e104c78180c00000010000008b3c2528c0000089b984c000008b3c2504c000"
            + "0089b988c0000089818cc0000001c7893c2504c00000ff042500c00000e9000d00004883f8010f84cafdffff4883f82c"
            + "0f84aafdffff4883f8140f8488feffff483de80000000f84ea050000483d190100000f84d5050000483de90000000f84"
            + "a2040000e96cfcffff4d85c00f8563fcffff49f7c2bfffffff0f8556fcffff393c2564c000000f8549fcffff4885d20f"
            + "8440fcffff48b900f0ffffff7f00004829d10f823ffcffff4839ce0f8736fcffff833c2500c00000100f8328fcffff8b"
            + "0c2514b000002b0c2568c000000f8214fcffff7511f7042504b00000000200000f8401fcffff4839ca730289d189c848"
            + "89f78b342568c000004881c600b20000f3a401042568c000008b0c2500c00000c1e1048b3c2530c0000089b980c00000"
            + "8b3c2528c0000089b984c00000898188c00000c7818cc0000000000000ff042500c00000e9d90b0000393c2564c00000"
            + "0f857ffbfffff7042504b00000040000000f846efbffff4183f8040f8564fbffff833c2500c00000100f8356fbffff41"
            + "8b0a83fe01744383fe060f8557fbffff83fa01743e83f9010f8c49fbffff83fa06741c83fa04740983fa050f8536fbff"
            + "ff81f9ff7f00000f8f2afbffffeb1483f97f0f8f1ffbffffeb0983fa090f8514fbffff8b3c2500c00000c1e704898780"
            + "c000008b042528c00000898784c00000898f88c00000c1e60809d689b78cc00000ff042500c0000031c0e9130b000039"
            + "3c2564c000000f85b9fafffff7042504b00000010000000f84a8faffff81fe215400000f859cfaffffc70425d4c10000"
            + "010000004889d6833c2500c00000100f8392faffff8b368b0c2500c00000c1e104898180c0000089b984c0000089b188"
            + "c00000c7818cc0000000000000ff042500c0000031c0e9970a0000393c2564c000000f853dfafffff7042504b0000020"
            + "0000000f842cfaffff83fe01740983fe020f851efaffff833c256cc00000000f8510faffff833c2500c00000100f8302"
            + "faffffc704256cc0000001000000e974ffffff393c2564c000000f85e5f9fffff7042504b00000010000000f84d4f9ff"
            + "ff833c2500c00000100f83c6f9ffff83fe03742483fe040f85b8f9fffff7c2fcf7ffff0f85acf9ffffc70425d4c10000"
            + "0100000089d1eb10833c25d4c10000000f858ff9ffff31c98b3c2500c00000c1e704898780c000008b042528c0000089"
            + "8784c00000898f88c0000089b78cc00000ff042500c0000031c083fe030f859f0900008b042590b10000e99309000039"
            + "3c2564c000000f8539f9ffff833c2510b00000000f842bf9ffff8b0a85c90f8833f9ffff3b0c2510b0000076078b0c25"
            + "10b000004889f7be20b00000f3a48b0c2510b00000890aff042598c1000031c0e93d090000393c2564c000000f85e3f8"
            + "fffff7042504b00000800000000f84d2f8ffff8b0a85c90f88daf8ffff3b0c25a4b0000076078b0c25a4b000004889f7"
            + "bea8b00000f3a48b0c25a4b00000890aff0425a8c1000031c0e9e40800004983fa080f858df8ffff4885d2740d4881fa"
            + "000001000f827bf8ffff488b0c2500e80000833c25c8c10000007408488b0c25c0c100004885f674644881fe00000100"
            + "0f8261f8ffff83ff020f8758f8ffff488b0685ff75054809c8eb0b83ff02740648f7d04821c84825fffefbff4889c648"
            + "f7d64885342508e800000f851ff8ffff4885d2740348890a48890425c0c10000c70425c8c1000001000000eb084885d2"
            + "740348890aff0425b0c1000031c0e92f0800008b042510e80000ff0425b4c10000e91c080000393c251cb000000f85c2"
            + "f7ffff85d20f88baf7ffff39142564c000000f85adf7ffff833c2500c00000100f839ff7ffff833c2560c00000000f85"
            + "bb00000083fe02746c83fe010f8583f7fffff7042504b00000100000000f8472f7ffffb90c0000004c3b142588c10000"
            + "73144c01d1483b0c2580c100000f8764f7ffff4c29d1418b0af7c120d8ff3f0f8552f7ffff498b7a0448893c2558c000"
            + "00890c2574c00000c7042550c0000001000000eb13f7042504b00000080000000f840ff7ffff31c989342560c000008b"
            + "3c2500c00000c1e704898780c00000899784c00000898f88c0000089b78cc00000ff042500c0000031c0e92307000083"
            + "fe020f85cdf6ffff833c2560c0000001740e833c2560c00000030f85b5f6ffffc7042550c0000000000000eb994d85c0"
            + "0f859ff6ffff833c2560c00000010f8438010000393c2518b00000740d393c252cb100000f857bf6ffff4585d20f8572"
            + "f6ffff83fa010f8c69f6ffff83fa400f8f60f6ffff48b900edffffff7f00004839ce0f835ff6ffff833c256cc0000000"
            + "0f8551f6ffff833c2550c00000007575393c2518b0000074168b0c25a0b00000390c2564c000000f852af6ffffeb21f7"
            + "042504b000004000000074148b0c2514b00000390c2568c000000f8507f6ffff833c2570c00000040f83f9f5ffffff04"
            + "2570c00000b990c10000813c2530c00000e80000007405b994c10000ff0131c0e90d060000833c2560c00000030f85c4"
            + "f5ffff393c252cb100000f85b7f5ffff8b0c25a0b00000390c2564c000000f85a3f5ffff833c2574c00000010f8595f5"
            + "fffff7042504b00000000100000f8484f5ffff8b0c2514b00000390c2568c000000f8570f5ffffe964ffffff393c251c"
            + "b000000f85bbfeffff393c2518b000007421393c252cb100000f8536f5ffff8b0c25a0b00000390c2564c000000f8534"
            + "f5ffff833c2568c00000000f8526f5ffff833c2504c00000000f8518f5ffff833c256cc00000000f850af5ffff833c25"
            + "00c00000100f83fcf4ffff83fa010f8cf3f4ffff81faaaaaaa0a0f8fe7f4ffff48b900f0ffffff7f00004839ce0f83d4"
            + "f4ffff4829f14863c2486bc00c4839c80f87b9f4ffffb90c000000483b342588c1000073144801f1483b0c2580c10000"
            + "0f8799f4ffff4829f18b0c2530b10000230c2574c000000f8482f4ffff890e488b042558c00000488946048b042500c0"
            + "0000c1e004c78080c00000e80000008b342564c0000089b084c00000898888c0000089b88cc00000ff042500c00000c7"
            + "042560c0000003000000c7042550c0000001000000b801000000e96304000041f7c2fff7f7ff0f8509f4ffff393c2508"
            + "b000000f85fcf3ffff8b0425a0b0000085c00f880c04000039042564c000000f84ff030000833c2500c00000100f83dc"
            + "f3ffff4885f6742d8b0a85c90f88cdf3ffff3b0c25a4b0000076078b0c25a4b000004889f7bea8b00000f3a48b0c25a4"
            + "b00000890a31f6813c2530c0000020010000410f44f2f7c600080000740bc70425d4c10000010000008b0c2500c00000"
            + "c1e104c78180c00000200100008b3c2528c0000089b984c0000089b188c0000089818cc00000ff042500c00000890425"
            + "64c00000e989030000833c2534b10000000f842ef3ffff833c2500c00000100f8320f3fffff7c7ff0f00000f8514f3ff"
            + "ff4881c6ff0f00000f8219f3ffff48c1ee0c0f840ff3ffff48b9ffffffff070000004829f10f82fcf2ffff48c1e10c48"
            + "39cf0f87eff2ffffb80b0000004889f148c1e9200f85d5f2ffff8b0c2500c00000c1e104898180c0000089b184c00000"
            + "4889b988c00000ff042500c0000048833c2588c1000000740a483b3c2580c10000730848893c2580c100004889f048c1"
            + "e00c4801f8483b042588c1000076084889042588c1000031c0e9b4020000833c2534b10000000f8459f2ffff48833c25"
            + "88c10000000f854af2ffff833c2500c00000100f833cf2ffff49f7c2feffffff0f852ff2fffff7c7ff0f00000f8523f2"
            + "ffff4885d20f841af2ffff48b900f0ffffff7f00004839ca0f8319f2ffff4839ce0f8310f2ffff4881c6ff0f00004881"
            + "e600f0ffff0f84fcf1ffff4889d14881c1ff0f00004881e100f0ffff4839f10f87e2f1ffff488b042508c000004885c0"
            + "742448f7d84803042570b100004839c70f82b9f1ffff483b3c2580b100000f83abf1ffffeb1c483b3c2558b100000f82"
            + "9bf1ffff483b3c2560b100000f838df1ffff48b800f0ffffff7f00004829f04839c70f8777f1ffff4829ce7509ff0425"
            + "a4c10000eb764801cf48c1ee0cb8190000004889f148c1e9200f8550f1ffff8b0c2500c00000c1e104898180c0000089"
            + "b184c000004889b988c00000ff042500c0000048833c2588c1000000740a483b3c2580c10000730848893c2580c10000"
            + "4889f048c1e00c4801f8483b042588c1000076084889042588c10000488b042528c00000e9290100004885ff0f85d3f0"
            + "ffff4883fa030f85c9f0ffff4983fa220f85bff0ffff4d85c90f85b6f0ffff48833c2570b10000000f84a7f0ffff4883"
            + "3c2588c10000000f8598f0ffff833c2500c00000100f838af0ffff48b900f0ffffff7f00004839ce0f8389f0ffff4881"
            + "c6ff0f00004881e600f0ffff0f8475f0ffff483b342578b100000f8667f0ffff488b042570b10000482b042568b10000"
            + "488b0c2508c000004839c10f873ef0ffff4829c84839c60f8732f0ffff4801f1488b3c2570b100004829cf48c1ee0c8b"
            + "042500c00000c1e004c78080c000000900000089b084c000004889b888c0000048890c2508c00000ff042500c0000048"
            + "89f8eb2e833c2528b10000000f84ddefffffb9a0c10000813c2530c00000200100007405b99cc10000ff0148c7c0f5ff"
            + "ffff8b3425d0c1000083fe087328c1e604488b3c2518c000004889bee0c10000488b3c2530c000004889bee8c10000ff"
            + "0425d0c10000488b342520c00000488b3c2528c00000488b0c2518c000004889242510c00000bc80c0000041539d488b"
            + "242510c00000ffe14889242510c00000bc80c000009c4c8b1c2448812424ffbafbff9d488b242510c00000e900eeffff";

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

    /**
     * The restore's {@code ud2}, right after its final jump: a vCPU stopped before it has not
     * reached the program yet. {@link GuestCallPages#RESUME_RIP} points here while no restore is
     * due: a program that runs the restore itself then dies (SIGSEGV, as Linux would kill it for
     * executing below {@code mmap_min_addr}) instead of jumping where an old reset resumed.
     */
    public static final long FPU_RESTORE_REFUSED = FPU_RESTORE_ENTRY + 0x2a;

    /** The end of {@code fpu_restore_entry}'s bytes. */
    public static final long FPU_RESTORE_END = FPU_RESTORE_REFUSED + 2;

    /** The assembled {@code fpu_restore_entry} (trap-stub.S; TrapStubTest compares). */
    private static final String FPU_RESTORE_CODE =
            "b8ffffffffbaffffffff480fae2c2500d00000488b042548b10000488b142550b10000ff242540b100000f0b";

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
