package io.kvmserver.x86;

import com.sun.jna.Memory;
import io.kvmserver.kvm.KvmAbi;
import io.kvmserver.kvm.VcpuFd;
import io.kvmserver.memory.GuestMemory;

/**
 * Puts a vCPU into 64-bit long mode with the program at CPL 3, and writes the descriptor tables
 * and trap stub that make system calls and exceptions reach the host.
 */
public final class CpuSetup {

    public static final int MSR_STAR = 0xc0000081;
    public static final int MSR_LSTAR = 0xc0000082;
    public static final int MSR_CSTAR = 0xc0000083;
    public static final int MSR_FMASK = 0xc0000084;
    public static final int MSR_FS_BASE = 0xc0000100;
    public static final int MSR_GS_BASE = 0xc0000101;
    public static final int MSR_KERNEL_GS_BASE = 0xc0000102;

    /** PE, MP, ET, NE, WP, AM, PG: WP so that even CPL 0 cannot write a read-only page. */
    static final long CR0 = 0x8005_0033L;
    /** PAE, OSFXSR, OSXMMEXCPT, OSXSAVE. No SMAP: this nested KVM cannot emulate stac/clac. */
    static final long CR4 = 0x20L | 0x200L | 0x400L | 0x4_0000L;
    /** SCE, LME, LMA, NXE. */
    static final long EFER = 0x1L | 0x100L | 0x400L | 0x800L;
    /** syscall clears TF, DF, IF, IOPL, NT and AC, as Linux does. */
    static final long FMASK = 0x4_7700L;

    /** RFLAGS bits a program may set; the rest are forced (IF on, IOPL 0) on every return. */
    public static final long USER_RFLAGS_MASK = 0x1L | 0x4L | 0x10L | 0x40L | 0x80L | 0x100L | 0x400L
            | 0x800L | 0x4_0000L | 0x20_0000L;
    public static final long USER_RFLAGS_FIXED = 0x202L;

    private CpuSetup() {
    }

