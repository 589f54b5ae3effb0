package io.kvmserver.linux;

import io.kvmserver.host.Errno;
import io.kvmserver.host.SyscallNumbers;

/**
 * Sending signals and delivering them, as Linux's {@code kernel/signal.c} does for one process:
 * a signal sent to a thread waits in that thread's queue, one sent to the process in the
 * process's; the first thread that does not block it takes it. A thread parked in a system call
 * is woken to take it: the call fails with {@code EINTR}, or starts over after the handler
 * ({@code SA_RESTART}), as {@link #restartAfterHandler} decides per call.
 *
 * <p>Delivery happens when a thread is about to go back to user mode (after a system call, a
 * fault, a time slice): {@link #deliver} builds a {@link SignalFrame} for each pending signal it
 * does not block, or reports the signal whose default action ends the program.
 */
public final class Signals {

    /** {@link #deliver}: nothing to deliver, or every pending signal went to a handler. */
    public static final int DELIVERED = 0;

    private Signals() {
    }

    /** Queues a signal for one thread; false when its real-time queue is full ({@code EAGAIN}). */
    public static boolean sendToThread(LinuxProcess p, GuestThread t, Siginfo info) {
        int sig = info.signo();
        if (ignoredOnArrival(p, t, sig)) {
            return true;
        }
        if (!t.pending().add(info)) {
            return false;
        }
        SignalFdFile.refresh(p);
        notifyArrival(p, t, sig);
        return true;
    }

    /** Queues a signal for the process; the first thread that does not block it is woken for it. */
    public static boolean sendToProcess(LinuxProcess p, Siginfo info) {
        int sig = info.signo();
        Scheduler s = p.scheduler();
        GuestThread target = s.current();
        if (target == null || (target.blocked() & SignalState.bit(sig)) != 0) {
            target = null;
            for (GuestThread t : s.threads()) {
                if ((t.blocked() & SignalState.bit(sig)) == 0 || waitsFor(t, sig)) {
                    target = t;
                    break;
                }
            }
        }
        if (p.signals().ignores(sig) && (target != null || s.threads().isEmpty())) {
            return true; // discarded at once, as an ignored signal nobody blocks
        }
        if (!p.signals().pending().add(info)) {
            return false;
        }
        SignalFdFile.refresh(p);
        if (target != null) {
            notifyArrival(p, target, sig);
        }
        return true;
    }

    /** An ignored signal that the thread does not block is dropped as it is sent. */
    private static boolean ignoredOnArrival(LinuxProcess p, GuestThread t, int sig) {
        return p.signals().ignores(sig) && (t.blocked() & SignalState.bit(sig)) == 0 && !waitsFor(t, sig);
    }

    /**
     * Takes the next pending signal in {@code allowed}, the thread's own first (null: none), as
     * delivery, {@code rt_sigtimedwait} and a signalfd take it; a timer's signal leaves with the
     * expiries it missed while pending counted as overruns ({@link Timers#dequeued}).
     */
    static Siginfo take(LinuxProcess p, GuestThread t, long allowed) {
        Siginfo info = t == null ? null : t.pending().take(allowed);
        if (info == null) {
            info = p.signals().pending().take(allowed);
        }
        return info == null ? null : p.timers().dequeued(info);
    }

    /** Whether {@code t} is in {@code rt_sigtimedwait} for {@code sig}. */
    private static boolean waitsFor(GuestThread t, int sig) {
        GuestThread.Parked p = t.parked();
        return p != null && p.number() == SyscallNumbers.RT_SIGTIMEDWAIT && (p.signalSet & SignalState.bit(sig)) != 0;
    }

    /** A signal is pending for {@code t}: wake it if it is parked and will take the signal. */
    private static void notifyArrival(LinuxProcess p, GuestThread t, int sig) {
        GuestThread.Parked parked = t.parked();
        if (t.state() != GuestThread.State.PARKED || parked == null) {
            return;
        }
        if (waitsFor(t, sig)) {
            // Start the call over: it finds the signal pending and takes it.
            p.scheduler().restartParked(t);
        } else if ((t.blocked() & SignalState.bit(sig)) == 0) {
            p.scheduler().interrupt(t, TimeSyscalls.interrupted(p.memory(), parked));
        }
    }

    /**
     * {@code t} returns to user mode and no signal is delivered: a mask a wait set aside
     * ({@code rt_sigsuspend}, {@code ppoll} and the like, see {@link WaitMask}) is the thread's
     * again, as Linux's {@code restore_saved_sigmask}. (An interrupted wait whose signal another
     * thread took returns {@code EINTR} with the caller's mask.)
     */
    public static void returnWithoutSignal(GuestThread t) {
        WaitMask.restore(t);
    }

    /** Whether {@code t} has a pending signal it does not block: then {@link #deliver} has work. */
    public static boolean hasDeliverable(LinuxProcess p, GuestThread t) {
        return ((t.pending().set() | p.signals().pending().set()) & ~t.blocked()) != 0;
    }

