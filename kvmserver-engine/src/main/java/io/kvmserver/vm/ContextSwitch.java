package io.kvmserver.vm;

import com.sun.jna.Memory;
import io.kvmserver.kvm.KvmAbi;
import io.kvmserver.kvm.VcpuFd;
import io.kvmserver.linux.FpuFormat;
import io.kvmserver.linux.UserContext;
import io.kvmserver.memory.GuestMemory;
import io.kvmserver.x86.CpuSetup;
import io.kvmserver.x86.GuestCallPages;
import io.kvmserver.x86.GuestLayout;
import io.kvmserver.x86.TrapStub;

/**
 * Moves a guest thread's user-mode CPU state between the vCPU and a {@link UserContext}: what
 * threads, signal handlers and {@code rt_sigreturn} need, on the one vCPU a VM has.
 *
 * <p>Where the user state is depends on how the vCPU stopped ({@link Stop}): after a system call
 * the return address is in RCX and the flags in R11; after a fault (or at a frozen wait returned
 * to through the exception frame) RIP, RFLAGS and RSP are in the exception frame; after a time
 * slice the vCPU is in user mode and they are in the registers.
 *
 * <p>Loading a context never changes the special registers: when the vCPU is at CPL 0 in the
 * trap stub (an exception entry; the syscall entry on hardware VMX), the context is returned to
 * through an {@code iretq} frame the host writes on the exception stack, and the vCPU continues at
 * the {@code iretq} of an exception entry; when it is at CPL 3 (user code, or the syscall entry on
 * PVM, where {@code syscall} does not change privilege), the registers are simply set.
 */
final class ContextSwitch {

    /** How the vCPU last stopped. */
    enum Stop {
        /** {@code syscall} entered the stub at CPL 0 (hardware): user RSP is still in RSP. */
        SYSCALL_DIRECT,
        /**
         * {@code syscall} stayed at CPL 3 (PVM): the vCPU is in user mode at the stub's doorbell
         * write, user RSP in RSP; the host returns by setting RIP and RFLAGS.
         */
        SYSCALL_IN_USER_MODE,
        /**
         * At the {@code syscall} of a frozen wait, to be returned to through the exception frame
         * (the template froze with the vCPU at CPL 0, as on hardware VMX).
         */
        SYSCALL_AT_FRAME,
        /** A CPU exception in user mode: the exception frame holds RIP, RFLAGS and RSP. */
        EXCEPTION,
        /** Interrupted in user mode (a time slice ended): everything is in the registers. */
        USER
    }

    /** The {@code add rsp, 8; iretq} of the #GP entry, which has no dummy push. */
    private static final long IRET_TAIL = TrapStub.exceptionEntry(13) + 2;
    private static final long FRAME = GuestLayout.EXCEPTION_FRAME;
    private static final int[] GPR = {KvmAbi.RAX, KvmAbi.RAX + 8, KvmAbi.RAX + 16, KvmAbi.RAX + 24, KvmAbi.RAX + 32,
        KvmAbi.RAX + 40, KvmAbi.RSP, KvmAbi.RAX + 56, KvmAbi.RAX + 64, KvmAbi.RAX + 72, KvmAbi.RAX + 80,
        KvmAbi.RAX + 88, KvmAbi.RAX + 96, KvmAbi.RAX + 104, KvmAbi.RAX + 112, KvmAbi.R15};

    private final VcpuFd vcpu;
    private final GuestMemory memory;
    private final Memory xsave = new Memory(KvmAbi.XSAVE_SIZE);
    private final Memory initialFpu = new Memory(KvmAbi.XSAVE_SIZE);
    private final Memory segmentBases = CpuSetup.msrBlock(new long[][] {{CpuSetup.MSR_FS_BASE, 0},
        {CpuSetup.MSR_GS_BASE, 0}});
    private Stop stop = Stop.USER;
    /** Whether a reset's FPU state is loaded by the guest ({@link #restoreFpu}). */
    private final boolean fpuRestoredInGuest;
    /** The FPU state a reset gave the vCPU that it does not have yet, or null. */
    private Memory pendingFpu;
    /** Whether the vCPU is at, or stopped inside, {@link TrapStub#FPU_RESTORE_ENTRY} to load it. */
    private boolean restoringFpu;

