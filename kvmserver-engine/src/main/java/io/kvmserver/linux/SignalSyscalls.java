package io.kvmserver.linux;

import io.kvmserver.host.Errno;
import io.kvmserver.host.OpenFlags;
import io.kvmserver.host.SyscallNumbers;

/**
 * Signals family: dispositions ({@code rt_sigaction}), each thread's mask and alternate stack,
 * sending ({@code kill}, {@code tgkill}, {@code rt_sigqueueinfo}), returning from a handler
 * ({@code rt_sigreturn}), waiting for signals ({@code rt_sigsuspend}, {@code pause},
 * {@code rt_sigtimedwait}) and {@code signalfd}. Sending and delivery themselves are
 * {@link Signals}; the frame a handler runs on is {@link SignalFrame}.
 *
 * <p>There is one process: every pid but the program's own (1) is {@code ESRCH}.
 */
final class SignalSyscalls {

    private static final int SIG_BLOCK = 0;
    private static final int SIG_UNBLOCK = 1;
    private static final int SIG_SETMASK = 2;
    private static final long MINSIGSTKSZ = 2048;
    private static final long SIGSET_SIZE = 8;
    private static final long UNBLOCKABLE = SignalState.bit(SignalState.SIGKILL) | SignalState.bit(SignalState.SIGSTOP);
    private static final int SFD_NONBLOCK = OpenFlags.O_NONBLOCK;
    private static final int SFD_CLOEXEC = OpenFlags.O_CLOEXEC;

    private SignalSyscalls() {
    }

    static void register(SyscallTable t) {
        t.register(SyscallNumbers.RT_SIGACTION, SignalSyscalls::rtSigaction);
        t.register(SyscallNumbers.RT_SIGPROCMASK, SignalSyscalls::rtSigprocmask);
        t.register(SyscallNumbers.RT_SIGPENDING, SignalSyscalls::rtSigpending);
        t.register(SyscallNumbers.SIGALTSTACK, SignalSyscalls::sigaltstack);
        t.register(SyscallNumbers.KILL, SignalSyscalls::kill);
        t.register(SyscallNumbers.TKILL, c -> c.arg(0) <= 0 || (int) c.arg(0) != c.arg(0) ? -Errno.EINVAL
                : signalThread(c, c.arg(0), Siginfo.sent(c.intArg(1), Siginfo.SI_TKILL, c.process().pid())));
        t.register(SyscallNumbers.TGKILL, c -> tgkill(c, c.arg(0), c.arg(1), c.intArg(2),
                Siginfo.sent(c.intArg(2), Siginfo.SI_TKILL, c.process().pid())));
        t.register(SyscallNumbers.RT_SIGQUEUEINFO, SignalSyscalls::rtSigqueueinfo);
        t.register(SyscallNumbers.RT_TGSIGQUEUEINFO, SignalSyscalls::rtTgsigqueueinfo);
        t.register(SyscallNumbers.RT_SIGRETURN, SignalSyscalls::rtSigreturn);
        t.register(SyscallNumbers.RT_SIGSUSPEND, SignalSyscalls::rtSigsuspend);
        t.register(SyscallNumbers.PAUSE, c -> suspend(c, c.thread().blocked()));
        t.register(SyscallNumbers.RT_SIGTIMEDWAIT, SignalSyscalls::rtSigtimedwait);
        t.register(SyscallNumbers.SIGNALFD, c -> signalfd(c, c.intArg(0), c.arg(1), c.arg(2), 0));
        t.register(SyscallNumbers.SIGNALFD4, c -> signalfd(c, c.intArg(0), c.arg(1), c.arg(2), c.intArg(3)));
    }

