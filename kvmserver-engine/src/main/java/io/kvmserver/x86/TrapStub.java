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
    public static final long FAST_SLOW_PATH = FAST_SYSCALL_ENTRY + 0xf5;

    /** RIP after the fast entry's doorbell write. */
    public static final long FAST_DOORBELL_RIP = FAST_SLOW_PATH + DOORBELL_WRITE_LENGTH;

    /**
     * The end of the fast entry. A #PF or #GP between {@link #FAST_SYSCALL_ENTRY} and here is the
     * entry touching the program's memory through a pointer the program passed: the host answers
     * that call itself ({@code EFAULT}), once RAX, RCX, RSI and RDI are back from the save area
     * ({@link GuestCallPages#SAVED_RCX}) and the entry resumes at {@link #FAST_SLOW_PATH}.
     */
    public static final long FAST_SYSCALL_END = FAST_SYSCALL_ENTRY + 0xcb6;

    /** The assembled {@code fast_syscall_entry} (trap-stub.S; TrapStubTest compares). */
    private static final String FAST_SYSCALL_ENTRY_CODE = ""
            + "41f7c3000100000f85e800000048890c2518c000004889342520c0000048893c2528c000004889042530c000004883f8"
            + "0b0f84f30900004883f8190f84be0a000085ff0f88ac00000048833c2508c10000000f85a50200004885c00f84060300"
            + "004883f82d0f84e60200004883f8010f84b20000004883f82c0f849a0000004883f8140f841a0100004883f8330f84f9"
            + "0400004883f8340f84450500004883f8360f845b0300004883f8100f8417040000483de90000000f847e050000483de8"
            + "0000000f8474060000483d190100000f845f060000483d200100000f84820800004883f82b0f84850800004883f8300f"
            + "84440400008c0c2500a00000480f07488b0c2518c00000488b342520c00000488b3c2528c00000ebdc4d85c075d749f7"
            + "c2ffbfffff75ce393c2564c0000075c5f7042504b000000200000074b8833c256cc000000075ae833c2500c000000873"
            + "a44885d2749f8b0c250cb000002b0c2504c0000072994839ca77944889d1483b342508c1000073144801f1483b0c2500"
            + "c100000f8776ffffff4829f18b3c2504c000004881c730c10000f3a489d0e911010000393c2564c000000f8545ffffff"
            + "f7042504b00000020000000f8434ffffff833c256cc00000000f8526ffffff833c2500c00000080f8318ffffff4883fa"
            + "010f820effffff4883fa080f8704ffffff4889d148c1e104483b342508c1000073144801f1483b0c2500c100000f87ec"
            + "feffff4829f18b0c250cb000002b0c2504c000000f82d5feffff48890c2548c0000089142540c000004889342538c000"
            + "008b3c2504c000004881c730c1000031c0488b342538c00000488b4e08488b364883042538c0000010483b0c2548c000"
            + "000f87cd000000483b342508c1000073144801f1483b0c2500c100000f87b20000004829f148290c2548c000004801c8"
            + "f3a4ff0c2540c0000075a64885c00f84900000008b0c2500c00000c1e104c78180c00000010000008b3c2528c0000089"
            + "b984c000008b3c2504c0000089b988c0000089818cc0000001c7893c2504c00000ff042500c00000e9870900004883f8"
            + "010f8420feffff4883f82c0f8408feffff4883f8140f8488feffff483de80000000f8416040000483d190100000f8401"
            + "040000483de90000000f84fc020000e9b1fdffff488b042530c00000e9aefdffff4d85c00f859bfdffff49f7c2bfffff"
            + "ff0f858efdffff393c2564c000000f8581fdffff4885d20f8478fdffff833c2500c00000080f836afdffff8b0c2514b0"
            + "00002b0c2568c000000f8660fdffff4839ca730289d189c84889f78b342568c000004881c600b20000f3a401042568c0"
            + "00008b0c2500c00000c1e1048b3c2530c0000089b980c000008b3c2528c0000089b984c00000898188c00000c7818cc0"
            + "000000000000ff042500c00000e982080000393c2564c000000f85e6fcfffff7042504b00000040000000f84d5fcffff"
            + "4183f8040f85cbfcffff833c2500c00000080f83bdfcffff418b0a83fe01744383fe060f85b6fcffff83fa01743e83f9"
            + "010f8ca8fcffff83fa06741c83fa04740983fa050f8595fcffff81f9ff7f00000f8f89fcffffeb1483f97f0f8f7efcff"
            + "ffeb0983fa090f8573fcffff8b3c2500c00000c1e704898780c000008b042528c00000898784c00000898f88c00000c1"
            + "e60809d689b78cc00000ff042500c0000031c0e9bc070000393c2564c000000f8520fcfffff7042504b0000001000000"
            + "0f840ffcffff81fe215400000f8503fcffff4889d6833c2500c00000080f83fcfbffff8b368b0c2500c00000c1e10489"
            + "8180c0000089b984c0000089b188c00000c7818cc0000000000000ff042500c0000031c0e94b070000393c2564c00000"
            + "0f85affbfffff7042504b00000200000000f849efbffff83fe010f8595fbffff833c256cc00000000f8587fbffff833c"
            + "2500c00000080f8379fbffffc704256cc0000001000000e979ffffff393c2564c000000f855cfbffff833c2510b00000"
            + "000f844efbffff8b0a85c90f884efbffff3b0c2510b0000076078b0c2510b000004889f7be20b00000f3a48b0c2510b0"
            + "0000890aff042518c1000031c0e9a2060000393c2564c000000f8506fbfffff7042504b00000800000000f84f5faffff"
            + "8b0a85c90f88f5faffff3b0c25a4b0000076078b0c25a4b000004889f7bea8b00000f3a48b0c25a4b00000890aff0425"
            + "28c1000031c0e949060000393c251cb000000f85adfaffff85d20f88a5faffff39142564c000000f8598faffff833c25"
            + "00c00000080f838afaffff833c2560c00000000f857cfaffff83fe02746c83fe010f856efafffff7042504b000001000"
            + "00000f845dfaffffb90c0000004c3b142508c1000073144c01d1483b0c2500c100000f8747faffff4c29d1418b0af7c1"
            + "20d8ff3f0f8535faffff498b7a0448893c2558c00000890c2574c00000c7042550c0000001000000eb13f7042504b000"
            + "00080000000f84faf9ffff31c989342560c000008b3c2500c00000c1e704898780c00000899784c00000898f88c00000"
            + "89b78cc00000ff042500c0000031c0e9500500004d85c00f85b8f9ffff833c2560c00000010f84d5000000393c2518b0"
            + "0000740d393c252cb100000f8594f9ffff4585d20f858bf9ffff83fa010f8c82f9ffff83fa400f8f79f9ffff48b900ed"
            + "ffffff7f00004839ce0f8370f9ffff833c2550c00000000f8562f9ffff833c256cc00000000f8554f9ffff393c2518b0"
            + "000074168b0c25a0b00000390c2564c000000f8537f9ffffeb21f7042504b000004000000074148b0c2514b00000390c"
            + "2568c000000f8514f9ffff833c2570c00000020f8306f9ffffff042570c00000b910c10000813c2530c00000e8000000"
            + "7405b914c10000ff0131c0e964040000393c251cb000000f851effffff393c2518b000007421393c252cb100000f85b2"
            + "f8ffff8b0c25a0b00000390c2564c000000f85a8f8ffff833c2568c00000000f859af8ffff833c2504c00000000f858c"
            + "f8ffff833c256cc00000000f857ef8ffff833c2500c00000080f8370f8ffff83fa010f8c67f8ffff81faaaaaaa0a0f8f"
            + "5bf8ffff48b900f0ffffff7f00004839ce0f8348f8ffff4829f14863c2486bc00c4839c80f877afaffffb90c00000048"
            + "3b342508c1000073144801f1483b0c2500c100000f875afaffff4829f18b0c2530b10000230c2574c000000f8443faff"
            + "ff890e488b042558c00000488946048b042500c00000c1e004c78080c00000e80000008b342564c0000089b084c00000"
            + "898888c0000089b88cc00000ff042500c00000c7042560c0000003000000c7042550c0000001000000b801000000e921"
            + "03000041f7c2fff7f7ff0f8585f7ffff393c2508b000000f8578f7ffff8b0425a0b0000085c00f88ca02000039042564"
            + "c000000f84bd020000833c2500c00000080f839df9ffff4885f6742d8b0a85c90f888ef9ffff3b0c25a4b0000076078b"
            + "0c25a4b000004889f7bea8b00000f3a48b0c25a4b00000890a31f6813c2530c0000020010000410f44f28b0c2500c000"
            + "00c1e104c78180c00000200100008b3c2528c0000089b984c0000089b188c0000089818cc00000ff042500c000008904"
            + "2564c00000e95a020000833c2534b10000000f84bdf6ffff833c2500c00000080f83aff6fffff7c7ff0f00000f85a3f6"
            + "ffff4881c6ff0f00000f82a0f6ffff48c1ee0c0f8496f6ffff48b9ffffffff070000004829f10f8283f6ffff48c1e10c"
            + "4839cf0f8776f6ffffb80b0000004889f148c1e9200f85a9f8ffff8b0c2500c00000c1e104898180c0000089b184c000"
            + "004889b988c00000ff042500c0000048833c2508c1000000740a483b3c2500c10000730848893c2500c100004889f048"
            + "c1e00c4801f8483b042508c1000076084889042508c1000031c0e985010000833c2534b10000000f84e8f5ffff48833c"
            + "2508c10000000f85d9f5ffff833c2500c00000080f83cbf5ffff49f7c2feffffff0f85bef5fffff7c7ff0f00000f85b2"
            + "f5ffff4885d20f84a9f5ffff48b900f0ffffff7f00004839ca0f83a0f5ffff4839ce0f8397f5ffff4881c6ff0f000048"
            + "81e600f0ffff0f8483f5ffff4889d14881c1ff0f00004881e100f0ffff4839f10f8769f5ffff483b3c2558b100000f82"
            + "5bf5ffff483b3c2560b100000f834df5ffff48b800f0ffffff7f00004829f04839c70f877cf7ffff4829ce7509ff0425"
            + "24c10000eb764801cf48c1ee0cb8190000004889f148c1e9200f8555f7ffff8b0c2500c00000c1e104898180c0000089"
            + "b184c000004889b988c00000ff042500c0000048833c2508c1000000740a483b3c2500c10000730848893c2500c10000"
            + "4889f048c1e00c4801f8483b042508c1000076084889042508c10000488b042528c00000eb2e833c2528b10000000f84"
            + "e0f6ffffb920c10000813c2530c00000200100007405b91cc10000ff0148c7c0f5ffffff488b342520c00000488b3c25"
            + "28c00000488b0c2518c000004889242510c00000bc80c0000041539d488b242510c00000ffe1";

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
