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
    public static final long FAST_SLOW_PATH = FAST_SYSCALL_ENTRY + 0x105;

    /** RIP after the fast entry's doorbell write. */
    public static final long FAST_DOORBELL_RIP = FAST_SLOW_PATH + DOORBELL_WRITE_LENGTH;

    /**
     * The end of the fast entry. A #PF or #GP between {@link #FAST_SYSCALL_ENTRY} and here is the
     * entry touching the program's memory through a pointer the program passed: the host answers
     * that call itself ({@code EFAULT}), once RAX, RCX, RSI and RDI are back from the save area
     * ({@link GuestCallPages#SAVED_RCX}) and the entry resumes at {@link #FAST_SLOW_PATH}.
     */
    public static final long FAST_SYSCALL_END = FAST_SYSCALL_ENTRY + 0xfb3;

    /** The assembled {@code fast_syscall_entry} (trap-stub.S; TrapStubTest compares). */
    private static final String FAST_SYSCALL_ENTRY_CODE = ""
            + "41f7c3000100000f85f800000048890c2518c000004889342520c0000048893c2528c000004889042530c000004883f8"
            + "0b0f84c10b00004883f8190f848c0c00004883f8090f840d0e000085ff0f88b200000048833c2588c10000000f85b603"
            + "00004885c00f840a0400004883f82d0f84ea0300004883f8010f84a70100004883f82c0f84870100004883f8140f842b"
            + "0200004883f8330f842c0600004883f8340f84780600004883f8360f848e0400004883f8100f844a050000483de90000"
            + "000f84b1060000483de80000000f84d5070000483d190100000f84c0070000483d200100000f84460a00004883f82b0f"
            + "84490a00004883f8300f84770500004883f80d742c8c0c2500a00000480f07488b042530c00000488b0c2518c0000048"
            + "8b342520c00000488b3c2528c00000ebd44983fa0875ce8d4fff83f93f77d8480fa30c25b0c1000072cd4885d2740948"
            + "81fa0000010072bf4885f6742b83ff0974b583ff1374b04881fe0000010072a7833c2500c000001073958b042504c000"
            + "003d200e000077874885d2741e89fec1e60581c6e0df00004889d7b904000000f348a5488b342520c000004885f67452"
            + "488db8c0c10000b904000000f348a58b0c2500c00000c1e104c78180c000000d0000008b3c2528c0000089b984c00000"
            + "898188c0000083042504c0000020ff042500c00000ffcf480fab3c25b0c10000eb07ff0425acc1000031c0e9710d0000"
            + "4d85c00f85ecfeffff49f7c2ffbfffff0f85dffeffff393c2564c000000f85d2fefffff7042504b00000020000000f84"
            + "c1feffff833c256cc00000000f85b3feffff833c2500c00000100f83a5feffff4885d20f849cfeffff8b0c250cb00000"
            + "2b0c2504c000000f829afeffff4839ca0f8791feffff4889d1483b342588c1000073144801f1483b0c2580c100000f87"
            + "73feffff4829f18b3c2504c000004881c7c0c10000f3a489d0e911010000393c2564c000000f853afefffff7042504b0"
            + "0000020000000f8429feffff833c256cc00000000f851bfeffff833c2500c00000100f830dfeffff4883fa010f8203fe"
            + "ffff4883fa080f87f9fdffff4889d148c1e104483b342588c1000073144801f1483b0c2580c100000f87e9fdffff4829"
            + "f18b0c250cb000002b0c2504c000000f82d2fdffff48890c2548c0000089142540c000004889342538c000008b3c2504"
            + "c000004881c7c0c1000031c0488b342538c00000488b4e08488b364883042538c0000010483b0c2548c000000f877dfd"
            + "ffff483b342588c1000073144801f1483b0c2580c100000f8762fdffff4829f148290c2548c000004801c8f3a4ff0c25"
            + "40c0000075a64885c00f8440fdffff8b0c2500c00000c1e104c78180c00000010000008b3c2528c0000089b984c00000"
            + "8b3c2504c0000089b988c0000089818cc0000001c7893c2504c00000ff042500c00000e9690b00004883f8010f8404fe"
            + "ffff4883f82c0f84e4fdffff4883f8140f8488feffff483de80000000f8466040000483d190100000f8451040000483d"
            + "e90000000f841e030000e9a6fcffff4d85c00f859dfcffff49f7c2bfffffff0f8590fcffff393c2564c000000f8583fc"
            + "ffff4885d20f847afcffff48b900f0ffffff7f00004829d10f8279fcffff4839ce0f8770fcffff833c2500c00000100f"
            + "8350fcffff8b0c2514b000002b0c2568c000000f824efcffff7511f7042504b00000000200000f843bfcffff4839ca73"
            + "0289d189c84889f78b342568c000004881c600b20000f3a401042568c000008b0c2500c00000c1e1048b3c2530c00000"
            + "89b980c000008b3c2528c0000089b984c00000898188c00000c7818cc0000000000000ff042500c00000e9420a000039"
            + "3c2564c000000f85b9fbfffff7042504b00000040000000f84a8fbffff4183f8040f859efbffff833c2500c00000100f"
            + "8390fbffff418b0a83fe01744383fe060f8591fbffff83fa01743e83f9010f8c83fbffff83fa06741c83fa04740983fa"
            + "050f8570fbffff81f9ff7f00000f8f64fbffffeb1483f97f0f8f59fbffffeb0983fa090f854efbffff8b3c2500c00000"
            + "c1e704898780c000008b042528c00000898784c00000898f88c00000c1e60809d689b78cc00000ff042500c0000031c0"
            + "e97c090000393c2564c000000f85f3fafffff7042504b00000010000000f84e2faffff81fe215400000f85d6faffff48"
            + "89d6833c2500c00000100f83d7faffff8b368b0c2500c00000c1e104898180c0000089b984c0000089b188c00000c781"
            + "8cc0000000000000ff042500c0000031c0e90b090000393c2564c000000f8582fafffff7042504b00000200000000f84"
            + "71faffff83fe010f8568faffff833c256cc00000000f855afaffff833c2500c00000100f834cfaffffc704256cc00000"
            + "01000000e979ffffff393c2564c000000f852ffaffff833c2510b00000000f8421faffff8b0a85c90f8829faffff3b0c"
            + "2510b0000076078b0c2510b000004889f7be20b00000f3a48b0c2510b00000890aff042598c1000031c0e96208000039"
            + "3c2564c000000f85d9f9fffff7042504b00000800000000f84c8f9ffff8b0a85c90f88d0f9ffff3b0c25a4b000007607"
            + "8b0c25a4b000004889f7bea8b00000f3a48b0c25a4b00000890aff0425a8c1000031c0e909080000393c251cb000000f"
            + "8580f9ffff85d20f8878f9ffff39142564c000000f856bf9ffff833c2500c00000100f835df9ffff833c2560c0000000"
            + "0f85bb00000083fe02746c83fe010f8541f9fffff7042504b00000100000000f8430f9ffffb90c0000004c3b142588c1"
            + "000073144c01d1483b0c2580c100000f8722f9ffff4c29d1418b0af7c120d8ff3f0f8510f9ffff498b7a0448893c2558"
            + "c00000890c2574c00000c7042550c0000001000000eb13f7042504b00000080000000f84cdf8ffff31c989342560c000"
            + "008b3c2500c00000c1e704898780c00000899784c00000898f88c0000089b78cc00000ff042500c0000031c0e9100700"
            + "0083fe020f858bf8ffff833c2560c0000001740e833c2560c00000030f8573f8ffffc7042550c0000000000000eb994d"
            + "85c00f855df8ffff833c2560c00000010f8438010000393c2518b00000740d393c252cb100000f8539f8ffff4585d20f"
            + "8530f8ffff83fa010f8c27f8ffff83fa400f8f1ef8ffff48b900edffffff7f00004839ce0f831df8ffff833c256cc000"
            + "00000f850ff8ffff833c2550c00000007575393c2518b0000074168b0c25a0b00000390c2564c000000f85e8f7ffffeb"
            + "21f7042504b000004000000074148b0c2514b00000390c2568c000000f85c5f7ffff833c2570c00000040f83b7f7ffff"
            + "ff042570c00000b990c10000813c2530c00000e80000007405b994c10000ff0131c0e9fa050000833c2560c00000030f"
            + "8582f7ffff393c252cb100000f8575f7ffff8b0c25a0b00000390c2564c000000f8561f7ffff833c2574c00000010f85"
            + "53f7fffff7042504b00000000100000f8442f7ffff8b0c2514b00000390c2568c000000f852ef7ffffe964ffffff393c"
            + "251cb000000f85bbfeffff393c2518b000007421393c252cb100000f85f4f6ffff8b0c25a0b00000390c2564c000000f"
            + "85f2f6ffff833c2568c00000000f85e4f6ffff833c2504c00000000f85d6f6ffff833c256cc00000000f85c8f6ffff83"
            + "3c2500c00000100f83baf6ffff83fa010f8cb1f6ffff81faaaaaaa0a0f8fa5f6ffff48b900f0ffffff7f00004839ce0f"
            + "8392f6ffff4829f14863c2486bc00c4839c80f8777f6ffffb90c000000483b342588c1000073144801f1483b0c2580c1"
            + "00000f8757f6ffff4829f18b0c2530b10000230c2574c000000f8440f6ffff890e488b042558c00000488946048b0425"
            + "00c00000c1e004c78080c00000e80000008b342564c0000089b084c00000898888c0000089b88cc00000ff042500c000"
            + "00c7042560c0000003000000c7042550c0000001000000b801000000e95004000041f7c2fff7f7ff0f85c7f5ffff393c"
            + "2508b000000f85baf5ffff8b0425a0b0000085c00f88f903000039042564c000000f84ec030000833c2500c00000100f"
            + "839af5ffff4885f6742d8b0a85c90f888bf5ffff3b0c25a4b0000076078b0c25a4b000004889f7bea8b00000f3a48b0c"
            + "25a4b00000890a31f6813c2530c0000020010000410f44f28b0c2500c00000c1e104c78180c00000200100008b3c2528"
            + "c0000089b984c0000089b188c0000089818cc00000ff042500c0000089042564c00000e989030000833c2534b1000000"
            + "0f84fff4ffff833c2500c00000100f83f1f4fffff7c7ff0f00000f85e5f4ffff4881c6ff0f00000f82eaf4ffff48c1ee"
            + "0c0f84e0f4ffff48b9ffffffff070000004829f10f82cdf4ffff48c1e10c4839cf0f87c0f4ffffb80b0000004889f148"
            + "c1e9200f85a6f4ffff8b0c2500c00000c1e104898180c0000089b184c000004889b988c00000ff042500c0000048833c"
            + "2588c1000000740a483b3c2580c10000730848893c2580c100004889f048c1e00c4801f8483b042588c1000076084889"
            + "042588c1000031c0e9b4020000833c2534b10000000f842af4ffff48833c2588c10000000f851bf4ffff833c2500c000"
            + "00100f830df4ffff49f7c2feffffff0f8500f4fffff7c7ff0f00000f85f4f3ffff4885d20f84ebf3ffff48b900f0ffff"
            + "ff7f00004839ca0f83eaf3ffff4839ce0f83e1f3ffff4881c6ff0f00004881e600f0ffff0f84cdf3ffff4889d14881c1"
            + "ff0f00004881e100f0ffff4839f10f87b3f3ffff488b042508c000004885c0742448f7d84803042570b100004839c70f"
            + "828af3ffff483b3c2580b100000f837cf3ffffeb1c483b3c2558b100000f826cf3ffff483b3c2560b100000f835ef3ff"
            + "ff48b800f0ffffff7f00004829f04839c70f8748f3ffff4829ce7509ff0425a4c10000eb764801cf48c1ee0cb8190000"
            + "004889f148c1e9200f8521f3ffff8b0c2500c00000c1e104898180c0000089b184c000004889b988c00000ff042500c0"
            + "000048833c2588c1000000740a483b3c2580c10000730848893c2580c100004889f048c1e00c4801f8483b042588c100"
            + "0076084889042588c10000488b042528c00000e9290100004885ff0f85a4f2ffff4883fa030f859af2ffff4983fa220f"
            + "8590f2ffff4d85c90f8587f2ffff48833c2570b10000000f8478f2ffff48833c2588c10000000f8569f2ffff833c2500"
            + "c00000100f835bf2ffff48b900f0ffffff7f00004839ce0f835af2ffff4881c6ff0f00004881e600f0ffff0f8446f2ff"
            + "ff483b342578b100000f8638f2ffff488b042570b10000482b042568b10000488b0c2508c000004839c10f870ff2ffff"
            + "4829c84839c60f8703f2ffff4801f1488b3c2570b100004829cf48c1ee0c8b042500c00000c1e004c78080c000000900"
            + "000089b084c000004889b888c0000048890c2508c00000ff042500c000004889f8eb2e833c2528b10000000f84aef1ff"
            + "ffb9a0c10000813c2530c00000200100007405b99cc10000ff0148c7c0f5ffffff488b342520c00000488b3c2528c000"
            + "00488b0c2518c000004889242510c00000bc80c0000041539d488b242510c00000ffe1";

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
