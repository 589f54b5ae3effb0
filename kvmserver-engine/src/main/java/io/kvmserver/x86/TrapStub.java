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
    public static final long FAST_SYSCALL_END = FAST_SYSCALL_ENTRY + 0xeaf;

    /** The assembled {@code fast_syscall_entry} (trap-stub.S; TrapStubTest compares). */
    private static final String FAST_SYSCALL_ENTRY_CODE = ""
            + "41f7c3000100000f85f200000048890c2518c000004889342520c0000048893c2528c000004889042530c000004883f8"
            + "0b0f84bd0a00004883f8190f84880b00004883f8090f84090d000085ff0f88ac00000048833c2588c10000000f85a502"
            + "00004885c00f84060300004883f82d0f84e60200004883f8010f84b20000004883f82c0f849a0000004883f8140f841a"
            + "0100004883f8330f84280500004883f8340f84740500004883f8360f848a0300004883f8100f8446040000483de90000"
            + "000f84ad050000483de80000000f84d1060000483d190100000f84bc060000483d200100000f84420900004883f82b0f"
            + "84450900004883f8300f84730400008c0c2500a00000480f07488b0c2518c00000488b342520c00000488b3c2528c000"
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
            + "0000e9760b00004883f8010f8420feffff4883f82c0f8408feffff4883f8140f8488feffff483de80000000f84730400"
            + "00483d190100000f845e040000483de90000000f842b030000e9b1fdffff488b042530c00000e9aefdffff4d85c00f85"
            + "9bfdffff49f7c2bfffffff0f858efdffff393c2564c000000f8581fdffff4885d20f8478fdffff48b900f0ffffff7f00"
            + "004829d10f826ffdffff4839ce0f8766fdffff833c2500c00000100f834efdffff8b0c2514b000002b0c2568c000000f"
            + "8244fdffff7511f7042504b00000000200000f8431fdffff4839ca730289d189c84889f78b342568c000004881c600b2"
            + "0000f3a401042568c000008b0c2500c00000c1e1048b3c2530c0000089b980c000008b3c2528c0000089b984c0000089"
            + "8188c00000c7818cc0000000000000ff042500c00000e9420a0000393c2564c000000f85b7fcfffff7042504b0000004"
            + "0000000f84a6fcffff4183f8040f859cfcffff833c2500c00000100f838efcffff418b0a83fe01744383fe060f8587fc"
            + "ffff83fa01743e83f9010f8c79fcffff83fa06741c83fa04740983fa050f8566fcffff81f9ff7f00000f8f5afcffffeb"
            + "1483f97f0f8f4ffcffffeb0983fa090f8544fcffff8b3c2500c00000c1e704898780c000008b042528c00000898784c0"
            + "0000898f88c00000c1e60809d689b78cc00000ff042500c0000031c0e97c090000393c2564c000000f85f1fbfffff704"
            + "2504b00000010000000f84e0fbffff81fe215400000f85d4fbffff4889d6833c2500c00000100f83cdfbffff8b368b0c"
            + "2500c00000c1e104898180c0000089b984c0000089b188c00000c7818cc0000000000000ff042500c0000031c0e90b09"
            + "0000393c2564c000000f8580fbfffff7042504b00000200000000f846ffbffff83fe010f8566fbffff833c256cc00000"
            + "000f8558fbffff833c2500c00000100f834afbffffc704256cc0000001000000e979ffffff393c2564c000000f852dfb"
            + "ffff833c2510b00000000f841ffbffff8b0a85c90f881ffbffff3b0c2510b0000076078b0c2510b000004889f7be20b0"
            + "0000f3a48b0c2510b00000890aff042598c1000031c0e962080000393c2564c000000f85d7fafffff7042504b0000080"
            + "0000000f84c6faffff8b0a85c90f88c6faffff3b0c25a4b0000076078b0c25a4b000004889f7bea8b00000f3a48b0c25"
            + "a4b00000890aff0425a8c1000031c0e909080000393c251cb000000f857efaffff85d20f8876faffff39142564c00000"
            + "0f8569faffff833c2500c00000100f835bfaffff833c2560c00000000f85bb00000083fe02746c83fe010f853ffaffff"
            + "f7042504b00000100000000f842efaffffb90c0000004c3b142588c1000073144c01d1483b0c2580c100000f8718faff"
            + "ff4c29d1418b0af7c120d8ff3f0f8506faffff498b7a0448893c2558c00000890c2574c00000c7042550c00000010000"
            + "00eb13f7042504b00000080000000f84cbf9ffff31c989342560c000008b3c2500c00000c1e704898780c00000899784"
            + "c00000898f88c0000089b78cc00000ff042500c0000031c0e91007000083fe020f8589f9ffff833c2560c0000001740e"
            + "833c2560c00000030f8571f9ffffc7042550c0000000000000eb994d85c00f855bf9ffff833c2560c00000010f843801"
            + "0000393c2518b00000740d393c252cb100000f8537f9ffff4585d20f852ef9ffff83fa010f8c25f9ffff83fa400f8f1c"
            + "f9ffff48b900edffffff7f00004839ce0f8313f9ffff833c256cc00000000f8505f9ffff833c2550c00000007575393c"
            + "2518b0000074168b0c25a0b00000390c2564c000000f85def8ffffeb21f7042504b000004000000074148b0c2514b000"
            + "00390c2568c000000f85bbf8ffff833c2570c00000040f83adf8ffffff042570c00000b990c10000813c2530c00000e8"
            + "0000007405b994c10000ff0131c0e9fa050000833c2560c00000030f8578f8ffff393c252cb100000f856bf8ffff8b0c"
            + "25a0b00000390c2564c000000f8557f8ffff833c2574c00000010f8549f8fffff7042504b00000000100000f8438f8ff"
            + "ff8b0c2514b00000390c2568c000000f8524f8ffffe964ffffff393c251cb000000f85bbfeffff393c2518b000007421"
            + "393c252cb100000f85f2f7ffff8b0c25a0b00000390c2564c000000f85e8f7ffff833c2568c00000000f85daf7ffff83"
            + "3c2504c00000000f85ccf7ffff833c256cc00000000f85bef7ffff833c2500c00000100f83b0f7ffff83fa010f8ca7f7"
            + "ffff81faaaaaaa0a0f8f9bf7ffff48b900f0ffffff7f00004839ce0f8388f7ffff4829f14863c2486bc00c4839c80f87"
            + "baf9ffffb90c000000483b342588c1000073144801f1483b0c2580c100000f879af9ffff4829f18b0c2530b10000230c"
            + "2574c000000f8483f9ffff890e488b042558c00000488946048b042500c00000c1e004c78080c00000e80000008b3425"
            + "64c0000089b084c00000898888c0000089b88cc00000ff042500c00000c7042560c0000003000000c7042550c0000001"
            + "000000b801000000e95004000041f7c2fff7f7ff0f85c5f6ffff393c2508b000000f85b8f6ffff8b0425a0b0000085c0"
            + "0f88f903000039042564c000000f84ec030000833c2500c00000100f83ddf8ffff4885f6742d8b0a85c90f88cef8ffff"
            + "3b0c25a4b0000076078b0c25a4b000004889f7bea8b00000f3a48b0c25a4b00000890a31f6813c2530c0000020010000"
            + "410f44f28b0c2500c00000c1e104c78180c00000200100008b3c2528c0000089b984c0000089b188c0000089818cc000"
            + "00ff042500c0000089042564c00000e989030000833c2534b10000000f84fdf5ffff833c2500c00000100f83eff5ffff"
            + "f7c7ff0f00000f85e3f5ffff4881c6ff0f00000f82e0f5ffff48c1ee0c0f84d6f5ffff48b9ffffffff070000004829f1"
            + "0f82c3f5ffff48c1e10c4839cf0f87b6f5ffffb80b0000004889f148c1e9200f85e9f7ffff8b0c2500c00000c1e10489"
            + "8180c0000089b184c000004889b988c00000ff042500c0000048833c2588c1000000740a483b3c2580c1000073084889"
            + "3c2580c100004889f048c1e00c4801f8483b042588c1000076084889042588c1000031c0e9b4020000833c2534b10000"
            + "000f8428f5ffff48833c2588c10000000f8519f5ffff833c2500c00000100f830bf5ffff49f7c2feffffff0f85fef4ff"
            + "fff7c7ff0f00000f85f2f4ffff4885d20f84e9f4ffff48b900f0ffffff7f00004839ca0f83e0f4ffff4839ce0f83d7f4"
            + "ffff4881c6ff0f00004881e600f0ffff0f84c3f4ffff4889d14881c1ff0f00004881e100f0ffff4839f10f87a9f4ffff"
            + "488b042508c000004885c0742448f7d84803042570b100004839c70f82cdf6ffff483b3c2580b100000f83bff6ffffeb"
            + "1c483b3c2558b100000f82aff6ffff483b3c2560b100000f83a1f6ffff48b800f0ffffff7f00004829f04839c70f878b"
            + "f6ffff4829ce7509ff0425a4c10000eb764801cf48c1ee0cb8190000004889f148c1e9200f8564f6ffff8b0c2500c000"
            + "00c1e104898180c0000089b184c000004889b988c00000ff042500c0000048833c2588c1000000740a483b3c2580c100"
            + "00730848893c2580c100004889f048c1e00c4801f8483b042588c1000076084889042588c10000488b042528c00000e9"
            + "290100004885ff0f85a2f3ffff4883fa030f8598f3ffff4983fa220f858ef3ffff4d85c90f8585f3ffff48833c2570b1"
            + "0000000f8476f3ffff48833c2588c10000000f8567f3ffff833c2500c00000100f8359f3ffff48b900f0ffffff7f0000"
            + "4839ce0f8350f3ffff4881c6ff0f00004881e600f0ffff0f843cf3ffff483b342578b100000f862ef3ffff488b042570"
            + "b10000482b042568b10000488b0c2508c000004839c10f8752f5ffff4829c84839c60f8746f5ffff4801f1488b3c2570"
            + "b100004829cf48c1ee0c8b042500c00000c1e004c78080c000000900000089b084c000004889b888c0000048890c2508"
            + "c00000ff042500c000004889f8eb2e833c2528b10000000f84f1f4ffffb9a0c10000813c2530c00000200100007405b9"
            + "9cc10000ff0148c7c0f5ffffff488b342520c00000488b3c2528c00000488b0c2518c000004889242510c00000bc80c0"
            + "000041539d488b242510c00000ffe1";

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
