package io.kvmserver.linux;

import io.kvmserver.host.SyscallNumbers;

import io.kvmserver.host.Errno;

/**
 * Signals family. Dispositions and masks are recorded (and reset with the VM); a signal the
 * program sends itself with the default action of terminating ends it, as {@code abort()}
 * expects. Signals to other processes are refused: there are none.
 */
final class SignalSyscalls {

    private static final int SIGKILL = 9;
    private static final int SIGSTOP = 19;
    private static final int SIG_BLOCK = 0;
    private static final int SIG_UNBLOCK = 1;
    private static final int SIG_SETMASK = 2;
    private static final int SS_DISABLE = 2;
    private static final long MINSIGSTKSZ = 2048;
    /** Signals whose default action is to ignore them (SIGCHLD, SIGCONT, SIGURG, SIGWINCH). */
    private static final long DEFAULT_IGNORED = (1L << 16) | (1L << 17) | (1L << 22) | (1L << 27);

    private SignalSyscalls() {
    }

    static void register(SyscallTable t) {
        t.register(SyscallNumbers.RT_SIGACTION, SignalSyscalls::rtSigaction);
        t.register(SyscallNumbers.RT_SIGPROCMASK, SignalSyscalls::rtSigprocmask);
        t.register(SyscallNumbers.SIGALTSTACK, SignalSyscalls::sigaltstack);
        t.register(SyscallNumbers.KILL, c -> signalSelf(c, c.arg(0), c.intArg(1)));
        t.register(SyscallNumbers.TKILL, c -> signalSelf(c, c.arg(0), c.intArg(1)));
        t.register(SyscallNumbers.TGKILL, c -> signalSelf(c, c.arg(1), c.intArg(2)));
        t.register(SyscallNumbers.RT_SIGRETURN, c -> {
            c.requestFatalSignal(11); // no signal frame was ever delivered: a forged return
            return 0;
        });
    }

    private static boolean validSignal(int sig) {
        return sig >= 1 && sig <= SignalState.NSIG;
    }

    static long rtSigaction(Syscall c) {
        int sig = c.intArg(0);
        long act = c.arg(1);
        long oldAct = c.arg(2);
        if (c.arg(3) != 8 || !validSignal(sig)) {
            return -Errno.EINVAL;
        }
        AddressSpace m = c.memory();
        long[] newValues = null;
        if (act != 0) {
            if (sig == SIGKILL || sig == SIGSTOP) {
                return -Errno.EINVAL;
            }
            m.check(act, 32, AddressSpace.PROT_READ);
            newValues = new long[] {m.readLong(act), m.readLong(act + 8), m.readLong(act + 16), m.readLong(act + 24)};
        }
        if (oldAct != 0) {
            long[] old = new long[4];
            c.process().signals().get(sig, old);
            m.check(oldAct, 32, AddressSpace.PROT_WRITE);
            for (int i = 0; i < 4; i++) {
                m.writeLong(oldAct + i * 8L, old[i]);
            }
        }
        if (newValues != null) {
            c.process().signals().set(sig, newValues[0], newValues[1], newValues[2], newValues[3]);
        }
        return 0;
    }

    static long rtSigprocmask(Syscall c) {
        int how = c.intArg(0);
        long set = c.arg(1);
        long oldSet = c.arg(2);
        if (c.arg(3) != 8) {
            return -Errno.EINVAL;
        }
        SignalState s = c.process().signals();
        long current = s.blocked();
        long value = 0;
        if (set != 0) {
            if (how != SIG_BLOCK && how != SIG_UNBLOCK && how != SIG_SETMASK) {
                return -Errno.EINVAL;
            }
            value = c.memory().readLong(set);
        }
        if (oldSet != 0) {
            c.memory().writeLong(oldSet, current);
        }
        if (set != 0) {
            s.setBlocked(switch (how) {
                case SIG_BLOCK -> current | value;
                case SIG_UNBLOCK -> current & ~value;
                default -> value;
            });
        }
        return 0;
    }

    static long sigaltstack(Syscall c) {
        long ss = c.arg(0);
        long oldSs = c.arg(1);
        SignalState s = c.process().signals();
        AddressSpace m = c.memory();
        long[] newValues = null;
        if (ss != 0) {
            m.check(ss, 24, AddressSpace.PROT_READ);
            long sp = m.readLong(ss);
            int flags = m.readInt(ss + 8);
            long size = m.readLong(ss + 16);
            if ((flags & ~(SS_DISABLE | (1 << 31))) != 0) {
                return -Errno.EINVAL;
            }
            if ((flags & SS_DISABLE) == 0 && size < MINSIGSTKSZ) {
                return -Errno.ENOMEM;
            }
            newValues = new long[] {sp, flags, size};
        }
        if (oldSs != 0) {
            m.check(oldSs, 24, AddressSpace.PROT_WRITE);
            m.writeLong(oldSs, s.altStack());
            m.writeInt(oldSs + 8, s.altStackFlags());
            m.writeInt(oldSs + 12, 0);
            m.writeLong(oldSs + 16, s.altStackSize());
        }
        if (newValues != null) {
            s.setAltStack(newValues[0], newValues[2], (int) newValues[1]);
        }
        return 0;
    }

    static long signalSelf(Syscall c, long pid, int sig) {
        if (pid != LinuxProcess.PID && pid != 0) {
            return pid < 0 ? -Errno.EPERM : -Errno.ESRCH;
        }
        if (sig == 0) {
            return 0;
        }
        if (!validSignal(sig)) {
            return -Errno.EINVAL;
        }
        SignalState s = c.process().signals();
        long handler = s.handler(sig);
        boolean blocked = (s.blocked() & (1L << (sig - 1))) != 0 && sig != SIGKILL && sig != SIGSTOP;
        if (sig == SIGKILL || (!blocked && handler == SignalState.SIG_DFL && (DEFAULT_IGNORED & (1L << sig)) == 0)) {
            c.requestFatalSignal(sig);
        }
        // A handled, ignored or blocked signal is not delivered: there is no signal frame support.
        return 0;
    }
}