    ContextSwitch(VcpuFd vcpu, GuestMemory memory, FpuFormat fpu, boolean fpuRestoredInGuest) {
        this.vcpu = vcpu;
        this.memory = memory;
        this.fpuRestoredInGuest = fpuRestoredInGuest;
        byte[] init = fpu.initialImage();
        initialFpu.write(0, init, 0, init.length);
    }

    void stoppedAt(Stop how) {
        stop = how;
    }

    /**
     * Gives the vCPU the FPU state {@code image} (a reset's: the template's, also at
     * {@link GuestLayout#FPU_IMAGE}). {@code KVM_SET_XSAVE} costs ~5 µs on PVM, where every vCPU
     * ioctl loads and puts the vCPU through the outer hypervisor, so there the next entry starts
     * at {@link TrapStub#FPU_RESTORE_ENTRY}, which restores it in the guest ({@link #beforeEntry}).
     * Until the guest has run past it, the host reads and replaces the vCPU's state only after
     * making the restore itself ({@link #settleFpu}): no previous state is ever seen.
     */
    void restoreFpu(Memory image) {
        restoringFpu = false;
        if (fpuRestoredInGuest) {
            pendingFpu = image;
            disarmFpuRestore();
        } else {
            pendingFpu = null;
            vcpu.setXsave(image);
        }
    }

    /**
     * Points the restore's final jump at its {@code ud2} ({@link TrapStub#FPU_RESTORE_REFUSED}):
     * from now until {@link #beforeEntry} arms it for a reset, a program that jumps into the
     * restore dies there instead of being sent to where the last reset resumed.
     */
    private void disarmFpuRestore() {
        if (fpuRestoredInGuest) {
            memory.putLong(GuestCallPages.RESUME_RIP, TrapStub.FPU_RESTORE_REFUSED);
        }
    }

    /** Called right before an entry: with an FPU restore pending, the entry starts with it. */
    void beforeEntry() {
        if (pendingFpu == null || restoringFpu) {
            return;
        }
        memory.putLong(GuestCallPages.RESUME_RIP, vcpu.reg(KvmAbi.RIP));
        memory.putLong(GuestCallPages.RESUME_RAX, vcpu.reg(KvmAbi.RAX));
        memory.putLong(GuestCallPages.RESUME_RDX, vcpu.reg(KvmAbi.RDX));
        vcpu.setReg(KvmAbi.RIP, TrapStub.FPU_RESTORE_ENTRY);
        restoringFpu = true;
    }

    /**
     * Called right after an exit: once the vCPU has left {@link TrapStub#FPU_RESTORE_ENTRY}, the
     * pending state is loaded and the restore disarmed.
     *
     * <p>An exception in the restore's page is the program's: the restore itself never faults
     * (its image is KVM's own, XSTATE_BV within XCR0, and its pages are out of the program's
     * reach), but between the reset and this first exit the program may have jumped in there
     * itself (a first exit of its own making: the accept and the reads are answered in the
     * guest). The exit handler ends it as a crash ({@code VcpuLoop.fault}); the pending state
     * stays, so that whatever the host reads off the vCPU until the reset is the template's,
     * never a state the restore may not have replaced. A single step (#DB) in there ends it too:
     * only a program that froze single-stepping, or jumped in with TF set, takes one, and going
     * on would leave the host with a restore stopped halfway at CPL 0.
     */
    void afterExit() {
        if (!restoringFpu) {
            return;
        }
        long rip = vcpu.reg(KvmAbi.RIP);
        if (inFpuRestore(rip)) {
            return; // not entered (an immediate exit), or interrupted on the way
        }
        if (rip >= GuestLayout.EXCEPTION_ENTRIES && rip < GuestLayout.EXCEPTION_ENTRIES + GuestLayout.PAGE_SIZE
                && inFpuRestorePage(memory.getLong(FRAME + 8))) {
            restoringFpu = false;
            disarmFpuRestore();
            return;
        }
        pendingFpu = null;
        restoringFpu = false;
        disarmFpuRestore();
    }