    /** Writes the GDT, TSS, IDT and trap stubs into guest memory and maps their pages. */
    public static void writeSystemRegion(GuestMemory memory, PageTables tables) {
        long[] gdt = {
            0L,
            0x00209a0000000000L, // 0x08 kernel code, 64-bit
            0x0000920000000000L, // 0x10 kernel data
            0x0000f20000000000L, // 0x18 user data, DPL 3
            0x0020fa0000000000L, // 0x20 user code, 64-bit, DPL 3
            tssDescriptorLow(GuestLayout.TSS, 0x67),
            GuestLayout.TSS >>> 32,
        };
        for (int i = 0; i < gdt.length; i++) {
            memory.putLong(GuestLayout.GDT + i * 8L, gdt[i]);
        }
        // 64-bit TSS: RSP0 at +4, IST1 at +36, I/O map base at +102 beyond the limit (no bitmap).
        memory.putLong(GuestLayout.TSS + 4, GuestLayout.EXCEPTION_STACK_TOP);
        memory.putLong(GuestLayout.TSS + 36, GuestLayout.EXCEPTION_STACK_TOP);
        memory.putShort(GuestLayout.TSS + 102, (short) 0x68);

        for (int v = 0; v < GuestLayout.EXCEPTION_VECTORS; v++) {
            long handler = TrapStub.exceptionEntry(v);
            long low = (handler & 0xffffL) | ((long) GuestLayout.KERNEL_CS << 16) | (1L << 32) // IST1
                    | (0x8eL << 40) // present, DPL 0, interrupt gate
                    | (((handler >>> 16) & 0xffffL) << 48);
            memory.putLong(GuestLayout.IDT + v * 16L, low);
            memory.putLong(GuestLayout.IDT + v * 16L + 8, handler >>> 32);
        }
        memory.write(GuestLayout.SYSCALL_ENTRY, TrapStub.syscallEntry());
        memory.write(TrapStub.FAST_SYSCALL_ENTRY, TrapStub.fastSyscallEntry());
        // int3 around the restore: a jump into the rest of its page traps at once (SIGSEGV)
        // rather than running through zeros (add %al, (%rax)) into the next page.
        memory.fill(GuestLayout.FPU_RESTORE, GuestLayout.PAGE_SIZE, (byte) 0xcc);
        memory.write(TrapStub.FPU_RESTORE_ENTRY, TrapStub.fpuRestoreEntry());
        memory.putLong(GuestCallPages.RESUME_RIP, TrapStub.FPU_RESTORE_REFUSED); // no restore due
        // Nothing to answer in the guest until the host says so.
        memory.putInt(GuestCallPages.CONNECTION_FD, -1);
        memory.putInt(GuestCallPages.LISTENER_FD, -1);
        memory.putInt(GuestCallPages.EPOLL_FD, -1);
        memory.putInt(GuestCallPages.EPOLL_CTL_FD, -1);
        memory.putInt(GuestCallPages.ACCEPT_FD, -1);
        memory.putInt(GuestCallPages.EPOLL_ACCEPT_FD, -1);
        memory.putInt(GuestCallPages.QUEUED_CONNECTION_FD, -1);
        memory.write(GuestLayout.EXCEPTION_ENTRIES, TrapStub.exceptionEntries());

        long page = GuestLayout.PAGE_SIZE;
        tables.set(GuestLayout.GDT, page, PageTables.PRESENT | PageTables.WRITABLE | PageTables.NO_EXECUTE);
        tables.set(GuestLayout.IDT, page, PageTables.PRESENT | PageTables.NO_EXECUTE);
        // The syscall entry must be executable at CPL 3 as well: on PVM hosts syscall stays there.
        tables.set(GuestLayout.SYSCALL_ENTRY, GuestLayout.SYSCALL_ENTRY_END - GuestLayout.SYSCALL_ENTRY,
                PageTables.PRESENT | PageTables.USER);
        // Supervisor-only until the VM is known to restore its FPU state at CPL 3 (mapFpuRestoreForUserMode).
        tables.set(GuestLayout.FPU_RESTORE, page, PageTables.PRESENT);
        tables.set(GuestLayout.EXCEPTION_ENTRIES, page, PageTables.PRESENT);
        tables.set(GuestCallPages.ANSWERS, page, PageTables.PRESENT | PageTables.USER | PageTables.NO_EXECUTE);
        tables.set(GuestCallPages.QUEUE, page,
                PageTables.PRESENT | PageTables.USER | PageTables.WRITABLE | PageTables.NO_EXECUTE);
        tables.set(GuestLayout.FPU_IMAGE, page, PageTables.PRESENT | PageTables.USER | PageTables.NO_EXECUTE);
        // Every action SIG_DFL, as in a new process, until the host writes the process's.
        tables.set(GuestCallPages.DISPOSITIONS, page, PageTables.PRESENT | PageTables.USER | PageTables.NO_EXECUTE);
        tables.mapDoorbell(GuestLayout.SYSCALL_DOORBELL, GuestLayout.doorbellPhysical(memory.size()));
        tables.set(GuestLayout.EXCEPTION_STACK_BOTTOM, GuestLayout.EXCEPTION_STACK_TOP - GuestLayout.EXCEPTION_STACK_BOTTOM,
                PageTables.PRESENT | PageTables.WRITABLE | PageTables.NO_EXECUTE);
    }

    /**
     * Makes the FPU restore's page executable at CPL 3, for VMs whose first entry after a reset
     * starts there (PVM, where {@code syscall} stays at CPL 3 and the host avoids
     * {@code KVM_SET_XSAVE}). Elsewhere it stays out of the program's reach, as any page below
     * {@code mmap_min_addr} is on Linux.
     */
    public static void mapFpuRestoreForUserMode(PageTables tables) {
        tables.set(GuestLayout.FPU_RESTORE, GuestLayout.PAGE_SIZE, PageTables.PRESENT | PageTables.USER);
    }

