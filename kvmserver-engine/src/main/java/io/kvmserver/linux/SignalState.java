package io.kvmserver.linux;

/**
 * The process's signal dispositions ({@code rt_sigaction}, shared by its threads, as with
 * {@code CLONE_SIGHAND}) and the signals sent to the process as a whole, not yet delivered. Per
 * thread state (the blocked mask, the alternate stack, signals sent to one thread) is in
 * {@link GuestThread}.
 */
public final class SignalState {

    public static final int NSIG = 64;
    public static final long SIG_DFL = 0;
    public static final long SIG_IGN = 1;

    public static final int SIGHUP = 1;
    public static final int SIGINT = 2;
    public static final int SIGQUIT = 3;
    public static final int SIGILL = 4;
    public static final int SIGTRAP = 5;
    public static final int SIGABRT = 6;
    public static final int SIGBUS = 7;
    public static final int SIGFPE = 8;
    public static final int SIGKILL = 9;
    public static final int SIGSEGV = 11;
    public static final int SIGPIPE = 13;
    public static final int SIGALRM = 14;
    public static final int SIGCHLD = 17;
    public static final int SIGCONT = 18;
    public static final int SIGSTOP = 19;
    public static final int SIGTSTP = 20;
    public static final int SIGTTIN = 21;
    public static final int SIGTTOU = 22;
    public static final int SIGURG = 23;
    public static final int SIGXCPU = 24;
    public static final int SIGXFSZ = 25;
    public static final int SIGVTALRM = 26;
    public static final int SIGPROF = 27;
    public static final int SIGWINCH = 28;
    public static final int SIGSYS = 31;
    /** The first real-time signal (the kernel's; glibc reserves 32 and 33 for itself). */
    public static final int SIGRTMIN = 32;

    public static final long SA_SIGINFO = 0x4;
    public static final long SA_ONSTACK = 0x08000000;
    public static final long SA_RESTART = 0x10000000;
    public static final long SA_NODEFER = 0x40000000;
    public static final long SA_RESETHAND = 0x80000000L;
    public static final long SA_RESTORER = 0x04000000;
    public static final int SS_ONSTACK = 1;
    public static final int SS_DISABLE = 2;
    /** Clear the alternate stack while a handler runs on it (Linux 4.7). */
    public static final int SS_AUTODISARM = 1 << 31;

    /** Signals whose default action is to do nothing: SIGCHLD, SIGCONT, SIGURG, SIGWINCH. */
    private static final long DEFAULT_IGNORED = bit(SIGCHLD) | bit(SIGCONT) | bit(SIGURG) | bit(SIGWINCH);
    /** Signals whose default action stops the process; there is no job control here: ignored too. */
    private static final long DEFAULT_STOP = bit(SIGSTOP) | bit(SIGTSTP) | bit(SIGTTIN) | bit(SIGTTOU);

    private final long[] handler = new long[NSIG + 1];
    private final long[] flags = new long[NSIG + 1];
    private final long[] restorer = new long[NSIG + 1];
    private final long[] mask = new long[NSIG + 1];
    private final PendingSignals pending = new PendingSignals();
    /** Counts changes of the actions, so that the page that shows them is written only after one. */
    private long changes;

    /** The mask bit of signal {@code sig} (1 to 64). */
    public static long bit(int sig) {
        return 1L << (sig - 1);
    }

    public static boolean valid(int sig) {
        return sig >= 1 && sig <= NSIG;
    }

    public long handler(int sig) {
        return handler[sig];
    }

    public long flags(int sig) {
        return flags[sig];
    }

    public long restorer(int sig) {
        return restorer[sig];
    }

    public long mask(int sig) {
        return mask[sig];
    }

    public void set(int sig, long newHandler, long newFlags, long newRestorer, long newMask) {
        handler[sig] = newHandler;
        flags[sig] = newFlags;
        restorer[sig] = newRestorer;
        mask[sig] = newMask;
        changes++;
    }

    /** How many times the actions changed (a copy into this object counts as one). */
    public long changes() {
        return changes;
    }

    /** Signals sent to the process as a whole, not yet delivered to a thread. */
    PendingSignals pending() {
        return pending;
    }

    /**
     * Whether a signal arriving now would be discarded without any effect: ignored explicitly,
     * or by default (SIGCHLD, SIGURG, ..., and the stop signals, as there is no job control).
     */
    public boolean ignores(int sig) {
        if (sig == SIGKILL) {
            return false;
        }
        return handler[sig] == SIG_IGN
                || (handler[sig] == SIG_DFL && ((DEFAULT_IGNORED | DEFAULT_STOP) & bit(sig)) != 0);
    }

    /** Whether the default action applies and kills the process. */
    public boolean kills(int sig) {
        return sig == SIGKILL || (handler[sig] == SIG_DFL && ((DEFAULT_IGNORED | DEFAULT_STOP) & bit(sig)) == 0);
    }

    /**
     * Makes {@code c} (the signal state of a process nobody runs any more, or a new one) a copy
     * of this one: every disposition and pending signal is overwritten, so a reset reuses the
     * arrays instead of allocating them.
     */
    SignalState copyInto(SignalState c) {
        System.arraycopy(handler, 0, c.handler, 0, handler.length);
        System.arraycopy(flags, 0, c.flags, 0, flags.length);
        System.arraycopy(restorer, 0, c.restorer, 0, restorer.length);
        System.arraycopy(mask, 0, c.mask, 0, mask.length);
        c.pending.copyFrom(pending);
        c.changes++;
        return c;
    }

    /** A name users recognize, such as {@code SIGSEGV}; {@code SIGRTMIN+3} for real-time ones. */
    public static String name(int sig) {
        String[] names = {null, "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
            "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD",
            "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM",
            "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS"};
        if (sig > 0 && sig < names.length) {
            return names[sig];
        }
        return sig >= SIGRTMIN && sig <= NSIG ? "SIGRTMIN+" + (sig - SIGRTMIN) : "signal " + sig;
    }
}