    private static boolean inFpuRestore(long rip) {
        return rip >= TrapStub.FPU_RESTORE_ENTRY && rip < TrapStub.FPU_RESTORE_REFUSED;
    }

    /** Whether {@code rip} is in the restore's page: the restore, or the {@code int3}s around it. */
    static boolean inFpuRestorePage(long rip) {
        return rip >= GuestLayout.FPU_RESTORE && rip < GuestLayout.FPU_RESTORE + GuestLayout.PAGE_SIZE;
    }

    /**
     * Makes a pending FPU restore on the host, before the host reads the vCPU's state: the
     * registers {@link #beforeEntry} changed go back to what they were (the restore's few
     * instructions change nothing else), and the state is set with the ioctl.
     */
    private void settleFpu() {
        if (pendingFpu == null) {
            return;
        }
        if (restoringFpu) {
            vcpu.setReg(KvmAbi.RIP, memory.getLong(GuestCallPages.RESUME_RIP));
            vcpu.setReg(KvmAbi.RAX, memory.getLong(GuestCallPages.RESUME_RAX));
            vcpu.setReg(KvmAbi.RDX, memory.getLong(GuestCallPages.RESUME_RDX));
            restoringFpu = false;
            disarmFpuRestore();
        }
        vcpu.setXsave(pendingFpu);
        pendingFpu = null;
    }

    /**
     * A VM forked or reset at its template's freeze point is about to execute the
     * {@code syscall} instruction of the program's wait ({@link #load} of the rewound context):
     * in user mode at that instruction (PVM), or on an exception entry's {@code iretq} whose frame
     * points at it (a template whose vCPU froze at CPL 0). Entering the guest would only execute
     * that instruction and trap straight back: a whole exit (~30-45 µs on PVM) in every request.
     * This puts the vCPU in the state of that trap instead, RCX and R11 as the instruction sets
     * them, so that the engine can make the call at once. False, changing nothing, when the vCPU
     * is anywhere else.
     */
    boolean stopAtFrozenSyscall() {
        long rip = vcpu.reg(KvmAbi.RIP);
        if (rip == IRET_TAIL && vcpu.reg(KvmAbi.RSP) == FRAME && memory.getLong(FRAME + 16) == GuestLayout.USER_CS) {
            vcpu.setReg(KvmAbi.RCX, memory.getLong(FRAME + 8) + 2);
            vcpu.setReg(KvmAbi.R11, memory.getLong(FRAME + 24));
            stop = Stop.SYSCALL_AT_FRAME;
            return true;
        }
        if (rip >= GuestLayout.USER_START && rip <= memory.size() - 2 && memory.getByte(rip) == 0x0f
                && memory.getByte(rip + 1) == 0x05) {
            vcpu.setReg(KvmAbi.RCX, rip + 2);
            vcpu.setReg(KvmAbi.R11, vcpu.reg(KvmAbi.RFLAGS));
            vcpu.setReg(KvmAbi.RIP, TrapStub.SYSCALL_DOORBELL_RIP);
            stop = Stop.SYSCALL_IN_USER_MODE;
            return true;
        }
        return false;
    }

    /** The user stack pointer of the thread on the vCPU. */
    long userStackPointer() {
        return switch (stop) {
            case SYSCALL_AT_FRAME, EXCEPTION -> memory.getLong(FRAME + 32);
            default -> vcpu.reg(KvmAbi.RSP);
        };
    }

    /**
     * Returns from the system call the vCPU stopped in with {@code result} in RAX, and the flags
     * {@code syscall} saved in R11 made a user program's: through {@code sysretq} (CPL 0), the
     * exception frame, or, in user mode, by setting RIP and RFLAGS as {@code sysretq} would.
     */
    void returnFromSyscall(long result) {
        vcpu.setReg(KvmAbi.RAX, result);
        long flags = sanitizeFlags(vcpu.reg(KvmAbi.R11));
        switch (stop) {
            case SYSCALL_DIRECT -> vcpu.setReg(KvmAbi.R11, flags);
            case SYSCALL_IN_USER_MODE -> {
                vcpu.setReg(KvmAbi.RIP, vcpu.reg(KvmAbi.RCX));
                vcpu.setReg(KvmAbi.RFLAGS, flags);
                stop = Stop.USER;
            }
            default -> {
                memory.putLong(FRAME + 8, vcpu.reg(KvmAbi.RCX));
                memory.putLong(FRAME + 24, flags);
            }
        }
    }