    private static long tssDescriptorLow(long base, long limit) {
        return (limit & 0xffffL) | ((base & 0xffffffL) << 16) | (0x89L << 40) | (((limit >>> 16) & 0xfL) << 48)
                | (((base >>> 24) & 0xffL) << 56);
    }

    /**
     * {@link #configure} the vCPU, and set every general register (sync regs push them all at the
     * first run) to start CPL 3 code at {@code rip} with the stack at {@code rsp}.
     */
    public static void startUserCode(VcpuFd vcpu, long pageTableRoot, long xcr0, long rip, long rsp) {
        configure(vcpu, pageTableRoot, xcr0);
        for (int r = KvmAbi.RAX; r <= KvmAbi.R15; r += 8) {
            vcpu.setReg(r, 0);
        }
        vcpu.setReg(KvmAbi.RIP, rip);
        vcpu.setReg(KvmAbi.RSP, rsp);
        vcpu.setReg(KvmAbi.RFLAGS, USER_RFLAGS_FIXED);
    }

    /** Long mode, CPL 3 segments, our descriptor tables, syscall MSRs and every XSAVE feature. */
    public static void configure(VcpuFd vcpu, long pageTableRoot, long xcr0) {
        configure(vcpu, pageTableRoot, xcr0, GuestLayout.SYSCALL_ENTRY);
    }

    /**
     * {@link #configure(VcpuFd, long, long)} with {@code syscallEntry} in LSTAR: the plain entry,
     * or {@link TrapStub#FAST_SYSCALL_ENTRY} where {@code syscall} is known to stay at CPL 3.
     */
    public static void configure(VcpuFd vcpu, long pageTableRoot, long xcr0, long syscallEntry) {
        Memory sregs = new Memory(KvmAbi.SREGS_SIZE);
        vcpu.getSregs(sregs);
        segment(sregs, KvmAbi.SREGS_CS, GuestLayout.USER_CS, 11, 3, true);
        for (int seg : new int[] {KvmAbi.SREGS_DS, KvmAbi.SREGS_ES, KvmAbi.SREGS_FS, KvmAbi.SREGS_GS, KvmAbi.SREGS_SS}) {
            segment(sregs, seg, GuestLayout.USER_SS, 3, 3, false);
        }
        long tr = KvmAbi.SREGS_TR;
        sregs.setLong(tr + KvmAbi.SEG_BASE, GuestLayout.TSS);
        sregs.setInt(tr + KvmAbi.SEG_LIMIT, 0x67);
        sregs.setShort(tr + KvmAbi.SEG_SELECTOR, (short) GuestLayout.TSS_SELECTOR);
        sregs.setByte(tr + KvmAbi.SEG_TYPE, (byte) 11);
        sregs.setByte(tr + KvmAbi.SEG_PRESENT, (byte) 1);
        sregs.setByte(tr + KvmAbi.SEG_DPL, (byte) 0);
        sregs.setByte(tr + KvmAbi.SEG_S, (byte) 0);
        sregs.setByte(tr + KvmAbi.SEG_L, (byte) 0);
        sregs.setByte(tr + KvmAbi.SEG_G, (byte) 0);
        sregs.setByte(tr + KvmAbi.SEG_UNUSABLE, (byte) 0);
        sregs.setLong(KvmAbi.SREGS_GDT + KvmAbi.DTABLE_BASE, GuestLayout.GDT);
        sregs.setShort(KvmAbi.SREGS_GDT + KvmAbi.DTABLE_LIMIT, (short) (GuestLayout.GDT_ENTRIES * 8 - 1));
        sregs.setLong(KvmAbi.SREGS_IDT + KvmAbi.DTABLE_BASE, GuestLayout.IDT);
        sregs.setShort(KvmAbi.SREGS_IDT + KvmAbi.DTABLE_LIMIT, (short) (GuestLayout.EXCEPTION_VECTORS * 16 - 1));
        sregs.setLong(KvmAbi.SREGS_CR0, CR0);
        sregs.setLong(KvmAbi.SREGS_CR3, pageTableRoot);
        sregs.setLong(KvmAbi.SREGS_CR4, CR4);
        sregs.setLong(KvmAbi.SREGS_EFER, EFER);
        vcpu.setSregs(sregs);

        long[][] msrs = {
            {MSR_STAR, ((long) (GuestLayout.KERNEL_SS) << 48) | ((long) GuestLayout.KERNEL_CS << 32)},
            {MSR_LSTAR, syscallEntry},
            {MSR_CSTAR, GuestLayout.SYSCALL_ENTRY},
            {MSR_FMASK, FMASK},
            {MSR_FS_BASE, 0},
            {MSR_GS_BASE, 0},
            {MSR_KERNEL_GS_BASE, 0},
        };
        vcpu.setMsrs(msrBlock(msrs));
        // Every guest reads the host's TSC, so that one time page serves every VM (vdso.GuestClock).
        if (vcpu.hasTscOffset()) {
            vcpu.setTscOffset(0);
        }

        Memory xcrs = new Memory(KvmAbi.XCRS_SIZE);
        xcrs.clear();
        xcrs.setInt(0, 1); // nr_xcrs
        xcrs.setInt(8, 0); // XCR0
        xcrs.setLong(16, xcr0);
        vcpu.setXcrs(xcrs);
    }

