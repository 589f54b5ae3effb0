package io.kvmserver.linux;

import io.kvmserver.host.Errno;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The x86-64 signal frame, laid out byte for byte as Linux builds it ({@code struct rt_sigframe}
 * in {@code arch/x86/include/asm/sigframe.h}, {@code struct sigcontext} in
 * {@code asm/sigcontext.h}): handlers read the {@code siginfo} and {@code ucontext} it holds, and
 * runtimes (V8, Go, the JVM) change the saved registers in it to redirect the program when the
 * handler returns through {@code rt_sigreturn}.
 *
 * <pre>
 * frame +0    pretcode            the handler's return address: sa_restorer
 *       +8    ucontext            uc_flags, uc_link, uc_stack, sigcontext (256 bytes), uc_sigmask
 *       +312  siginfo             128 bytes
 * (above, 64-byte aligned)        the XSAVE image the sigcontext's fpstate points at,
 *                                 with _fpx_sw_bytes and FP_XSTATE_MAGIC2 after it
 * </pre>
 */
public final class SignalFrame {

    static final int UCONTEXT = 8;
    static final int UC_STACK = UCONTEXT + 16;
    static final int SIGCONTEXT = UCONTEXT + 40;
    static final int UC_SIGMASK = UCONTEXT + 296;
    static final int SIGINFO = UCONTEXT + 304;
    static final int SIZE = SIGINFO + Siginfo.SIZE;

    /** Bytes below the stack pointer that leaf functions may use without moving it. */
    private static final long RED_ZONE = 128;
    private static final long UC_FP_XSTATE = 1;
    private static final long UC_SIGCONTEXT_SS = 2;
    private static final long UC_STRICT_RESTORE_SS = 4;
    private static final int FP_XSTATE_MAGIC1 = 0x46505853;
    private static final int FP_XSTATE_MAGIC2 = 0x46505845;
    /** {@code struct _fpx_sw_bytes}: in the FXSAVE area's bytes the CPU leaves to software. */
    private static final int SW_BYTES = 464;
    private static final int FXSAVE_SIZE = 512;
    private static final int XSTATE_HEADER = 512;
    private static final int XSTATE_HEADER_SIZE = 64;
    private static final int MXCSR = 24;
    /** MXCSR bits a program may set (DAZ included): the rest would make XRSTOR fault. */
    private static final int MXCSR_MASK = 0xffff;
    /** Flags a handler may change in the saved context: CF PF AF ZF SF TF DF OF NT AC (and RF). */
    private static final long FIX_EFLAGS = 0x1L | 0x4L | 0x10L | 0x40L | 0x80L | 0x100L | 0x400L | 0x800L
            | 0x4000L | 0x40000L | 0x10000L;
    private static final long TF = 0x100L;
    private static final long DF = 0x400L;
    private static final long RF = 0x10000L;

    /** Where the sigcontext keeps each general register, in {@link UserContext} order. */
    private static final int[] SIGCONTEXT_SLOT = {
        13 * 8, // rax
        11 * 8, // rbx
        14 * 8, // rcx
        12 * 8, // rdx
        9 * 8, // rsi
        8 * 8, // rdi
        15 * 8, // rsp
        10 * 8, // rbp
        0, 8, 16, 24, 32, 40, 48, 56, // r8 to r15
        16 * 8, // rip
        17 * 8, // eflags
    };
    private static final int SC_SEGMENTS = 18 * 8;
    private static final int SC_ERR = 19 * 8;
    private static final int SC_TRAPNO = 20 * 8;
    private static final int SC_OLDMASK = 21 * 8;
    private static final int SC_CR2 = 22 * 8;
    private static final int SC_FPSTATE = 23 * 8;

    private SignalFrame() {
    }

    /** Why the frame is built: the CPU exception's number, error code and faulting address; zeros otherwise. */
    public record Trap(int trapno, long error, long cr2) {
        static final Trap NONE = new Trap(0, 0, 0);
    }