    /**
     * {@code rt_sigaction(sig, act, oldact, sigsetsize)} with the kernel's {@code struct sigaction},
     * in Linux's order: the new action is read (EFAULT) before the signal is checked (EINVAL), and
     * installed before the old one is written out, so that an {@code oldact} that faults returns
     * EFAULT with the new action in place.
     */
    static long rtSigaction(Syscall c) {
        int sig = c.intArg(0);
        long act = c.arg(1);
        long oldAct = c.arg(2);
        if (c.arg(3) != SIGSET_SIZE) {
            return -Errno.EINVAL;
        }
        AddressSpace m = c.memory();
        long handler = 0;
        long flags = 0;
        long restorer = 0;
        long mask = 0;
        if (act != 0) {
            m.check(act, 32, AddressSpace.PROT_READ);
            handler = m.readLong(act);
            flags = m.readLong(act + 8);
            restorer = m.readLong(act + 16);
            mask = m.readLong(act + 24);
        }
        if (!SignalState.valid(sig) || (act != 0 && !settable(sig))) {
            return -Errno.EINVAL;
        }
        SignalState s = c.process().signals();
        long oldHandler = s.handler(sig);
        long oldFlags = s.flags(sig);
        long oldRestorer = s.restorer(sig);
        long oldMask = s.mask(sig);
        if (act != 0) {
            install(c.process(), sig, handler, flags, restorer, mask);
        }
        if (oldAct != 0) {
            m.check(oldAct, 32, AddressSpace.PROT_WRITE);
            m.writeLong(oldAct, oldHandler);
            m.writeLong(oldAct + 8, oldFlags);
            m.writeLong(oldAct + 16, oldRestorer);
            m.writeLong(oldAct + 24, oldMask);
        }
        return 0;
    }

    /** Whether {@code sig} (1 to 64) may be given an action: all but SIGKILL and SIGSTOP. */
    static boolean settable(int sig) {
        return sig != SignalState.SIGKILL && sig != SignalState.SIGSTOP;
    }

    /**
     * Gives {@code sig} (a {@link #settable} signal) a new action: from {@code rt_sigaction}, or
     * queued by the syscall entry ({@link GuestCalls}).
     */
    static void install(LinuxProcess process, int sig, long handler, long flags, long restorer, long mask) {
        SignalState s = process.signals();
        s.set(sig, handler, flags, restorer, mask & ~UNBLOCKABLE);
        if (s.ignores(sig)) {
            // POSIX: a pending signal whose action becomes "ignore" is discarded, blocked or not.
            s.pending().discard(sig);
            for (GuestThread t : process.scheduler().threads()) {
                t.pending().discard(sig);
            }
            SignalFdFile.refresh(process);
        }
    }

    /**
     * {@code rt_sigprocmask(how, set, oldset, sigsetsize)}, in Linux's order: the new set is read
     * (EFAULT) before {@code how} is checked (EINVAL), and applied before the old mask is written
     * out, so that an {@code oldset} that faults returns EFAULT with the new mask in place.
     */
    static long rtSigprocmask(Syscall c) {
        int how = c.intArg(0);
        long set = c.arg(1);
        long oldSet = c.arg(2);
        if (c.arg(3) != SIGSET_SIZE) {
            return -Errno.EINVAL;
        }
        GuestThread t = c.thread();
        long current = t.blocked();
        if (set != 0) {
            long value = c.memory().readLong(set);
            if (how != SIG_BLOCK && how != SIG_UNBLOCK && how != SIG_SETMASK) {
                return -Errno.EINVAL;
            }
            t.setBlocked(switch (how) {
                case SIG_BLOCK -> current | value;
                case SIG_UNBLOCK -> current & ~value;
                default -> value;
            });
        }
        if (oldSet != 0) {
            c.memory().writeLong(oldSet, current);
        }
        return 0; // a signal this unblocked is delivered as the call returns
    }