    /** Copies the vCPU's user state into {@code ctx} (its FS and GS bases are not touched). */
    void capture(UserContext ctx) {
        settleFpu();
        for (int r = 0; r < GPR.length; r++) {
            ctx.regs[r] = vcpu.reg(GPR[r]);
        }
        switch (stop) {
            case SYSCALL_DIRECT, SYSCALL_IN_USER_MODE, SYSCALL_AT_FRAME -> {
                ctx.regs[UserContext.RIP] = vcpu.reg(KvmAbi.RCX);
                ctx.regs[UserContext.RFLAGS] = sanitizeFlags(vcpu.reg(KvmAbi.R11));
            }
            case EXCEPTION -> {
                ctx.regs[UserContext.RIP] = memory.getLong(FRAME + 8);
                ctx.regs[UserContext.RFLAGS] = sanitizeFlags(memory.getLong(FRAME + 24));
            }
            case USER -> {
                ctx.regs[UserContext.RIP] = vcpu.reg(KvmAbi.RIP);
                ctx.regs[UserContext.RFLAGS] = vcpu.reg(KvmAbi.RFLAGS);
            }
        }
        ctx.regs[UserContext.RSP] = userStackPointer();
        vcpu.getXsave(xsave);
        if (ctx.fpu == null) {
            ctx.fpu = new byte[UserContext.XSAVE_SIZE];
        }
        xsave.read(0, ctx.fpu, 0, UserContext.XSAVE_SIZE);
    }

    /** Makes the vCPU resume {@code ctx} in user mode at its next entry. */
    void load(UserContext ctx) {
        if (restoringFpu) {
            disarmFpuRestore();
        }
        pendingFpu = null; // ctx's state replaces it, registers and all
        restoringFpu = false;
        for (int r = 0; r < GPR.length; r++) {
            if (r != UserContext.RSP) {
                vcpu.setReg(GPR[r], ctx.regs[r]);
            }
        }
        long flags = sanitizeFlags(ctx.regs[UserContext.RFLAGS]);
        if (stop == Stop.USER || stop == Stop.SYSCALL_IN_USER_MODE) {
            vcpu.setReg(KvmAbi.RSP, ctx.regs[UserContext.RSP]);
            vcpu.setReg(KvmAbi.RIP, ctx.regs[UserContext.RIP]);
            vcpu.setReg(KvmAbi.RFLAGS, flags);
            stop = Stop.USER;
        } else {
            memory.putLong(FRAME + 8, ctx.regs[UserContext.RIP]);
            memory.putLong(FRAME + 16, GuestLayout.USER_CS);
            memory.putLong(FRAME + 24, flags);
            memory.putLong(FRAME + 32, ctx.regs[UserContext.RSP]);
            memory.putLong(FRAME + 40, GuestLayout.USER_SS);
            vcpu.setReg(KvmAbi.RSP, FRAME);
            vcpu.setReg(KvmAbi.RIP, IRET_TAIL);
            // From here on the vCPU returns through the frame, as after an exception.
            stop = Stop.EXCEPTION;
        }
        segmentBases.setLong(8 + 8, ctx.fsBase);
        segmentBases.setLong(8 + 16 + 8, ctx.gsBase);
        vcpu.setMsrs(segmentBases);
        if (ctx.fpu == null) {
            vcpu.setXsave(initialFpu);
        } else {
            xsave.write(0, ctx.fpu, 0, UserContext.XSAVE_SIZE);
            vcpu.setXsave(xsave);
        }
    }

    /** Only flags a user program may hold, with IF and the reserved bit 1 set. */
    static long sanitizeFlags(long rflags) {
        return (rflags & CpuSetup.USER_RFLAGS_MASK) | CpuSetup.USER_RFLAGS_FIXED;
    }
}
