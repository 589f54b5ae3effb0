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
    public static final long FAST_SYSCALL_END = FAST_SYSCALL_ENTRY + 0x12a9;

    /**
     * Where a rewritten call site's trampoline jumps instead of executing {@code syscall} (nested
     * PVM only, where the entry runs at CPL 3): it sets R11 from RFLAGS and clears the flags FMASK
     * clears, as the instruction would, and goes on as {@link #FAST_SYSCALL_ENTRY}. Inside the fast
     * entry's range, so that a vCPU stopped there is halfway through a call.
     */
    public static final long REWRITTEN_ENTRY = FAST_SYSCALL_ENTRY + 0x1281;

    /** The assembled {@code fast_syscall_entry} (trap-stub.S; TrapStubTest compares). */
    private static final String FAST_SYSCALL_ENTRY_CODE = ""
            + "41f7c3000100000f851801000048890c2518c000004889342520c0000048893c2528c000004889042530c000004883f8"
            + "0b0f845b0e00004883f8190f84260f00004883f8090f84a7100000483dba0000000f846109000085ff0f88c600000048"
            + "833c2588c10000000f851e0400004885c00f84720400004883f82d0f84520400004883f8010f84bb0100004883f82c0f"
            + "849b0100004883f8140f84790200004883f8330f84770700004883f8340f84dd0700004883f8360f84030500004883f8"
            + "100f84cc0500004883f8480f84a3060000483de90000000f84ee080000483de80000000f841f0a0000483d190100000f"
            + "840a0a0000483d200100000f849d0c00004883f82b0f84a00c00004883f8300f84070600004883f80d74364883f80e0f"
            + "84de0700008c0c2500a00000480f07488b042530c00000488b0c2518c00000488b342520c00000488b3c2528c00000eb"
            + "d44983fa0875ce8d4fff83f93f77d8480fa30c25b8c1000072cd4885d274094881fa0000010072bf4885f6742b83ff09"
            + "74b583ff1374b04881fe0000010072a7833c2500c000001073958b042504c000003d800d000077874885d2741e89fec1"
            + "e60581c6e0df00004889d7b904000000f348a5488b342520c000004885f67452488db860c20000b904000000f348a58b"
            + "0c2500c00000c1e104c78180c000000d0000008b3c2528c0000089b984c00000898188c0000083042504c0000020ff04"
            + "2500c00000ffcf480fab3c25b8c10000eb07ff0425acc1000031c0e9eb0f00004d85c00f85ecfeffff49f7c2ffbfffff"
            + "0f85dffeffff393c2564c000000f8598000000f7042504b00000020000000f84c1feffff833c256cc00000000f85b3fe"
            + "ffff8b0c250cb00000833c2500c00000100f83b0feffff4885d20f84a7feffff4881fe000001000f829afeffff2b0c25"
            + "04c000000f828dfeffff4839ca0f8784feffff4889d1483b342588c1000073144801f1483b0c2580c100000f8766feff"
            + "ff4829f18b3c2504c000004881c760c20000f3a489d0e9580100004883f8010f8530feffff83ff1f0f8727feffff0fa3"
            + "3c2588b100000f8319feffff8b0c258cb10000e961ffffff393c2564c000000f8500fefffff7042504b0000002000000"
            + "0f84effdffff833c256cc00000000f85e1fdffff833c2500c00000100f83d3fdffff4883fa010f82c9fdffff4883fa08"
            + "0f87bffdffff4881fe000001000f82b2fdffff4889d148c1e104483b342588c1000073144801f1483b0c2580c100000f"
            + "87a2fdffff4829f18b0c250cb000002b0c2504c000000f828bfdffff48890c2548c0000089142540c000004889342538"
            + "c000008b3c2504c000004881c760c2000031c0488b342538c00000488b4e08488b364883042538c0000010483b0c2548"
            + "c000000f8736fdffff4881fe000001000f8229fdffff483b342588c1000073144801f1483b0c2580c100000f870efdff"
            + "ff4829f148290c2548c000004801c8f3a4ff0c2540c0000075994885c00f84ecfcffff8b0c2500c00000c1e104c78180"
            + "c00000010000008b3c2528c0000089b984c000008b3c2504c0000089b988c0000089818cc0000001c7893c2504c00000"
            + "ff042500c00000e98f0d00004883f8010f84b0fdffff4883f82c0f8490fdffff4883f8140f846efeffff483de8000000"
            + "0f8452060000483d190100000f843d060000483de90000000f84fd040000e952fcffff4d85c00f8549fcffff49f7c2bf"
            + "ffffff0f853cfcffff393c2564c000000f852ffcffff4885d20f8426fcffff48b900f0ffffff7f00004829d10f8225fc"
            + "ffff4839ce0f871cfcffff4881fe000001000f820ffcffff833c2500c00000100f8301fcffff8b0c2514b000002b0c25"
            + "68c000000f82edfbffff7511f7042504b00000000200000f84dafbffff4839ca730289d189c84889f78b342568c00000"
            + "4881c600b20000f3a401042568c000008b0c2500c00000c1e1048b3c2530c0000089b980c000008b3c2528c0000089b9"
            + "84c00000898188c00000c7818cc0000000000000ff042500c00000e95b0c0000393c2564c000000f8558fbfffff70425"
            + "04b00000040000000f8447fbffff4183f8040f853dfbffff833c2500c00000100f832ffbffff4981fa000001000f8222"
            + "fbffff418b0a83fe01744383fe060f8523fbffff83fa01743e83f9010f8c15fbffff83fa06741c83fa04740983fa050f"
            + "8502fbffff81f9ff7f00000f8ff6faffffeb1483f97f0f8febfaffffeb0983fa090f85e0faffff8b3c2500c00000c1e7"
            + "04898780c000008b042528c00000898784c00000898f88c00000c1e60809d689b78cc00000ff042500c0000031c0e988"
            + "0b0000393c2564c000000f8585fafffff7042504b00000010000000f8474faffff81fe215400000f8568faffffc70425"
            + "d4c10000010000004889d6833c2500c00000100f835efaffff4881fe000001000f8251faffff8b368b0c2500c00000c1"
            + "e104898180c0000089b984c0000089b188c00000c7818cc0000000000000ff042500c0000031c0e9ff0a0000393c2564"
            + "c000000f85fcf9fffff7042504b00000200000000f84ebf9ffff83fe01740983fe020f85ddf9ffff833c256cc0000000"
            + "0f85cff9ffff833c2500c00000100f83c1f9ffffc704256cc0000001000000e974ffffff393c2564c000000f85a4f9ff"
            + "fff7042504b00000010000000f8493f9ffff833c2500c00000100f8385f9ffff83fe03742483fe040f8577f9fffff7c2"
            + "fcf7ffff0f856bf9ffffc70425d4c100000100000089d1eb10833c25d4c10000000f854ef9ffff31c98b3c2500c00000"
            + "c1e704898780c000008b042528c00000898784c00000898f88c0000089b78cc00000ff042500c0000031c083fe030f85"
            + "070a00008b042590b10000e9fb090000393c2564c000000f85f8f8ffff833c2510b00000000f84eaf8ffff4881fa0000"
            + "01000f82eff8ffff4881fe000001000f82e2f8ffff8b0a85c90f88d8f8ffff3b0c2510b0000076078b0c2510b0000048"
            + "89f7be20b00000f3a48b0c2510b00000890aff042598c1000031c0e98b090000393c2564c000000f8588f8fffff70425"
            + "04b00000800000000f8477f8ffff4881fa000001000f827cf8ffff4881fe000001000f826ff8ffff8b0a85c90f8865f8"
            + "ffff3b0c25a4b0000076078b0c25a4b000004889f7bea8b00000f3a48b0c25a4b00000890aff0425a8c1000031c0e918"
            + "0900004983fa080f8518f8ffff4885d2740d4881fa000001000f8206f8ffff488b0c2500e80000833c25c8c100000074"
            + "08488b0c25c0c100004885f674644881fe000001000f82ecf7ffff83ff020f87e3f7ffff488b0685ff75054809c8eb0b"
            + "83ff02740648f7d04821c84825fffefbff4889c648f7d64885342508e800000f85aaf7ffff4885d2740348890a488904"
            + "25c0c10000c70425c8c1000001000000eb084885d2740348890aff0425b0c1000031c0e9630800008b042510e80000ff"
            + "0425b4c10000e950080000393c251cb000000f854df7ffff85d20f8845f7ffff39142564c000000f8538f7ffff833c25"
            + "00c00000100f832af7ffff833c2560c00000000f85c800000083fe02747983fe010f850ef7fffff7042504b000001000"
            + "00000f84fdf6ffff4981fa000001000f82f0f6ffffb90c0000004c3b142588c1000073144c01d1483b0c2580c100000f"
            + "87e2f6ffff4c29d1418b0af7c120d8ff3f0f85d0f6ffff498b7a0448893c2558c00000890c2574c00000c7042550c000"
            + "0001000000eb13f7042504b00000080000000f848df6ffff31c989342560c000008b3c2500c00000c1e704898780c000"
            + "00899784c00000898f88c0000089b78cc00000ff042500c0000031c0e94a07000083fe020f854bf6ffff833c2560c000"
            + "0001740e833c2560c00000030f8533f6ffffc7042550c0000000000000eb994d85c00f851df6ffff833c2560c0000001"
            + "0f8438010000393c2518b00000740d393c252cb100000f85f9f5ffff4585d20f85f0f5ffff83fa010f8ce7f5ffff83fa"
            + "400f8fdef5ffff48b900edffffff7f00004839ce0f83ddf5ffff833c256cc00000000f85cff5ffff833c2550c0000000"
            + "7575393c2518b0000074168b0c25a0b00000390c2564c000000f85a8f5ffffeb21f7042504b000004000000074148b0c"
            + "2514b00000390c2568c000000f8585f5ffff833c2570c00000040f8377f5ffffff042570c00000b990c10000813c2530"
            + "c00000e80000007405b994c10000ff0131c0e934060000833c2560c00000030f8542f5ffff393c252cb100000f8535f5"
            + "ffff8b0c25a0b00000390c2564c000000f8521f5ffff833c2574c00000010f8513f5fffff7042504b00000000100000f"
            + "8402f5ffff8b0c2514b00000390c2568c000000f85eef4ffffe964ffffff393c251cb000000f85bbfeffff393c2518b0"
            + "00007421393c252cb100000f85b4f4ffff8b0c25a0b00000390c2564c000000f85b2f4ffff833c2568c00000000f85a4"
            + "f4ffff833c2504c00000000f8596f4ffff833c256cc00000000f8588f4ffff833c2500c00000100f837af4ffff83fa01"
            + "0f8c71f4ffff81faaaaaaa0a0f8f65f4ffff4881fe000001000f8258f4ffff48b900f0ffffff7f00004839ce0f8345f4"
            + "ffff4829f14863c2486bc00c4839c80f872af4ffffb90c000000483b342588c1000073144801f1483b0c2580c100000f"
            + "870af4ffff4829f18b0c2530b10000230c2574c000000f84f3f3ffff890e488b042558c00000488946048b042500c000"
            + "00c1e004c78080c00000e80000008b342564c0000089b084c00000898888c0000089b88cc00000ff042500c00000c704"
            + "2560c0000003000000c7042550c0000001000000b801000000e97d04000041f7c2fff7f7ff0f857af3ffff393c2508b0"
            + "00000f856df3ffff8b0425a0b0000085c00f882604000039042564c000000f8419040000833c2500c00000100f834df3"
            + "ffff4885f674474881fa000001000f823bf3ffff4881fe000001000f822ef3ffff8b0a85c90f8824f3ffff3b0c25a4b0"
            + "000076078b0c25a4b000004889f7bea8b00000f3a48b0c25a4b00000890a31f6813c2530c0000020010000410f44f2f7"
            + "c600080000740bc70425d4c10000010000008b0c2500c00000c1e104c78180c00000200100008b3c2528c0000089b984"
            + "c0000089b188c0000089818cc00000ff042500c0000089042564c00000e989030000833c2534b10000000f8485f2ffff"
            + "833c2500c00000100f8377f2fffff7c7ff0f00000f856bf2ffff4881c6ff0f00000f8270f2ffff48c1ee0c0f8466f2ff"
            + "ff48b9ffffffff070000004829f10f8253f2ffff48c1e10c4839cf0f8746f2ffffb80b0000004889f148c1e9200f852c"
            + "f2ffff8b0c2500c00000c1e104898180c0000089b184c000004889b988c00000ff042500c0000048833c2588c1000000"
            + "740a483b3c2580c10000730848893c2580c100004889f048c1e00c4801f8483b042588c1000076084889042588c10000"
            + "31c0e9b4020000833c2534b10000000f84b0f1ffff48833c2588c10000000f85a1f1ffff833c2500c00000100f8393f1"
            + "ffff49f7c2feffffff0f8586f1fffff7c7ff0f00000f857af1ffff4885d20f8471f1ffff48b900f0ffffff7f00004839"
            + "ca0f8370f1ffff4839ce0f8367f1ffff4881c6ff0f00004881e600f0ffff0f8453f1ffff4889d14881c1ff0f00004881"
            + "e100f0ffff4839f10f8739f1ffff488b042508c000004885c0742448f7d84803042570b100004839c70f8210f1ffff48"
            + "3b3c2580b100000f8302f1ffffeb1c483b3c2558b100000f82f2f0ffff483b3c2560b100000f83e4f0ffff48b800f0ff"
            + "ffff7f00004829f04839c70f87cef0ffff4829ce7509ff0425a4c10000eb764801cf48c1ee0cb8190000004889f148c1"
            + "e9200f85a7f0ffff8b0c2500c00000c1e104898180c0000089b184c000004889b988c00000ff042500c0000048833c25"
            + "88c1000000740a483b3c2580c10000730848893c2580c100004889f048c1e00c4801f8483b042588c100007608488904"
            + "2588c10000488b042528c00000e9290100004885ff0f852af0ffff4883fa030f8520f0ffff4983fa220f8516f0ffff4d"
            + "85c90f850df0ffff48833c2570b10000000f84feefffff48833c2588c10000000f85efefffff833c2500c00000100f83"
            + "e1efffff48b900f0ffffff7f00004839ce0f83e0efffff4881c6ff0f00004881e600f0ffff0f84ccefffff483b342578"
            + "b100000f86beefffff488b042570b10000482b042568b10000488b0c2508c000004839c10f8795efffff4829c84839c6"
            + "0f8789efffff4801f1488b3c2570b100004829cf48c1ee0c8b042500c00000c1e004c78080c000000900000089b084c0"
            + "00004889b888c0000048890c2508c00000ff042500c000004889f8eb2e833c2528b10000000f8434efffffb9a0c10000"
            + "813c2530c00000200100007405b99cc10000ff0148c7c0f5ffffff8b3425d0c1000083fe087328c1e604488b3c2518c0"
            + "00004889bee0c10000488b3c2530c000004889bee8c10000ff0425d0c10000488b342520c00000488b3c2528c0000048"
            + "8b0c2518c000004889242510c00000bc80c0000041539d488b242510c00000ffe14889242510c00000bc80c000009c4c"
            + "8b1c2448812424ffbafbff9d488b242510c00000e957edffff";

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