    static long rtSigpending(Syscall c) {
        if (Long.compareUnsigned(c.arg(1), SIGSET_SIZE) > 0) {
            return -Errno.EINVAL;
        }
        GuestThread t = c.thread();
        long pending = (t.pending().set() | c.process().signals().pending().set()) & t.blocked();
        byte[] bytes = new byte[(int) c.arg(1)];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) (pending >>> (8 * i));
        }
        c.memory().writeBytes(c.arg(0), bytes);
        return 0;
    }

    /** Whether {@code sigaltstack} accepts these flags and size (shared with {@code rt_sigreturn}'s restore). */
    static boolean validAltStack(int flags, long size) {
        return knownAltStackMode(flags)
                && ((flags & ~SignalState.SS_AUTODISARM) == SignalState.SS_DISABLE || size >= MINSIGSTKSZ);
    }

    private static boolean knownAltStackMode(int flags) {
        int mode = flags & ~SignalState.SS_AUTODISARM;
        return mode == 0 || mode == SignalState.SS_ONSTACK || mode == SignalState.SS_DISABLE;
    }

    static long sigaltstack(Syscall c) {
        long ss = c.arg(0);
        long oldSs = c.arg(1);
        GuestThread t = c.thread();
        AddressSpace m = c.memory();
        long sp = c.cpu().userStackPointer();
        long newSp = 0;
        int newFlags = 0;
        long newSize = 0;
        if (ss != 0) {
            m.check(ss, 24, AddressSpace.PROT_READ);
            newSp = m.readLong(ss);
            newFlags = m.readInt(ss + 8);
            newSize = m.readLong(ss + 16);
            // The mode is checked before "in use" and the size after it, so the errno is Linux's.
            if (!knownAltStackMode(newFlags)) {
                return -Errno.EINVAL;
            }
            if (t.onAltStack(sp)) {
                return -Errno.EPERM;
            }
            if (!validAltStack(newFlags, newSize)) {
                return -Errno.ENOMEM;
            }
        }
        if (oldSs != 0) {
            m.check(oldSs, 24, AddressSpace.PROT_WRITE);
            boolean disabled = t.altStackSize() == 0 || (t.altStackFlags() & SignalState.SS_DISABLE) != 0;
            m.writeLong(oldSs, t.altStack());
            m.writeInt(oldSs + 8, (disabled ? SignalState.SS_DISABLE : t.onAltStack(sp) ? SignalState.SS_ONSTACK : 0)
                    | (t.altStackFlags() & SignalState.SS_AUTODISARM));
            m.writeInt(oldSs + 12, 0);
            m.writeLong(oldSs + 16, t.altStackSize());
        }
        if (ss != 0) {
            // The flags are kept as given (Linux's sas_ss_flags): a signal frame's uc_stack holds them.
            boolean disable = (newFlags & ~SignalState.SS_AUTODISARM) == SignalState.SS_DISABLE;
            t.setAltStack(disable ? 0 : newSp, disable ? 0 : newSize, newFlags);
        }
        return 0;
    }

    /**
     * kill: the program may signal itself (pid 1, or its group 0); there is no other process.
     * {@code pid_t} is an int: -1 is every process but the caller (none here), however the
     * register holding it was extended.
     */
    static long kill(Syscall c) {
        int pid = c.intArg(0);
        int sig = c.intArg(1);
        if (sig != 0 && !SignalState.valid(sig)) {
            return -Errno.EINVAL;
        }
        // Itself (0, or its id), or its own process group (-id); -1, every other process, is none here.
        if (pid == -1 || (pid != 0 && !c.process().isSelf(pid) && -(long) pid != c.process().pid())) {
            return -Errno.ESRCH;
        }
        if (sig == 0) {
            return 0;
        }
        return Signals.sendToProcess(c.process(), Siginfo.sent(sig, Siginfo.SI_USER, c.process().pid())) ? 0
                : -Errno.EAGAIN;
    }

    static long tgkill(Syscall c, long tgid, long tid, int sig, Siginfo info) {
        if (tgid <= 0 || tid <= 0 || (int) tgid != tgid || (int) tid != tid) {
            return -Errno.EINVAL;
        }
        if (!c.process().isSelf(tgid)) {
            return -Errno.ESRCH;
        }
        return signalThread(c, tid, info);
    }

    private static long signalThread(Syscall c, long tid, Siginfo info) {
        int sig = info.signo();
        if (sig != 0 && !SignalState.valid(sig)) {
            return -Errno.EINVAL;
        }
        GuestThread t = c.process().scheduler().find(tid);
        if (t == null) {
            return -Errno.ESRCH;
        }
        if (sig == 0) {
            return 0;
        }
        return Signals.sendToThread(c.process(), t, info) ? 0 : -Errno.EAGAIN;
    }

    /** The siginfo a program queues with {@code rt_sigqueueinfo}: its code, pid, uid and value. */
    private static Siginfo queuedInfo(Syscall c, int sig, long address) {
        byte[] raw = c.memory().readBytes(address, Siginfo.SIZE);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(raw).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        return new Siginfo(sig, b.getInt(8), 0, b.getInt(16), b.getInt(20), b.getLong(24));
    }

    static long rtSigqueueinfo(Syscall c) {
        long pid = c.arg(0);
        int sig = c.intArg(1);
        Siginfo info = queuedInfo(c, sig, c.arg(2));
        if (!c.process().isSelf(pid)) {
            return -Errno.ESRCH;
        }
        if (!SignalState.valid(sig)) {
            return sig == 0 ? 0 : -Errno.EINVAL;
        }
        return Signals.sendToProcess(c.process(), info) ? 0 : -Errno.EAGAIN;
    }

    static long rtTgsigqueueinfo(Syscall c) {
        int sig = c.intArg(2);
        return tgkill(c, c.arg(0), c.arg(1), sig, queuedInfo(c, sig, c.arg(3)));
    }

    /**
     * rt_sigreturn: the handler returned; the thread goes on with the context saved in its frame
     * (as the handler may have changed it) and the mask it had. A frame that cannot be read
     * kills the program with SIGSEGV, as on Linux.
     */
    static long rtSigreturn(Syscall c) {
        GuestThread t = c.thread();
        UserContext ctx = new UserContext();
        c.cpu().capture(ctx);
        long mask;
        try {
            mask = SignalFrame.pop(c.memory(), t, ctx, c.fpuFormat());
        } catch (SyscallError e) {
            c.requestFatalSignal(SignalState.SIGSEGV);
            return 0;
        }
        t.setBlocked(mask);
        c.replaceContext(ctx);
        return ctx.get(UserContext.RAX);
    }

    static long rtSigsuspend(Syscall c) {
        if (c.arg(1) != SIGSET_SIZE) {
            return -Errno.EINVAL;
        }
        long mask = c.memory().readLong(c.arg(0));
        GuestThread t = c.thread();
        t.setSavedMask(t.blocked());
        return suspend(c, mask);
    }

    /**
     * Waits, with {@code mask} blocked, until a signal runs a handler (or ends the program):
     * always {@code EINTR}, after which the handler's frame carries the mask to go back to.
     */
    private static long suspend(Syscall c, long mask) {
        GuestThread t = c.thread();
        t.setBlocked(mask);
        if (Signals.hasDeliverable(c.process(), t)) {
            return -Errno.EINTR;
        }
        c.waiter().recordSignalWait(~t.blocked(), Deadline.NEVER);
        return Syscall.RESTART;
    }

    /** rt_sigtimedwait: takes a pending signal of the set (blocked, as it should be) without a handler. */
    static long rtSigtimedwait(Syscall c) {
        if (c.arg(3) != SIGSET_SIZE) {
            return -Errno.EINVAL;
        }
        long set = c.memory().readLong(c.arg(0)) & ~UNBLOCKABLE;
        long timeout = -1;
        if (c.arg(2) != 0) {
            timeout = GuestTime.timespec(c.memory(), c.arg(2));
            if (timeout == GuestTime.INVALID) {
                return -Errno.EINVAL;
            }
        }
        GuestThread t = c.thread();
        Siginfo info = Signals.take(c.process(), t, set);
        if (info != null) {
            SignalFdFile.refresh(c.process());
            if (c.arg(1) != 0) {
                c.memory().writeBytes(c.arg(1), info.bytes());
            }
            return info.signo();
        }
        long deadline = c.waiter().deadlineAfter(timeout);
        if (deadline != Deadline.NEVER && Deadline.remaining(deadline) == 0) {
            return -Errno.EAGAIN;
        }
        c.waiter().recordSignalWait(set, deadline);
        return Syscall.RESTART;
    }

    static long signalfd(Syscall c, int fd, long maskAddress, long size, int flags) {
        if (size != SIGSET_SIZE || (flags & ~(SFD_NONBLOCK | SFD_CLOEXEC)) != 0) {
            return -Errno.EINVAL;
        }
        long mask = c.memory().readLong(maskAddress) & ~UNBLOCKABLE;
        if (fd != -1) {
            SignalFdFile existing = c.files().get(fd, SignalFdFile.class, Errno.EINVAL);
            existing.setMask(mask);
            return fd;
        }
        if (c.files().openCount() >= FdTable.LIMIT) {
            return -Errno.EMFILE;
        }
        SignalFdFile file = SignalFdFile.create(c.process(), mask, flags & SFD_NONBLOCK);
        return c.files().install(file, 0, (flags & SFD_CLOEXEC) != 0);
    }
}
