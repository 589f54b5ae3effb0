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
    public static final long FAST_SLOW_PATH = FAST_SYSCALL_ENTRY + 0xeb;

    /** RIP after the fast entry's doorbell write. */
    public static final long FAST_DOORBELL_RIP = FAST_SLOW_PATH + DOORBELL_WRITE_LENGTH;

    /**
     * The end of the fast entry. A #PF or #GP between {@link #FAST_SYSCALL_ENTRY} and here is the
     * entry touching the program's memory through a pointer the program passed: the host answers
     * that call itself ({@code EFAULT}), once RAX, RCX, RSI and RDI are back from the save area
     * ({@link GuestCallPages#SAVED_RCX}) and the entry resumes at {@link #FAST_SLOW_PATH}.
     */
    public static final long FAST_SYSCALL_END = FAST_SYSCALL_ENTRY + 0xc53;

    /** The assembled {@code fast_syscall_entry} (trap-stub.S; TrapStubTest compares). */
    private static final String FAST_SYSCALL_ENTRY_CODE = ""
            + "41f7c3000100000f85de00000048890c2518c000004889342520c0000048893c2528c000004889042530c000004883f8"
            + "0b0f84900900004883f8190f845b0a000085ff0f88a200000048833c2508c10000000f859b0200004885c00f84fc0200"
            + "004883f82d0f84dc0200004883f8010f84a80000004883f82c0f84900000004883f8140f84100100004883f8330f84ef"
            + "0400004883f8360f845b0300004883f8100f8417040000483de90000000f8425050000483de80000000f841b06000048"
            + "3d190100000f8406060000483d200100000f84290800004883f82b0f842c0800004883f8300f84440400008c0c2500a0"
            + "0000480f07488b0c2518c00000488b342520c00000488b3c2528c00000ebdc4d85c075d749f7c2ffbfffff75ce393c25"
            + "64c0000075c5f7042504b000000200000074b8833c256cc000000075ae833c2500c000000873a44885d2749f8b0c250c"
            + "b000002b0c2504c0000072994839ca77944889d1483b342508c1000073144801f1483b0c2500c100000f8776ffffff48"
            + "29f18b3c2504c000004881c730c10000f3a489d0e911010000393c2564c000000f8545fffffff7042504b00000020000"
            + "000f8434ffffff833c256cc00000000f8526ffffff833c2500c00000080f8318ffffff4883fa010f820effffff4883fa"
            + "080f8704ffffff4889d148c1e104483b342508c1000073144801f1483b0c2500c100000f87ecfeffff4829f18b0c250c"
            + "b000002b0c2504c000000f82d5feffff48890c2548c0000089142540c000004889342538c000008b3c2504c000004881"
            + "c730c1000031c0488b342538c00000488b4e08488b364883042538c0000010483b0c2548c000000f87cd000000483b34"
            + "2508c1000073144801f1483b0c2500c100000f87b20000004829f148290c2548c000004801c8f3a4ff0c2540c0000075"
            + "a64885c00f84900000008b0c2500c00000c1e104c78180c00000010000008b3c2528c0000089b984c000008b3c2504c0"
            + "000089b988c0000089818cc0000001c7893c2504c00000ff042500c00000e92e0900004883f8010f8420feffff4883f8"
            + "2c0f8408feffff4883f8140f8488feffff483de80000000f84bd030000483d190100000f84a8030000483de90000000f"
            + "84a3020000e9b1fdffff488b042530c00000e9aefdffff4d85c00f859bfdffff49f7c2bfffffff0f858efdffff393c25"
            + "64c000000f8581fdffff4885d20f8478fdffff833c2500c00000080f836afdffff8b0c2514b000002b0c2568c000000f"
            + "8660fdffff4839ca730289d189c84889f78b342568c000004881c600b20000f3a401042568c000008b0c2500c00000c1"
            + "e1048b3c2530c0000089b980c000008b3c2528c0000089b984c00000898188c00000c7818cc0000000000000ff042500"
            + "c00000e929080000393c2564c000000f85e6fcfffff7042504b00000040000000f84d5fcffff4183f8040f85cbfcffff"
            + "833c2500c00000080f83bdfcffff418b0a83fe01744383fe060f85b6fcffff83fa01743e83f9010f8ca8fcffff83fa06"
            + "741c83fa04740983fa050f8595fcffff81f9ff7f00000f8f89fcffffeb1483f97f0f8f7efcffffeb0983fa090f8573fc"
            + "ffff8b3c2500c00000c1e704898780c000008b042528c00000898784c00000898f88c00000c1e60809d689b78cc00000"
            + "ff042500c0000031c0e963070000393c2564c000000f8520fcfffff7042504b00000010000000f840ffcffff81fe2154"
            + "00000f8503fcffff4889d6833c2500c00000080f83fcfbffff8b368b0c2500c00000c1e104898180c0000089b984c000"
            + "0089b188c00000c7818cc0000000000000ff042500c0000031c0e9f2060000393c2564c000000f85affbfffff7042504"
            + "b00000200000000f849efbffff83fe010f8595fbffff833c256cc00000000f8587fbffff833c2500c00000080f8379fb"
            + "ffffc704256cc0000001000000e979ffffff393c2564c000000f855cfbffff833c2510b00000000f844efbffff8b0a85"
            + "c90f884efbffff3b0c2510b0000076078b0c2510b000004889f7be20b00000f3a48b0c2510b00000890aff042518c100"
            + "0031c0e949060000393c251cb000000f8506fbffff85d20f88fefaffff39142564c000000f85f1faffff833c2500c000"
            + "00080f83e3faffff833c2560c00000000f85d5faffff83fe02746c83fe010f85c7fafffff7042504b00000100000000f"
            + "84b6faffffb90c0000004c3b142508c1000073144c01d1483b0c2500c100000f87a0faffff4c29d1418b0af7c120d8ff"
            + "3f0f858efaffff498b7a0448893c2558c00000890c2574c00000c7042550c0000001000000eb13f7042504b000000800"
            + "00000f8453faffff31c989342560c000008b3c2500c00000c1e704898780c00000899784c00000898f88c0000089b78c"
            + "c00000ff042500c0000031c0e9500500004d85c00f8511faffff833c2560c00000010f84d5000000393c2518b0000074"
            + "0d393c252cb100000f85edf9ffff4585d20f85e4f9ffff83fa010f8cdbf9ffff83fa400f8fd2f9ffff48b900edffffff"
            + "7f00004839ce0f83c9f9ffff833c2550c00000000f85bbf9ffff833c256cc00000000f85adf9ffff393c2518b0000074"
            + "168b0c25a0b00000390c2564c000000f8590f9ffffeb21f7042504b000004000000074148b0c2514b00000390c2568c0"
            + "00000f856df9ffff833c2570c00000020f835ff9ffffff042570c00000b910c10000813c2530c00000e80000007405b9"
            + "14c10000ff0131c0e964040000393c251cb000000f851effffff393c2518b000007421393c252cb100000f850bf9ffff"
            + "8b0c25a0b00000390c2564c000000f8501f9ffff833c2568c00000000f85f3f8ffff833c2504c00000000f85e5f8ffff"
            + "833c256cc00000000f85d7f8ffff833c2500c00000080f83c9f8ffff83fa010f8cc0f8ffff81faaaaaaa0a0f8fb4f8ff"
            + "ff48b900f0ffffff7f00004839ce0f83a1f8ffff4829f14863c2486bc00c4839c80f87d3faffffb90c000000483b3425"
            + "08c1000073144801f1483b0c2500c100000f87b3faffff4829f18b0c2530b10000230c2574c000000f849cfaffff890e"
            + "488b042558c00000488946048b042500c00000c1e004c78080c00000e80000008b342564c0000089b084c00000898888"
            + "c0000089b88cc00000ff042500c00000c7042560c0000003000000c7042550c0000001000000b801000000e921030000"
            + "41f7c2fff7f7ff0f85def7ffff393c2508b000000f85d1f7ffff8b0425a0b0000085c00f88ca02000039042564c00000"
            + "0f84bd020000833c2500c00000080f83f6f9ffff4885f6742d8b0a85c90f88e7f9ffff3b0c25a4b0000076078b0c25a4"
            + "b000004889f7bea8b00000f3a48b0c25a4b00000890a31f6813c2530c0000020010000410f44f28b0c2500c00000c1e1"
            + "04c78180c00000200100008b3c2528c0000089b984c0000089b188c0000089818cc00000ff042500c0000089042564c0"
            + "0000e95a020000833c2534b10000000f8416f7ffff833c2500c00000080f8308f7fffff7c7ff0f00000f85fcf6ffff48"
            + "81c6ff0f00000f82f9f6ffff48c1ee0c0f84eff6ffff48b9ffffffff070000004829f10f82dcf6ffff48c1e10c4839cf"
            + "0f87cff6ffffb80b0000004889f148c1e9200f8502f9ffff8b0c2500c00000c1e104898180c0000089b184c000004889"
            + "b988c00000ff042500c0000048833c2508c1000000740a483b3c2500c10000730848893c2500c100004889f048c1e00c"
            + "4801f8483b042508c1000076084889042508c1000031c0e985010000833c2534b10000000f8441f6ffff48833c2508c1"
            + "0000000f8532f6ffff833c2500c00000080f8324f6ffff49f7c2feffffff0f8517f6fffff7c7ff0f00000f850bf6ffff"
            + "4885d20f8402f6ffff48b900f0ffffff7f00004839ca0f83f9f5ffff4839ce0f83f0f5ffff4881c6ff0f00004881e600"
            + "f0ffff0f84dcf5ffff4889d14881c1ff0f00004881e100f0ffff4839f10f87c2f5ffff483b3c2558b100000f82b4f5ff"
            + "ff483b3c2560b100000f83a6f5ffff48b800f0ffffff7f00004829f04839c70f87d5f7ffff4829ce7509ff042524c100"
            + "00eb764801cf48c1ee0cb8190000004889f148c1e9200f85aef7ffff8b0c2500c00000c1e104898180c0000089b184c0"
            + "00004889b988c00000ff042500c0000048833c2508c1000000740a483b3c2500c10000730848893c2500c100004889f0"
            + "48c1e00c4801f8483b042508c1000076084889042508c10000488b042528c00000eb2e833c2528b10000000f8439f7ff"
            + "ffb920c10000813c2530c00000200100007405b91cc10000ff0148c7c0f5ffffff488b342520c00000488b3c2528c000"
            + "00488b0c2518c000004889242510c00000bc80c0000041539d488b242510c00000ffe1";

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
