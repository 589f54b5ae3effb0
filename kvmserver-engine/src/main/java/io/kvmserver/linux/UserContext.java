package io.kvmserver.linux;

import java.util.Arrays;

/**
 * A guest thread's user-mode CPU state while it is off the vCPU: the general registers, the
 * instruction pointer and flags, its FS and GS bases, and its FPU/SSE/AVX state as an XSAVE area
 * (standard, non-compacted format, as {@code KVM_GET_XSAVE} and Linux's signal frames both use).
 * The VM moves it to and from the vCPU; the Linux personality reads and changes it to create
 * threads, deliver signals and return from them.
 */
public final class UserContext {

    /** Indices of {@link #regs}, in the order of {@code struct kvm_regs}. */
    public static final int RAX = 0;
    public static final int RBX = 1;
    public static final int RCX = 2;
    public static final int RDX = 3;
    public static final int RSI = 4;
    public static final int RDI = 5;
    public static final int RSP = 6;
    public static final int RBP = 7;
    public static final int R8 = 8;
    public static final int R9 = 9;
    public static final int R10 = 10;
    public static final int R11 = 11;
    public static final int R12 = 12;
    public static final int R13 = 13;
    public static final int R14 = 14;
    public static final int R15 = 15;
    public static final int RIP = 16;
    public static final int RFLAGS = 17;
    public static final int COUNT = 18;

    /** The size of {@code struct kvm_xsave}. */
    public static final int XSAVE_SIZE = 4096;

    public final long[] regs = new long[COUNT];
    public long fsBase;
    public long gsBase;
    /** The XSAVE area; null for the initial FPU state (as a new signal handler gets). */
    public byte[] fpu;

    public long get(int reg) {
        return regs[reg];
    }

    public void set(int reg, long value) {
        regs[reg] = value;
    }

    /** A deep copy. */
    public UserContext copy() {
        return copy(null);
    }

    /**
     * A deep copy whose XSAVE area is written into {@code spareFpu} when it has the right size
     * (an area the reset took from a context nobody uses any more): a reset then copies a thread's
     * 4 KiB of FPU state instead of allocating it. Every byte is overwritten, so nothing of the
     * spare's earlier owner survives.
     */
    UserContext copy(byte[] spareFpu) {
        UserContext c = new UserContext();
        System.arraycopy(regs, 0, c.regs, 0, COUNT);
        c.fsBase = fsBase;
        c.gsBase = gsBase;
        if (fpu != null && spareFpu != null && spareFpu.length == fpu.length) {
            System.arraycopy(fpu, 0, spareFpu, 0, fpu.length);
            c.fpu = spareFpu;
        } else {
            c.fpu = fpu == null ? null : fpu.clone();
        }
        return c;
    }

    /**
     * Whether a return through {@code sysretq} restores this context, which sets RIP from RCX and
     * RFLAGS from R11: true right after a system call (the CPU put them there), false for a
     * context a signal handler changed or one interrupted at any instruction.
     */
    public boolean sysretCompatible() {
        return regs[RCX] == regs[RIP] && regs[R11] == regs[RFLAGS];
    }

    @Override
    public String toString() {
        return "rip=0x" + Long.toHexString(regs[RIP]) + " rsp=0x" + Long.toHexString(regs[RSP]) + " regs="
                + Arrays.toString(regs);
    }
}
