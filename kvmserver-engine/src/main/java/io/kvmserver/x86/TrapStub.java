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
    public static final long FAST_SYSCALL_END = FAST_SYSCALL_ENTRY + 0x1091;

    /** The assembled {@code fast_syscall_entry} (trap-stub.S; TrapStubTest compares). */
    private static final String FAST_SYSCALL_ENTRY_CODE = ""
            + "41f7c3000100000f850e01000048890c2518c000004889342520c0000048893c2528c000004889042530c000004883f8"
            + "0b0f849f0c00004883f8190f846a0d00004883f8090f84eb0e0000483dba0000000f84ec07000085ff0f88bc00000048"
            + "833c2588c10000000f85c00300004885c00f84140400004883f82d0f84f40300004883f8010f84b10100004883f82c0f"
            + "84910100004883f8140f84350200004883f8330f84360600004883f8340f84820600004883f8360f84980400004883f8"
            + "100f8454050000483de90000000f8483070000483de80000000f84a7080000483d190100000f8492080000483d200100"
            + "000f84180b00004883f82b0f841b0b00004883f8300f84810500004883f80d74364883f80e0f84730600008c0c2500a0"
            + "0000480f07488b042530c00000488b0c2518c00000488b342520c00000488b3c2528c00000ebd44983fa0875ce8d4fff"
            + "83f93f77d8480fa30c25b8c1000072cd4885d274094881fa0000010072bf4885f6742b83ff0974b583ff1374b04881fe"
            + "0000010072a7833c2500c000001073958b042504c000003d100e000077874885d2741e89fec1e60581c6e0df00004889"
            + "d7b904000000f348a5488b342520c000004885f67452488db8d0c10000b904000000f348a58b0c2500c00000c1e104c7"
            + "8180c000000d0000008b3c2528c0000089b984c00000898188c0000083042504c0000020ff042500c00000ffcf480fab"
            + "3c25b8c10000eb07ff0425acc1000031c0e9390e00004d85c00f85ecfeffff49f7c2ffbfffff0f85dffeffff393c2564"
            + "c000000f85d2fefffff7042504b00000020000000f84c1feffff833c256cc00000000f85b3feffff833c2500c0000010"
            + "0f83a5feffff4885d20f849cfeffff8b0c250cb000002b0c2504c000000f829afeffff4839ca0f8791feffff4889d148"
            + "3b342588c1000073144801f1483b0c2580c100000f8773feffff4829f18b3c2504c000004881c7d0c10000f3a489d0e9"
            + "11010000393c2564c000000f853afefffff7042504b00000020000000f8429feffff833c256cc00000000f851bfeffff"
            + "833c2500c00000100f830dfeffff4883fa010f8203feffff4883fa080f87f9fdffff4889d148c1e104483b342588c100"
            + "0073144801f1483b0c2580c100000f87e9fdffff4829f18b0c250cb000002b0c2504c000000f82d2fdffff48890c2548"
            + "c0000089142540c000004889342538c000008b3c2504c000004881c7d0c1000031c0488b342538c00000488b4e08488b"
            + "364883042538c0000010483b0c2548c000000f877dfdffff483b342588c1000073144801f1483b0c2580c100000f8762"
            + "fdffff4829f148290c2548c000004801c8f3a4ff0c2540c0000075a64885c00f8440fdffff8b0c2500c00000c1e104c7"
            + "8180c00000010000008b3c2528c0000089b984c000008b3c2504c0000089b988c0000089818cc0000001c7893c2504c0"
            + "0000ff042500c00000e9310c00004883f8010f8404feffff4883f82c0f84e4fdffff4883f8140f8488feffff483de800"
            + "00000f842e050000483d190100000f8419050000483de90000000f84e6030000e9a6fcffff4d85c00f859dfcffff49f7"
            + "c2bfffffff0f8590fcffff393c2564c000000f8583fcffff4885d20f847afcffff48b900f0ffffff7f00004829d10f82"
            + "79fcffff4839ce0f8770fcffff833c2500c00000100f8350fcffff8b0c2514b000002b0c2568c000000f824efcffff75"
            + "11f7042504b00000000200000f843bfcffff4839ca730289d189c84889f78b342568c000004881c600b20000f3a40104"
            + "2568c000008b0c2500c00000c1e1048b3c2530c0000089b980c000008b3c2528c0000089b984c00000898188c00000c7"
            + "818cc0000000000000ff042500c00000e90a0b0000393c2564c000000f85b9fbfffff7042504b00000040000000f84a8"
            + "fbffff4183f8040f859efbffff833c2500c00000100f8390fbffff418b0a83fe01744383fe060f8591fbffff83fa0174"
            + "3e83f9010f8c83fbffff83fa06741c83fa04740983fa050f8570fbffff81f9ff7f00000f8f64fbffffeb1483f97f0f8f"
            + "59fbffffeb0983fa090f854efbffff8b3c2500c00000c1e704898780c000008b042528c00000898784c00000898f88c0"
            + "0000c1e60809d689b78cc00000ff042500c0000031c0e9440a0000393c2564c000000f85f3fafffff7042504b0000001"
            + "0000000f84e2faffff81fe215400000f85d6faffff4889d6833c2500c00000100f83d7faffff8b368b0c2500c00000c1"
            + "e104898180c0000089b984c0000089b188c00000c7818cc0000000000000ff042500c0000031c0e9d3090000393c2564"
            + "c000000f8582fafffff7042504b00000200000000f8471faffff83fe010f8568faffff833c256cc00000000f855afaff"
            + "ff833c2500c00000100f834cfaffffc704256cc0000001000000e979ffffff393c2564c000000f852ffaffff833c2510"
            + "b00000000f8421faffff8b0a85c90f8829faffff3b0c2510b0000076078b0c2510b000004889f7be20b00000f3a48b0c"
            + "2510b00000890aff042598c1000031c0e92a090000393c2564c000000f85d9f9fffff7042504b00000800000000f84c8"
            + "f9ffff8b0a85c90f88d0f9ffff3b0c25a4b0000076078b0c25a4b000004889f7bea8b00000f3a48b0c25a4b00000890a"
            + "ff0425a8c1000031c0e9d10800004983fa080f8583f9ffff4885d2740d4881fa000001000f8271f9ffff488b0c2500e8"
            + "0000833c25c8c10000007408488b0c25c0c100004885f674644881fe000001000f8257f9ffff83ff020f874ef9ffff48"
            + "8b0685ff75054809c8eb0b83ff02740648f7d04821c84825fffefbff4889c648f7d64885342508e800000f8515f9ffff"
            + "4885d2740348890a48890425c0c10000c70425c8c1000001000000eb084885d2740348890aff0425b0c1000031c0e91c"
            + "0800008b042510e80000ff0425b4c10000e909080000393c251cb000000f85b8f8ffff85d20f88b0f8ffff39142564c0"
            + "00000f85a3f8ffff833c2500c00000100f8395f8ffff833c2560c00000000f85bb00000083fe02746c83fe010f8579f8"
            + "fffff7042504b00000100000000f8468f8ffffb90c0000004c3b142588c1000073144c01d1483b0c2580c100000f875a"
            + "f8ffff4c29d1418b0af7c120d8ff3f0f8548f8ffff498b7a0448893c2558c00000890c2574c00000c7042550c0000001"
            + "000000eb13f7042504b00000080000000f8405f8ffff31c989342560c000008b3c2500c00000c1e704898780c0000089"
            + "9784c00000898f88c0000089b78cc00000ff042500c0000031c0e91007000083fe020f85c3f7ffff833c2560c0000001"
            + "740e833c2560c00000030f85abf7ffffc7042550c0000000000000eb994d85c00f8595f7ffff833c2560c00000010f84"
            + "38010000393c2518b00000740d393c252cb100000f8571f7ffff4585d20f8568f7ffff83fa010f8c5ff7ffff83fa400f"
            + "8f56f7ffff48b900edffffff7f00004839ce0f8355f7ffff833c256cc00000000f8547f7ffff833c2550c00000007575"
            + "393c2518b0000074168b0c25a0b00000390c2564c000000f8520f7ffffeb21f7042504b000004000000074148b0c2514"
            + "b00000390c2568c000000f85fdf6ffff833c2570c00000040f83eff6ffffff042570c00000b990c10000813c2530c000"
            + "00e80000007405b994c10000ff0131c0e9fa050000833c2560c00000030f85baf6ffff393c252cb100000f85adf6ffff"
            + "8b0c25a0b00000390c2564c000000f8599f6ffff833c2574c00000010f858bf6fffff7042504b00000000100000f847a"
            + "f6ffff8b0c2514b00000390c2568c000000f8566f6ffffe964ffffff393c251cb000000f85bbfeffff393c2518b00000"
            + "7421393c252cb100000f852cf6ffff8b0c25a0b00000390c2564c000000f852af6ffff833c2568c00000000f851cf6ff"
            + "ff833c2504c00000000f850ef6ffff833c256cc00000000f8500f6ffff833c2500c00000100f83f2f5ffff83fa010f8c"
            + "e9f5ffff81faaaaaaa0a0f8fddf5ffff48b900f0ffffff7f00004839ce0f83caf5ffff4829f14863c2486bc00c4839c8"
            + "0f87aff5ffffb90c000000483b342588c1000073144801f1483b0c2580c100000f878ff5ffff4829f18b0c2530b10000"
            + "230c2574c000000f8478f5ffff890e488b042558c00000488946048b042500c00000c1e004c78080c00000e80000008b"
            + "342564c0000089b084c00000898888c0000089b88cc00000ff042500c00000c7042560c0000003000000c7042550c000"
            + "0001000000b801000000e95004000041f7c2fff7f7ff0f85fff4ffff393c2508b000000f85f2f4ffff8b0425a0b00000"
            + "85c00f88f903000039042564c000000f84ec030000833c2500c00000100f83d2f4ffff4885f6742d8b0a85c90f88c3f4"
            + "ffff3b0c25a4b0000076078b0c25a4b000004889f7bea8b00000f3a48b0c25a4b00000890a31f6813c2530c000002001"
            + "0000410f44f28b0c2500c00000c1e104c78180c00000200100008b3c2528c0000089b984c0000089b188c0000089818c"
            + "c00000ff042500c0000089042564c00000e989030000833c2534b10000000f8437f4ffff833c2500c00000100f8329f4"
            + "fffff7c7ff0f00000f851df4ffff4881c6ff0f00000f8222f4ffff48c1ee0c0f8418f4ffff48b9ffffffff0700000048"
            + "29f10f8205f4ffff48c1e10c4839cf0f87f8f3ffffb80b0000004889f148c1e9200f85def3ffff8b0c2500c00000c1e1"
            + "04898180c0000089b184c000004889b988c00000ff042500c0000048833c2588c1000000740a483b3c2580c100007308"
            + "48893c2580c100004889f048c1e00c4801f8483b042588c1000076084889042588c1000031c0e9b4020000833c2534b1"
            + "0000000f8462f3ffff48833c2588c10000000f8553f3ffff833c2500c00000100f8345f3ffff49f7c2feffffff0f8538"
            + "f3fffff7c7ff0f00000f852cf3ffff4885d20f8423f3ffff48b900f0ffffff7f00004839ca0f8322f3ffff4839ce0f83"
            + "19f3ffff4881c6ff0f00004881e600f0ffff0f8405f3ffff4889d14881c1ff0f00004881e100f0ffff4839f10f87ebf2"
            + "ffff488b042508c000004885c0742448f7d84803042570b100004839c70f82c2f2ffff483b3c2580b100000f83b4f2ff"
            + "ffeb1c483b3c2558b100000f82a4f2ffff483b3c2560b100000f8396f2ffff48b800f0ffffff7f00004829f04839c70f"
            + "8780f2ffff4829ce7509ff0425a4c10000eb764801cf48c1ee0cb8190000004889f148c1e9200f8559f2ffff8b0c2500"
            + "c00000c1e104898180c0000089b184c000004889b988c00000ff042500c0000048833c2588c1000000740a483b3c2580"
            + "c10000730848893c2580c100004889f048c1e00c4801f8483b042588c1000076084889042588c10000488b042528c000"
            + "00e9290100004885ff0f85dcf1ffff4883fa030f85d2f1ffff4983fa220f85c8f1ffff4d85c90f85bff1ffff48833c25"
            + "70b10000000f84b0f1ffff48833c2588c10000000f85a1f1ffff833c2500c00000100f8393f1ffff48b900f0ffffff7f"
            + "00004839ce0f8392f1ffff4881c6ff0f00004881e600f0ffff0f847ef1ffff483b342578b100000f8670f1ffff488b04"
            + "2570b10000482b042568b10000488b0c2508c000004839c10f8747f1ffff4829c84839c60f873bf1ffff4801f1488b3c"
            + "2570b100004829cf48c1ee0c8b042500c00000c1e004c78080c000000900000089b084c000004889b888c0000048890c"
            + "2508c00000ff042500c000004889f8eb2e833c2528b10000000f84e6f0ffffb9a0c10000813c2530c000002001000074"
            + "05b99cc10000ff0148c7c0f5ffffff488b342520c00000488b3c2528c00000488b0c2518c000004889242510c00000bc"
            + "80c0000041539d488b242510c00000ffe1";

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