    /**
     * Builds the frame for a handler of {@code info.signo()} on the thread's stack (or its
     * alternate stack) and points {@code ctx} at the handler. Returns false when the frame does
     * not fit (an overflowing alternate stack): Linux then kills with SIGSEGV.
     *
     * @throws SyscallError EFAULT when the stack is not writable
     */
    static boolean push(AddressSpace m, GuestThread t, UserContext ctx, Siginfo info, long handler, long flags,
            long restorer, long oldMask, FpuFormat fpu, Trap trap, int userCs, int userSs) {
        long userSp = ctx.get(UserContext.RSP);
        boolean wasOnAltStack = t.onAltStack(userSp);
        long sp = userSp - RED_ZONE;
        boolean entering = false;
        if ((flags & SignalState.SA_ONSTACK) != 0 && t.altStackSize() != 0
                && (t.altStackFlags() & SignalState.SS_DISABLE) == 0 && !t.onAltStack(sp)) {
            sp = t.altStack() + t.altStackSize();
            entering = true;
        }
        long fpstate = (sp - (fpu.xstateSize() + 4)) & -64L;
        long frame = ((fpstate - SIZE) & -16L) - 8;
        if ((wasOnAltStack || entering) && !t.withinAltStack(frame)) {
            return false;
        }
        m.check(frame, fpstate + fpu.xstateSize() + 4 - frame, AddressSpace.PROT_WRITE);

        byte[] image = new byte[fpu.xstateSize() + 4];
        System.arraycopy(ctx.fpu != null ? ctx.fpu : fpu.initialImage(), 0, image, 0, fpu.xstateSize());
        ByteBuffer fb = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        fb.putInt(SW_BYTES, FP_XSTATE_MAGIC1);
        fb.putInt(SW_BYTES + 4, fpu.xstateSize() + 4);
        fb.putLong(SW_BYTES + 8, fpu.xfeatures());
        fb.putInt(SW_BYTES + 16, fpu.xstateSize());
        for (int i = SW_BYTES + 20; i < FXSAVE_SIZE; i++) {
            image[i] = 0;
        }
        fb.putInt(fpu.xstateSize(), FP_XSTATE_MAGIC2);
        m.writeBytes(fpstate, image);

        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, restorer);
        b.putLong(UCONTEXT, UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS);
        // The stack as sigaltstack registered it, flags and all (SS_AUTODISARM, even SS_ONSTACK),
        // as Linux's __save_altstack: rt_sigreturn restores exactly that.
        b.putLong(UC_STACK, t.altStack());
        b.putInt(UC_STACK + 8, t.altStackFlags());
        b.putLong(UC_STACK + 16, t.altStackSize());
        for (int r = 0; r < UserContext.COUNT; r++) {
            b.putLong(SIGCONTEXT + SIGCONTEXT_SLOT[r], ctx.get(r));
        }
        b.putShort(SIGCONTEXT + SC_SEGMENTS, (short) userCs);
        b.putShort(SIGCONTEXT + SC_SEGMENTS + 6, (short) userSs);
        b.putLong(SIGCONTEXT + SC_ERR, trap.error());
        b.putLong(SIGCONTEXT + SC_TRAPNO, trap.trapno());
        b.putLong(SIGCONTEXT + SC_OLDMASK, oldMask);
        b.putLong(SIGCONTEXT + SC_CR2, trap.cr2());
        b.putLong(SIGCONTEXT + SC_FPSTATE, fpstate);
        b.putLong(UC_SIGMASK, oldMask);
        b.put(SIGINFO, info.bytes());
        m.writeBytes(frame, b.array());