    /**
     * Delivers the thread's deliverable signals: a handler gets a frame on its stack and
     * {@code ctx} is changed to run it (the last one delivered runs first, and returns into the
     * one before, as on Linux); an ignored one is dropped. Returns {@link #DELIVERED}, or the
     * number of a signal whose action ends the program.
     */
    public static int deliver(Syscall c, GuestThread t, UserContext ctx, FpuFormat fpu, int userCs, int userSs) {
        LinuxProcess p = c.process();
        boolean handled = false;
        while (true) {
            Siginfo info = take(p, t, ~t.blocked());
            if (info == null) {
                break;
            }
            SignalFdFile.refresh(p);
            int sig = info.signo();
            SignalState s = p.signals();
            if (s.kills(sig)) {
                return sig;
            }
            if (s.ignores(sig)) {
                continue;
            }
            long flags = s.flags(sig);
            if (!handled) {
                restartAfterHandler(p, t, ctx, flags);
                handled = true;
            }
            int fatal = runHandler(c, t, ctx, info, SignalFrame.Trap.NONE, fpu, userCs, userSs);
            if (fatal != DELIVERED) {
                return fatal;
            }
        }
        if (!handled) {
            restartWithoutHandler(t, ctx);
        }
        return DELIVERED;
    }

    /**
     * A CPU fault in the program: a handler that the thread does not block runs; otherwise (no
     * handler, ignored or blocked) the default action applies, which ends the program, as
     * Linux's {@code force_sig_fault}. Returns {@link #DELIVERED} or the fatal signal.
     */
    public static int deliverFault(Syscall c, GuestThread t, UserContext ctx, Siginfo info, SignalFrame.Trap trap,
            FpuFormat fpu, int userCs, int userSs) {
        int sig = info.signo();
        SignalState s = c.process().signals();
        long handler = s.handler(sig);
        if (handler == SignalState.SIG_DFL || handler == SignalState.SIG_IGN
                || (t.blocked() & SignalState.bit(sig)) != 0) {
            return sig;
        }
        return runHandler(c, t, ctx, info, trap, fpu, userCs, userSs);
    }

    private static int runHandler(Syscall c, GuestThread t, UserContext ctx, Siginfo info, SignalFrame.Trap trap,
            FpuFormat fpu, int userCs, int userSs) {
        int sig = info.signo();
        SignalState s = c.process().signals();
        long flags = s.flags(sig);
        long oldMask = t.savedMask() >= 0 ? t.savedMask() : t.blocked();
        t.setSavedMask(-1);
        if (!Rseq.abortIfInside(c.memory(), t, ctx)) {
            return SignalState.SIGSEGV; // the handler would return into a critical section it left
        }
        // x86-64 handlers return through the restorer glibc registers; without one, Linux
        // cannot build the frame and the program dies of SIGSEGV.
        boolean pushed;
        try {
            pushed = (flags & SignalState.SA_RESTORER) != 0 && SignalFrame.push(c.memory(), t, ctx, info,
                    s.handler(sig), flags, s.restorer(sig), oldMask, fpu, trap, userCs, userSs);
        } catch (SyscallError e) {
            pushed = false;
        }
        if (!pushed) {
            return SignalState.SIGSEGV;
        }
        long blocked = t.blocked() | s.mask(sig);
        if ((flags & SignalState.SA_NODEFER) == 0) {
            blocked |= SignalState.bit(sig);
        }
        t.setBlocked(blocked);
        if ((flags & SignalState.SA_RESETHAND) != 0) {
            // The handler only: Linux leaves the flags as they were, SA_SIGINFO too.
            s.set(sig, SignalState.SIG_DFL, flags, s.restorer(sig), s.mask(sig));
        }
        return DELIVERED;
    }

    /**
     * A call a signal interrupted ({@code EINTR} in {@code ctx}) starts over after the handler
     * when the handler has {@code SA_RESTART} and the call is one Linux restarts (signal(7)):
     * the context goes back to the {@code syscall} instruction with the call number in RAX.
     */
    private static void restartAfterHandler(LinuxProcess p, GuestThread t, UserContext ctx, long handlerFlags) {
        long nr = t.takeInterruptedCall();
        if (nr >= 0 && ctx.get(UserContext.RAX) == -Errno.EINTR && (handlerFlags & SignalState.SA_RESTART) != 0
                && restartsWithSaRestart(nr) && !hasTimeout(p, ctx, nr)) {
            rewind(ctx, nr);
        }
    }

