package io.kvmserver.linux;

/**
 * The process's signal-sending timers: the three interval timers of {@code setitimer} (and
 * {@code alarm}, which is {@code ITIMER_REAL}) and the POSIX timers of {@code timer_create}.
 *
 * <p>They are plain data on the host's monotonic clock, copied with the process, so a request VM
 * inherits the template's armed timers and a reset disarms whatever a request armed. Nothing runs
 * on the host between exits: the vCPU loop fires due timers when the program makes a call, when a
 * time slice ends, and while every thread waits ({@link Scheduler#awaitRunnable}), and it keeps a
 * time slice running while a timer is armed, so that a program spinning in user mode still gets
 * its SIGALRM.
 *
 * <p>{@code ITIMER_VIRTUAL} and {@code ITIMER_PROF} count the program's CPU time on Linux; here
 * they count wall time, which is the same for a program that keeps the vCPU busy and is what
 * profilers and watchdogs that use them need.
 */
public final class Timers {

    public static final int ITIMER_REAL = 0;
    public static final int ITIMER_VIRTUAL = 1;
    public static final int ITIMER_PROF = 2;
    /** POSIX timers a process may hold at once (Linux bounds them by RLIMIT_SIGPENDING). */
    public static final int POSIX_LIMIT = 256;

    public static final int SIGEV_SIGNAL = 0;
    public static final int SIGEV_NONE = 1;
    public static final int SIGEV_THREAD_ID = 4;

    private static final int[] ITIMER_SIGNAL = {SignalState.SIGALRM, SignalState.SIGVTALRM, SignalState.SIGPROF};

    private final long[] itimerDeadline = {Deadline.NEVER, Deadline.NEVER, Deadline.NEVER};
    private final long[] itimerInterval = new long[3];
    private final PosixTimer[] posix = new PosixTimer[POSIX_LIMIT];
    private long next = Deadline.NEVER;

    /** One {@code timer_create} timer. */
    static final class PosixTimer {
        final int clock;
        final int notify;
        final int signo;
        final int tid;
        final long value;
        long deadline = Deadline.NEVER;
        long interval;
        int overrun;

        PosixTimer(int clock, int notify, int signo, int tid, long value) {
            this.clock = clock;
            this.notify = notify;
            this.signo = signo;
            this.tid = tid;
            this.value = value;
        }

        PosixTimer copy() {
            PosixTimer c = new PosixTimer(clock, notify, signo, tid, value);
            c.deadline = deadline;
            c.interval = interval;
            c.overrun = overrun;
            return c;
        }
    }

    /**
     * Makes {@code c} (the timers of a process nobody runs any more, or new ones) a copy of these:
     * every slot is overwritten, so a reset reuses the table instead of allocating it.
     */
    Timers copyInto(Timers c) {
        System.arraycopy(itimerDeadline, 0, c.itimerDeadline, 0, 3);
        System.arraycopy(itimerInterval, 0, c.itimerInterval, 0, 3);
        for (int i = 0; i < POSIX_LIMIT; i++) {
            c.posix[i] = posix[i] == null ? null : posix[i].copy();
        }
        c.next = next;
        return c;
    }

    /**
     * Whether any timer may fire: then the vCPU loop must keep time slices running. One armed at
     * {@link Deadline#LATEST} (saturated, as Linux saturates at KTIME_MAX) never will.
     */
    public boolean armed() {
        return next < Deadline.LATEST;
    }

    /** The earliest deadline of an armed timer, or {@link Deadline#NEVER}. */
    public long nextDeadline() {
        return next;
    }

    // ---- setitimer ----

    long itimerDeadline(int which) {
        return itimerDeadline[which];
    }

    long itimerInterval(int which) {
        return itimerInterval[which];
    }

    /** Arms ({@code deadline}, then every {@code interval} nanoseconds if not 0) or disarms (NEVER). */
    void setItimer(int which, long deadline, long interval) {
        itimerDeadline[which] = deadline;
        itimerInterval[which] = deadline == Deadline.NEVER ? 0 : interval;
        recompute();
    }

    // ---- timer_create ----

    /**
     * A new timer's id, or -1 when the process holds {@link #POSIX_LIMIT} already; with
     * {@code valueIsId} its signals carry the id as their value.
     */
    int create(int clock, int notify, int signo, int tid, long value, boolean valueIsId) {
        for (int id = 0; id < POSIX_LIMIT; id++) {
            if (posix[id] == null) {
                posix[id] = new PosixTimer(clock, notify, signo, tid, valueIsId ? id : value);
                return id;
            }
        }
        return -1;
    }

    PosixTimer get(long id) {
        return id >= 0 && id < POSIX_LIMIT ? posix[(int) id] : null;
    }

    void delete(int id) {
        posix[id] = null;
        recompute();
    }

    void arm(PosixTimer t, long deadline, long interval) {
        t.deadline = deadline;
        t.interval = deadline == Deadline.NEVER ? 0 : interval;
        t.overrun = 0;
        recompute();
    }

    private void recompute() {
        long n = Deadline.NEVER;
        for (long d : itimerDeadline) {
            n = Math.min(n, d);
        }
        for (PosixTimer t : posix) {
            if (t != null) {
                n = Math.min(n, t.deadline);
            }
        }
        next = n;
    }

    /**
     * Sends the signals of every timer due at {@code now} and re-arms the periodic ones; expirations
     * missed meanwhile count as overruns (one signal, as Linux sends).
     */
    public void fireDue(LinuxProcess p, long now) {
        if (now < next) {
            return;
        }
        for (int which = 0; which < 3; which++) {
            long due = itimerDeadline[which];
            if (due <= now) {
                itimerDeadline[which] = reload(due, itimerInterval[which], now);
                Signals.sendToProcess(p, Siginfo.kernel(ITIMER_SIGNAL[which]));
            }
        }
        for (int id = 0; id < POSIX_LIMIT; id++) {
            PosixTimer t = posix[id];
            if (t == null || t.deadline > now) {
                continue;
            }
            long due = t.deadline;
            t.deadline = reload(due, t.interval, now);
            t.overrun = t.interval == 0 ? 0 : (int) Math.min(Integer.MAX_VALUE, (now - due) / t.interval);
            if (t.notify == SIGEV_NONE) {
                continue;
            }
            Siginfo info = new Siginfo(t.signo, Siginfo.SI_TIMER, 0, id, t.overrun, t.value);
            GuestThread target = t.notify == SIGEV_THREAD_ID ? p.scheduler().find(t.tid) : null;
            if (target != null) {
                Signals.sendToThread(p, target, info);
            } else {
                Signals.sendToProcess(p, info);
            }
        }
        recompute();
    }

    /**
     * The next expiry of a timer due at {@code due}: disarmed without an interval, otherwise the
     * first period after {@code now}, saturated at {@link Deadline#LATEST} as Linux saturates at
     * KTIME_MAX (a huge interval leaves the timer armed, never firing again).
     */
    private static long reload(long due, long interval, long now) {
        if (interval <= 0) {
            return Deadline.NEVER;
        }
        long missed = (now - due) / interval + 1;
        if (missed > (Deadline.LATEST - due) / interval) {
            return Deadline.LATEST;
        }
        return due + missed * interval;
    }
}
