package io.kvmserver.x86;

/**
 * Where the engine's own structures live in guest memory.
 *
 * <p>Guest virtual addresses equal guest physical addresses for everything the program sees, so
 * that host access to guest memory is a bounds check plus an offset. The low 64 KiB hold the
 * descriptor tables, the trap stubs and the exception stack (mapped, because an exception through
 * an unmapped IDT or TSS triple-faults), and the vDSO with its time page; page 0 stays unmapped
 * so that NULL faults. Page tables live in a pool above the program's address range, mapped
 * supervisor-only so that the CPU can walk them and the program cannot touch them.
 */
public final class GuestLayout {

    private GuestLayout() {
    }

    public static final long PAGE_SIZE = 4096;

    public static final long GDT = 0x1000;
    /** The TSS shares the GDT's page. */
    public static final long TSS = 0x1080;
    public static final long IDT = 0x2000;
    /**
     * {@code LSTAR}: the syscall entry, executable from CPL 3 and CPL 0. Its code, with the PVM
     * entry that answers calls in the guest ({@link TrapStub#FAST_SYSCALL_ENTRY}), takes the two
     * pages up to {@link #SYSCALL_ENTRY_END}.
     */
    public static final long SYSCALL_ENTRY = 0x3000;
    public static final long SYSCALL_ENTRY_END = 0x5000;
    /**
     * One 16-byte entry per exception vector, run at CPL 0: in the last page below the program's,
     * so that the syscall entry's code is one run of pages.
     */
    public static final long EXCEPTION_ENTRIES = 0xf000;
    /** The IST1/RSP0 stack every exception runs on; grows down from its top. */
    public static final long EXCEPTION_STACK_BOTTOM = 0x5000;
    public static final long EXCEPTION_STACK_TOP = 0x7000;
    /**
     * The page of the template's FPU restore ({@link TrapStub#FPU_RESTORE_ENTRY}): code, read-only,
     * executable at CPL 3 only on PVM (where the program's first entry after a reset starts there;
     * supervisor-only elsewhere). A page of its own, so that the syscall entry's pages are the
     * fast entry's to grow into.
     */
    public static final long FPU_RESTORE = 0x7000;
    /**
     * The time page ({@code [vvar]}): read-only for the program, written only by the host, and
     * the page just below the vDSO image, which finds it RIP-relative. Both live here, out of the
     * program's reach, so that no munmap or MAP_FIXED can put the program's memory where the host
     * writes the time.
     */
    public static final long VVAR = 0x8000;
    /** The vDSO image ({@code [vdso]}, {@code AT_SYSINFO_EHDR}): read and execute for the program. */
    public static final long VDSO = 0x9000;
    public static final long VDSO_SIZE = 0x1000;
    /**
     * The template's XSAVE image, which {@link TrapStub#FPU_RESTORE_ENTRY} restores at a request
     * VM's first entry after a reset: readable for the program (it is its own state at the
     * freeze), never writable or executable.
     */
    public static final long FPU_IMAGE = 0xd000;
    /**
     * The system call doorbell: the page the syscall entry writes to ({@code mov %cs, ...}) to
     * reach the host. It is mapped writable for CPL 3 (on PVM the entry runs there) to a
     * guest-physical page outside guest memory ({@link #doorbellPhysical}), so the write is an
     * MMIO exit, not a memory access: nothing is ever stored in it.
     */
    public static final long SYSCALL_DOORBELL = 0xa000;
    /**
     * Whether {@code rip} is in the engine's trap code: the syscall entry or an exception entry
     * (a vCPU stopped there is halfway through a call or an exception, not in the program).
     */
    public static boolean inTrapCode(long rip) {
        return (rip >= SYSCALL_ENTRY && rip < SYSCALL_ENTRY_END)
                || (rip >= EXCEPTION_ENTRIES && rip < EXCEPTION_ENTRIES + PAGE_SIZE);
    }

    /** First address a program may map (Linux's default {@code vm.mmap_min_addr}). */
    public static final long USER_START = 0x10000;

    /**
     * The guest-physical page behind {@link #SYSCALL_DOORBELL}: the first page after guest memory
     * of {@code memorySize} bytes, which no memory slot covers (slots never reach past the memory).
     */
    public static long doorbellPhysical(long memorySize) {
        return (memorySize + PAGE_SIZE - 1) & -PAGE_SIZE;
    }

    public static final int GDT_ENTRIES = 7;
    public static final int EXCEPTION_VECTORS = 32;

    public static final int KERNEL_CS = 0x08;
    public static final int KERNEL_SS = 0x10;
    public static final int USER_SS = 0x18 | 3;
    public static final int USER_CS = 0x20 | 3;
    public static final int TSS_SELECTOR = 0x28;

    /** Size of the CPU-pushed frame plus the error code on the exception stack. */
    public static final long EXCEPTION_FRAME = EXCEPTION_STACK_TOP - 6 * 8;
}