    /**
     * Puts a {@link #configure configured} vCPU at CPL 0 (kernel code and stack segments), for
     * the start-up check of the system call path where {@code syscall} switches privilege: the
     * engine never runs a program there.
     */
    public static void enterKernelMode(VcpuFd vcpu) {
        Memory sregs = new Memory(KvmAbi.SREGS_SIZE);
        vcpu.getSregs(sregs);
        segment(sregs, KvmAbi.SREGS_CS, GuestLayout.KERNEL_CS, 11, 0, true);
        segment(sregs, KvmAbi.SREGS_SS, GuestLayout.KERNEL_SS, 3, 0, false);
        vcpu.setSregs(sregs);
    }

    /** A {@code struct kvm_msrs} holding {@code {index, value}} pairs. */
    public static Memory msrBlock(long[][] msrs) {
        Memory block = new Memory(KvmAbi.MSRS_ENTRIES + (long) msrs.length * KvmAbi.MSR_ENTRY_SIZE);
        block.clear();
        block.setInt(0, msrs.length);
        for (int i = 0; i < msrs.length; i++) {
            long entry = KvmAbi.MSRS_ENTRIES + (long) i * KvmAbi.MSR_ENTRY_SIZE;
            block.setInt(entry, (int) msrs[i][0]);
            block.setLong(entry + 8, msrs[i][1]);
        }
        return block;
    }

    private static void segment(Memory sregs, long offset, int selector, int type, int dpl, boolean code) {
        sregs.setLong(offset + KvmAbi.SEG_BASE, 0);
        sregs.setInt(offset + KvmAbi.SEG_LIMIT, 0xffffffff);
        sregs.setShort(offset + KvmAbi.SEG_SELECTOR, (short) selector);
        sregs.setByte(offset + KvmAbi.SEG_TYPE, (byte) type);
        sregs.setByte(offset + KvmAbi.SEG_PRESENT, (byte) 1);
        sregs.setByte(offset + KvmAbi.SEG_DPL, (byte) dpl);
        sregs.setByte(offset + KvmAbi.SEG_DB, (byte) (code ? 0 : 1));
        sregs.setByte(offset + KvmAbi.SEG_S, (byte) 1);
        sregs.setByte(offset + KvmAbi.SEG_L, (byte) (code ? 1 : 0));
        sregs.setByte(offset + KvmAbi.SEG_G, (byte) 1);
        sregs.setByte(offset + KvmAbi.SEG_UNUSABLE, (byte) 0);
    }
}
