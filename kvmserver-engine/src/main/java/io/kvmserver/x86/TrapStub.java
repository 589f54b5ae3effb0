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
    public static final long FAST_SLOW_PATH = FAST_SYSCALL_ENTRY + 0xff;

    /** RIP after the fast entry's doorbell write. */
    public static final long FAST_DOORBELL_RIP = FAST_SLOW_PATH + DOORBELL_WRITE_LENGTH;

    /**
     * The end of the fast entry. A #PF or #GP between {@link #FAST_SYSCALL_ENTRY} and here is the
     * entry touching the program's memory through a pointer the program passed: the host answers
     * that call itself ({@code EFAULT}), once RAX, RCX, RSI and RDI are back from the save area
     * ({@link GuestCallPages#SAVED_RCX}) and the entry resumes at {@link #FAST_SLOW_PATH}.
     */
    public static final long FAST_SYSCALL_END = FAST_SYSCALL_ENTRY + 0xe93;

    /** The assembled {@code fast_syscall_entry} (trap-stub.S; TrapStubTest compares). */
    private static final String FAST_SYSCALL_ENTRY_CODE = ""
            + "41f7c3000100000f85f200000048890c2518c000004889342520c0000048893c2528c000004889042530c000004883f8"
            + "0b0f84a10a00004883f8190f846c0b00004883f8090f84ed0c000085ff0f88ac00000048833c2588c10000000f85a502"
            + "00004885c00f84060300004883f82d0f84e60200004883f8010f84b20000004883f82c0f849a0000004883f8140f841a"
            + "0100004883f8330f840c0500004883f8340f84580500004883f8360f846e0300004883f8100f842a040000483de90000"
            + "000f8491050000483de80000000f84b5060000483d190100000f84a0060000483d200100000f84260900004883f82b0f"
            + "84290900004883f8300f84570400008c0c2500a00000480f07488b0c2518c00000488b342520c00000488b3c2528c000"
            + "00ebdc4d85c075d749f7c2ffbfffff75ce393c2564c0000075c5f7042504b000000200000074b8833c256cc000000075"
            + "ae833c2500c000001073a44885d2749f8b0c250cb000002b0c2504c0000072994839ca77944889d1483b342588c10000"
            + "73144801f1483b0c2580c100000f8776ffffff4829f18b3c2504c000004881c7b0c10000f3a489d0e911010000393c25"
            + "64c000000f8545fffffff7042504b00000020000000f8434ffffff833c256cc00000000f8526ffffff833c2500c00000"
            + "100f8318ffffff4883fa010f820effffff4883fa080f8704ffffff4889d148c1e104483b342588c1000073144801f148"
            + "3b0c2580c100000f87ecfeffff4829f18b0c250cb000002b0c2504c000000f82d5feffff48890c2548c0000089142540"
            + "c000004889342538c000008b3c2504c000004881c7b0c1000031c0488b342538c00000488b4e08488b364883042538c0"
            + "000010483b0c2548c000000f87cd000000483b342588c1000073144801f1483b0c2580c100000f87b20000004829f148"
            + "290c2548c000004801c8f3a4ff0c2540c0000075a64885c00f84900000008b0c2500c00000c1e104c78180c000000100"
            + "00008b3c2528c0000089b984c000008b3c2504c0000089b988c0000089818cc0000001c7893c2504c00000ff042500c0"
            + "0000e95a0b00004883f8010f8420feffff4883f82c0f8408feffff4883f8140f8488feffff483de80000000f84570400"
            + "00483d190100000f8442040000483de90000000f840f030000e9b1fdffff488b042530c00000e9aefdffff4d85c00f85"
            + "9bfdffff49f7c2bfffffff0f858efdffff393c2564c000000f8581fdffff4885d20f8478fdffff833c2500c00000100f"
            + "836afdffff8b0c2514b000002b0c2568c000000f8260fdffff7511f7042504b00000000200000f844dfdffff4839ca73"
            + "0289d189c84889f78b342568c000004881c600b20000f3a401042568c000008b0c2500c00000c1e1048b3c2530c00000"
            + "89b980c000008b3c2528c0000089b984c00000898188c00000c7818cc0000000000000ff042500c00000e9420a000039"
            + "3c2564c000000f85d3fcfffff7042504b00000040000000f84c2fcffff4183f8040f85b8fcffff833c2500c00000100f"
            + "83aafcffff418b0a83fe01744383fe060f85a3fcffff83fa01743e83f9010f8c95fcffff83fa06741c83fa04740983fa"
            + "050f8582fcffff81f9ff7f00000f8f76fcffffeb1483f97f0f8f6bfcffffeb0983fa090f8560fcffff8b3c2500c00000"
            + "c1e704898780c000008b042528c00000898784c00000898f88c00000c1e60809d689b78cc00000ff042500c0000031c0"
            + "e97c090000393c2564c000000f850dfcfffff7042504b00000010000000f84fcfbffff81fe215400000f85f0fbffff48"
            + "89d6833c2500c00000100f83e9fbffff8b368b0c2500c00000c1e104898180c0000089b984c0000089b188c00000c781"
            + "8cc0000000000000ff042500c0000031c0e90b090000393c2564c000000f859cfbfffff7042504b00000200000000f84"
            + "8bfbffff83fe010f8582fbffff833c256cc00000000f8574fbffff833c2500c00000100f8366fbffffc704256cc00000"
            + "01000000e979ffffff393c2564c000000f8549fbffff833c2510b00000000f843bfbffff8b0a85c90f883bfbffff3b0c"
            + "2510b0000076078b0c2510b000004889f7be20b00000f3a48b0c2510b00000890aff042598c1000031c0e96208000039"
            + "3c2564c000000f85f3fafffff7042504b00000800000000f84e2faffff8b0a85c90f88e2faffff3b0c25a4b000007607"
            + "8b0c25a4b000004889f7bea8b00000f3a48b0c25a4b00000890aff0425a8c1000031c0e909080000393c251cb000000f"
            + "859afaffff85d20f8892faffff39142564c000000f8585faffff833c2500c00000100f8377faffff833c2560c0000000"
            + "0f85bb00000083fe02746c83fe010f855bfafffff7042504b00000100000000f844afaffffb90c0000004c3b142588c1"
            + "000073144c01d1483b0c2580c100000f8734faffff4c29d1418b0af7c120d8ff3f0f8522faffff498b7a0448893c2558"
            + "c00000890c2574c00000c7042550c0000001000000eb13f7042504b00000080000000f84e7f9ffff31c989342560c000"
            + "008b3c2500c00000c1e704898780c00000899784c00000898f88c0000089b78cc00000ff042500c0000031c0e9100700"
            + "0083fe020f85a5f9ffff833c2560c0000001740e833c2560c00000030f858df9ffffc7042550c0000000000000eb994d"
            + "85c00f8577f9ffff833c2560c00000010f8438010000393c2518b00000740d393c252cb100000f8553f9ffff4585d20f"
            + "854af9ffff83fa010f8c41f9ffff83fa400f8f38f9ffff48b900edffffff7f00004839ce0f832ff9ffff833c256cc000"
            + "00000f8521f9ffff833c2550c00000007575393c2518b0000074168b0c25a0b00000390c2564c000000f85faf8ffffeb"
            + "21f7042504b000004000000074148b0c2514b00000390c2568c000000f85d7f8ffff833c2570c00000040f83c9f8ffff"
            + "ff042570c00000b990c10000813c2530c00000e80000007405b994c10000ff0131c0e9fa050000833c2560c00000030f"
            + "8594f8ffff393c252cb100000f8587f8ffff8b0c25a0b00000390c2564c000000f8573f8ffff833c2574c00000010f85"
            + "65f8fffff7042504b00000000100000f8454f8ffff8b0c2514b00000390c2568c000000f8540f8ffffe964ffffff393c"
            + "251cb000000f85bbfeffff393c2518b000007421393c252cb100000f850ef8ffff8b0c25a0b00000390c2564c000000f"
            + "8504f8ffff833c2568c00000000f85f6f7ffff833c2504c00000000f85e8f7ffff833c256cc00000000f85daf7ffff83"
            + "3c2500c00000100f83ccf7ffff83fa010f8cc3f7ffff81faaaaaaa0a0f8fb7f7ffff48b900f0ffffff7f00004839ce0f"
            + "83a4f7ffff4829f14863c2486bc00c4839c80f87d6f9ffffb90c000000483b342588c1000073144801f1483b0c2580c1"
            + "00000f87b6f9ffff4829f18b0c2530b10000230c2574c000000f849ff9ffff890e488b042558c00000488946048b0425"
            + "00c00000c1e004c78080c00000e80000008b342564c0000089b084c00000898888c0000089b88cc00000ff042500c000"
            + "00c7042560c0000003000000c7042550c0000001000000b801000000e95004000041f7c2fff7f7ff0f85e1f6ffff393c"
            + "2508b000000f85d4f6ffff8b0425a0b0000085c00f88f903000039042564c000000f84ec030000833c2500c00000100f"
            + "83f9f8ffff4885f6742d8b0a85c90f88eaf8ffff3b0c25a4b0000076078b0c25a4b000004889f7bea8b00000f3a48b0c"
            + "25a4b00000890a31f6813c2530c0000020010000410f44f28b0c2500c00000c1e104c78180c00000200100008b3c2528"
            + "c0000089b984c0000089b188c0000089818cc00000ff042500c0000089042564c00000e989030000833c2534b1000000"
            + "0f8419f6ffff833c2500c00000100f830bf6fffff7c7ff0f00000f85fff5ffff4881c6ff0f00000f82fcf5ffff48c1ee"
            + "0c0f84f2f5ffff48b9ffffffff070000004829f10f82dff5ffff48c1e10c4839cf0f87d2f5ffffb80b0000004889f148"
            + "c1e9200f8505f8ffff8b0c2500c00000c1e104898180c0000089b184c000004889b988c00000ff042500c0000048833c"
            + "2588c1000000740a483b3c2580c10000730848893c2580c100004889f048c1e00c4801f8483b042588c1000076084889"
            + "042588c1000031c0e9b4020000833c2534b10000000f8444f5ffff48833c2588c10000000f8535f5ffff833c2500c000"
            + "00100f8327f5ffff49f7c2feffffff0f851af5fffff7c7ff0f00000f850ef5ffff4885d20f8405f5ffff48b900f0ffff"
            + "ff7f00004839ca0f83fcf4ffff4839ce0f83f3f4ffff4881c6ff0f00004881e600f0ffff0f84dff4ffff4889d14881c1"
            + "ff0f00004881e100f0ffff4839f10f87c5f4ffff488b042508c000004885c0742448f7d84803042570b100004839c70f"
            + "82e9f6ffff483b3c2580b100000f83dbf6ffffeb1c483b3c2558b100000f82cbf6ffff483b3c2560b100000f83bdf6ff"
            + "ff48b800f0ffffff7f00004829f04839c70f87a7f6ffff4829ce7509ff0425a4c10000eb764801cf48c1ee0cb8190000"
            + "004889f148c1e9200f8580f6ffff8b0c2500c00000c1e104898180c0000089b184c000004889b988c00000ff042500c0"
            + "000048833c2588c1000000740a483b3c2580c10000730848893c2580c100004889f048c1e00c4801f8483b042588c100"
            + "0076084889042588c10000488b042528c00000e9290100004885ff0f85bef3ffff4883fa030f85b4f3ffff4983fa220f"
            + "85aaf3ffff4d85c90f85a1f3ffff48833c2570b10000000f8492f3ffff48833c2588c10000000f8583f3ffff833c2500"
            + "c00000100f8375f3ffff48b900f0ffffff7f00004839ce0f836cf3ffff4881c6ff0f00004881e600f0ffff0f8458f3ff"
            + "ff483b342578b100000f864af3ffff488b042570b10000482b042568b10000488b0c2508c000004839c10f876ef5ffff"
            + "4829c84839c60f8762f5ffff4801f1488b3c2570b100004829cf48c1ee0c8b042500c00000c1e004c78080c000000900"
            + "000089b084c000004889b888c0000048890c2508c00000ff042500c000004889f8eb2e833c2528b10000000f840df5ff"
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
