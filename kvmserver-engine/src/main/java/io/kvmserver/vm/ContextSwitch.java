package io.kvmserver.vm;

import com.sun.jna.Memory;
import io.kvmserver.kvm.KvmAbi;
import io.kvmserver.kvm.VcpuFd;
import io.kvmserver.linux.FpuFormat;
import io.kvmserver.linux.UserContext;
import io.kvmserver.memory.GuestMemory;
import io.kvmserver.x86.CpuSetup;
import io.kvmserver.x86.GuestLayout;
import io.kvmserver.x86.TrapStub;

/**
 * Moves a guest thread's user-mode CPU state between the vCPU and a {@link UserContext}: what
 * threads, signal handlers and {@code rt_sigreturn} need, on the one vCPU a VM has.
 *
 * <p>Where the user state is depends on how the vCPU stopped ({@link Stop}): after a system call
 * the return address is in RCX and the flags in R11 (and, on the PVM path, the user stack pointer
 * in the #GP frame); after a fault all three are in the exception frame; after a time slice the
 * vCPU is in user mode and they are in the registers.
 *
 * <p>Loading a context never changes the special registers: when the vCPU is in the trap stub
 * (CPL 0), the context is returned to through an {@code iretq} frame the host writes on the
 * exception stack, and the vCPU continues at the {@code iretq} of an exception entry; when it is in
 * user mode, the registers are simply set. Both work the same on hardware VMX and on PVM.
 */
final class ContextSwitch {

    /** How the vCPU last stopped. */
    enum Stop {
        /** {@code syscall} entered the stub at CPL 0 (hardware): user RSP is still in RSP. */
        SYSCALL_DIRECT,
        /** {@code syscall} stayed at CPL 3 and the stub's {@code out} raised #GP (PVM). */
        SYSCALL_VIA_GP,
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

    ContextSwitch(VcpuFd vcpu, GuestMemory memory, FpuFormat fpu) {
        this.vcpu = vcpu;
        this.memory = memory;
        byte[] init = fpu.initialImage();
        initialFpu.write(0, init, 0, init.length);
    }

    void stoppedAt(Stop how) {
        stop = how;
    }

    Stop stop() {
        return stop;
    }

    /**
     * A VM forked or reset at its template's freeze point sits on the #GP entry's {@code iretq},
     * its exception frame pointing at the {@code syscall} instruction of the program's wait
     * ({@link #load} of the rewound context). Entering the guest would only execute that
     * instruction and trap straight back: a whole exit (~45 µs on PVM) in every request. This
     * puts the vCPU in the state of that trap instead, RCX and R11 as the instruction sets them
     * and the return through the frame, so that the engine can make the call at once. False,
     * changing nothing, when the vCPU is anywhere else (a template that froze in user mode).
     */
    boolean stopAtFrozenSyscall() {
        if (vcpu.reg(KvmAbi.RIP) != IRET_TAIL || vcpu.reg(KvmAbi.RSP) != FRAME
                || memory.getLong(FRAME + 16) != GuestLayout.USER_CS) {
            return false;
        }
        vcpu.setReg(KvmAbi.RCX, memory.getLong(FRAME + 8) + 2);
        vcpu.setReg(KvmAbi.R11, memory.getLong(FRAME + 24));
        stop = Stop.SYSCALL_VIA_GP;
        return true;
    }

    /** The user stack pointer of the thread on the vCPU. */
    long userStackPointer() {
        return switch (stop) {
            case SYSCALL_VIA_GP, EXCEPTION -> memory.getLong(FRAME + 32);
            default -> vcpu.reg(KvmAbi.RSP);
        };
    }

    /** Copies the vCPU's user state into {@code ctx} (its FS and GS bases are not touched). */
    void capture(UserContext ctx) {
        for (int r = 0; r < GPR.length; r++) {
            ctx.regs[r] = vcpu.reg(GPR[r]);
        }
        switch (stop) {
            case SYSCALL_DIRECT, SYSCALL_VIA_GP -> {
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
        for (int r = 0; r < GPR.length; r++) {
            if (r != UserContext.RSP) {
                vcpu.setReg(GPR[r], ctx.regs[r]);
            }
        }
        long flags = sanitizeFlags(ctx.regs[UserContext.RFLAGS]);
        if (stop == Stop.USER) {
            vcpu.setReg(KvmAbi.RSP, ctx.regs[UserContext.RSP]);
            vcpu.setReg(KvmAbi.RIP, ctx.regs[UserContext.RIP]);
            vcpu.setReg(KvmAbi.RFLAGS, flags);
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