    /**
     * Whether the interrupted call waits with a timeout of its own, which Linux never restarts
     * after a handler, {@code SA_RESTART} or not (signal(7)): a socket call on a socket with
     * {@code SO_RCVTIMEO} (input) or {@code SO_SNDTIMEO} (output), and a timed {@code FUTEX_WAIT}
     * (its {@code -ERESTART_RESTARTBLOCK} is {@code EINTR} once a handler ran). Restarting them
     * began the timeout again: a periodic signal faster than it kept the call waiting for ever
     * (the eighth review). The call's arguments are still in its registers.
     */
    private static boolean hasTimeout(LinuxProcess p, UserContext ctx, long nr) {
        if (nr == SyscallNumbers.FUTEX) {
            int command = (int) ctx.get(UserContext.RSI) & FutexSyscalls.FUTEX_CMD_MASK;
            return (command == FutexSyscalls.FUTEX_WAIT || command == FutexSyscalls.FUTEX_WAIT_BITSET)
                    && ctx.get(UserContext.R10) != 0;
        }
        if (nr == SyscallNumbers.RECVMMSG && ctx.get(UserContext.R8) != 0) {
            return true;
        }
        short events;
        if (nr == SyscallNumbers.ACCEPT || nr == SyscallNumbers.ACCEPT4 || nr == SyscallNumbers.RECVFROM
                || nr == SyscallNumbers.RECVMSG || nr == SyscallNumbers.RECVMMSG || nr == SyscallNumbers.READ
                || nr == SyscallNumbers.READV) {
            events = HostWaiter.POLLIN;
        } else if (nr == SyscallNumbers.CONNECT || nr == SyscallNumbers.SENDTO || nr == SyscallNumbers.SENDMSG
                || nr == SyscallNumbers.SENDMMSG || nr == SyscallNumbers.WRITE || nr == SyscallNumbers.WRITEV) {
            events = HostWaiter.POLLOUT;
        } else {
            return false;
        }
        int fd = (int) ctx.get(UserContext.RDI);
        FileDescription file = p.files().find(fd);
        return file instanceof SocketFile socket && socket.timeoutNanos(events) > 0;
    }

    /** An interrupted call that no handler ran for starts over, as Linux's -ERESTARTNOHAND. */
    private static void restartWithoutHandler(GuestThread t, UserContext ctx) {
        long nr = t.takeInterruptedCall();
        if (t.savedMask() >= 0) {
            t.setBlocked(t.savedMask()); // rt_sigsuspend's mask goes as the call starts over
            t.setSavedMask(-1);
        }
        if (nr >= 0 && ctx.get(UserContext.RAX) == -Errno.EINTR && nr != SyscallNumbers.EPOLL_WAIT
                && nr != SyscallNumbers.EPOLL_PWAIT && nr != SyscallNumbers.EPOLL_PWAIT2) {
            rewind(ctx, nr);
        }
    }

    /** Points {@code ctx} back at its {@code syscall} instruction, to make call {@code nr} again. */
    public static void rewind(UserContext ctx, long nr) {
        ctx.set(UserContext.RIP, ctx.get(UserContext.RIP) - 2);
        ctx.set(UserContext.RAX, nr);
    }

    /** The calls signal(7) lists as restarted after a handler with {@code SA_RESTART}. */
    static boolean restartsWithSaRestart(long nr) {
        return nr == SyscallNumbers.READ || nr == SyscallNumbers.READV || nr == SyscallNumbers.WRITE
                || nr == SyscallNumbers.WRITEV || nr == SyscallNumbers.PREAD64 || nr == SyscallNumbers.PWRITE64
                || nr == SyscallNumbers.PREADV || nr == SyscallNumbers.PWRITEV || nr == SyscallNumbers.IOCTL
                || nr == SyscallNumbers.OPEN || nr == SyscallNumbers.OPENAT || nr == SyscallNumbers.WAIT4
                || nr == SyscallNumbers.WAITID || nr == SyscallNumbers.ACCEPT || nr == SyscallNumbers.ACCEPT4
                || nr == SyscallNumbers.CONNECT || nr == SyscallNumbers.RECVFROM || nr == SyscallNumbers.RECVMSG
                || nr == SyscallNumbers.RECVMMSG || nr == SyscallNumbers.SENDTO || nr == SyscallNumbers.SENDMSG
                || nr == SyscallNumbers.SENDMMSG || nr == SyscallNumbers.FLOCK || nr == SyscallNumbers.FCNTL
                || nr == SyscallNumbers.FUTEX || nr == SyscallNumbers.SPLICE || nr == SyscallNumbers.SENDFILE;
    }

    /**
     * A write failed with {@code EPIPE}: the writing thread gets {@code SIGPIPE}, as Linux sends
     * it, unless a {@code send} asked for {@code MSG_NOSIGNAL}.
     */
    static void brokenPipe(Syscall c) {
        long nr = c.number();
        boolean write = nr == SyscallNumbers.WRITE || nr == SyscallNumbers.WRITEV || nr == SyscallNumbers.PWRITE64
                || nr == SyscallNumbers.PWRITEV || nr == SyscallNumbers.PWRITEV2 || nr == SyscallNumbers.SPLICE
                || nr == SyscallNumbers.SENDFILE || nr == SyscallNumbers.VMSPLICE;
        boolean send = nr == SyscallNumbers.SENDTO || nr == SyscallNumbers.SENDMSG || nr == SyscallNumbers.SENDMMSG;
        long sendFlags = nr == SyscallNumbers.SENDMSG ? c.arg(2) : c.arg(3);
        if (write || (send && (sendFlags & MSG_NOSIGNAL) == 0)) {
            GuestThread t = c.thread();
            if (t != null) {
                sendToThread(c.process(), t, Siginfo.sent(SignalState.SIGPIPE, Siginfo.SI_USER, c.process().pid()));
            }
        }
    }

    private static final long MSG_NOSIGNAL = 0x4000;
}