        // SS_AUTODISARM: saved in the frame, the stack is disarmed for whatever handler runs.
        if ((t.altStackFlags() & SignalState.SS_AUTODISARM) != 0) {
            t.setAltStack(0, 0, SignalState.SS_DISABLE);
        }
        ctx.set(UserContext.RDI, info.signo());
        ctx.set(UserContext.RSI, frame + SIGINFO);
        ctx.set(UserContext.RDX, frame + UCONTEXT);
        ctx.set(UserContext.RAX, 0);
        ctx.set(UserContext.RSP, frame);
        ctx.set(UserContext.RIP, handler);
        ctx.set(UserContext.RFLAGS, ctx.get(UserContext.RFLAGS) & ~(TF | DF | RF));
        ctx.fpu = null; // the handler starts with a clean FPU, as on Linux
        return true;
    }

    /**
     * Reads back the frame a handler returns through ({@code rt_sigreturn}, with RSP just above
     * pretcode) into {@code ctx}, which holds the thread's current state; returns the signal mask
     * to restore. The registers and the FPU image are the handler's to change: only the flags a
     * program may set come back (as Linux's FIX_EFLAGS), the code and stack segments are always
     * the user ones, and an FPU image XRSTOR would refuse fails the return.
     *
     * @throws SyscallError EFAULT when the frame is not readable
     */
    static long pop(AddressSpace m, GuestThread t, UserContext ctx, FpuFormat fpu) {
        long frame = ctx.get(UserContext.RSP) - 8;
        byte[] bytes = m.readBytes(frame, SIZE);
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long oldFlags = ctx.get(UserContext.RFLAGS);
        for (int r = 0; r < UserContext.COUNT; r++) {
            ctx.set(r, b.getLong(SIGCONTEXT + SIGCONTEXT_SLOT[r]));
        }
        ctx.set(UserContext.RFLAGS, (oldFlags & ~FIX_EFLAGS) | (ctx.get(UserContext.RFLAGS) & FIX_EFLAGS));
        ctx.fpu = readFpu(m, b.getLong(SIGCONTEXT + SC_FPSTATE), fpu);
        long sp = b.getLong(UC_STACK);
        int flags = b.getInt(UC_STACK + 8);
        long size = b.getLong(UC_STACK + 16);
        // restore_altstack: as sigaltstack would, and silently kept as it was when invalid or in use.
        if (!t.onAltStack(ctx.get(UserContext.RSP)) && SignalSyscalls.validAltStack(flags, size)) {
            t.setAltStack((flags & SignalState.SS_DISABLE) != 0 ? 0 : sp,
                    (flags & SignalState.SS_DISABLE) != 0 ? 0 : size, flags);
        }
        return b.getLong(UC_SIGMASK);
    }

    /**
     * The FPU image a frame's fpstate points at, in the standard format KVM takes. What XRSTOR
     * would refuse (reserved MXCSR bits, components XCR0 does not enable, a compacted or dirty
     * header) makes the return fail as on Linux, which kills with SIGSEGV; an image without the
     * extended magic (or whose sizes lie) restores only the legacy x87/SSE area.
     */
    private static byte[] readFpu(AddressSpace m, long fpstate, FpuFormat fpu) {
        byte[] image = fpu.initialImage();
        if (fpstate == 0) {
            return image;
        }
        byte[] legacy = m.readBytes(fpstate, FXSAVE_SIZE);
        ByteBuffer lb = ByteBuffer.wrap(legacy).order(ByteOrder.LITTLE_ENDIAN);
        boolean extended = lb.getInt(SW_BYTES) == FP_XSTATE_MAGIC1
                && lb.getInt(SW_BYTES + 16) == fpu.xstateSize()
                && lb.getInt(SW_BYTES + 4) == fpu.xstateSize() + 4
                && m.readInt(fpstate + fpu.xstateSize()) == FP_XSTATE_MAGIC2;
        byte[] user = extended ? m.readBytes(fpstate, fpu.xstateSize()) : legacy;
        System.arraycopy(user, 0, image, 0, user.length);
        ByteBuffer ib = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        if ((ib.getInt(MXCSR) & ~MXCSR_MASK) != 0) {
            throw new SyscallError(Errno.EFAULT);
        }
        for (int i = SW_BYTES; i < FXSAVE_SIZE; i++) {
            image[i] = 0;
        }
        if (extended) {
            long present = ib.getLong(XSTATE_HEADER);
            boolean dirtyHeader = false;
            for (int i = XSTATE_HEADER + 8; i < XSTATE_HEADER + XSTATE_HEADER_SIZE; i++) {
                dirtyHeader |= image[i] != 0;
            }
            if ((present & ~fpu.xfeatures()) != 0 || dirtyHeader) {
                throw new SyscallError(Errno.EFAULT);
            }
        } else {
            for (int i = XSTATE_HEADER; i < XSTATE_HEADER + XSTATE_HEADER_SIZE; i++) {
                image[i] = 0;
            }
            ib.putLong(XSTATE_HEADER, 0x3); // x87 and SSE from the legacy area
        }
        return image;
    }
}
