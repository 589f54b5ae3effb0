package io.kvmserver.linux;

import io.kvmserver.host.Errno;
import io.kvmserver.host.SyscallNumbers;

/**
 * Timers family: the interval timers ({@code setitimer}, {@code getitimer}, {@code alarm}) and
 * POSIX timers ({@code timer_create} and friends), which send signals when they expire. The
 * timers themselves are {@link Timers}; {@code timerfd} is a file and lives with eventfd.
 */
final class TimerSyscalls {

    private static final long NANOS = 1_000_000_000L;
    private static final int TIMER_ABSTIME = 1;
    private static final int SIGEV_THREAD = 2;
    private static final int CLOCK_MONOTONIC_RAW = 4;
    private static final int CLOCK_REALTIME_COARSE = 5;
    private static final int CLOCK_MONOTONIC_COARSE = 6;
    private static final int CLOCK_REALTIME_ALARM = 8;
    private static final int CLOCK_BOOTTIME_ALARM = 9;
    private static final int CLOCK_TAI = 11;

    private TimerSyscalls() {
    }

    static void register(SyscallTable t) {
        t.register(SyscallNumbers.SETITIMER, TimerSyscalls::setitimer);
        t.register(SyscallNumbers.GETITIMER, TimerSyscalls::getitimer);
        t.register(SyscallNumbers.ALARM, TimerSyscalls::alarm);
        t.register(SyscallNumbers.TIMER_CREATE, TimerSyscalls::timerCreate);
        t.register(SyscallNumbers.TIMER_SETTIME, TimerSyscalls::timerSettime);
        t.register(SyscallNumbers.TIMER_GETTIME, TimerSyscalls::timerGettime);
        t.register(SyscallNumbers.TIMER_GETOVERRUN, c -> {
            Timers.PosixTimer timer = c.process().timers().get(c.arg(0));
            return timer == null ? -Errno.EINVAL : timer.overrun;
        });
        t.register(SyscallNumbers.TIMER_DELETE, c -> {
            Timers.PosixTimer timer = c.process().timers().get(c.arg(0));
            if (timer == null) {
                return -Errno.EINVAL;
            }
            c.process().timers().delete((int) c.arg(0));
            return 0;
        });
    }

    // ---- setitimer ----

    /**
     * setitimer: as Linux, the new value (none means disarm) is copied and checked before
     * {@code which}, and the old value is written once the timer is set.
     */
    static long setitimer(Syscall c) {
        long interval = 0;
        long value = 0;
        if (c.arg(1) != 0) {
            c.memory().check(c.arg(1), 32, AddressSpace.PROT_READ);
            interval = GuestTime.timeval(c.memory(), c.arg(1));
            value = GuestTime.timeval(c.memory(), c.arg(1) + 16);
            if (interval == GuestTime.INVALID || value == GuestTime.INVALID) {
                return -Errno.EINVAL;
            }
        }
        int which = c.intArg(0);
        if (which < Timers.ITIMER_REAL || which > Timers.ITIMER_PROF) {
            return -Errno.EINVAL;
        }
        Timers timers = c.process().timers();
        long oldInterval = timers.itimerInterval(which);
        long oldDeadline = timers.itimerDeadline(which);
        boolean cpuTime = Timers.countsCpu(which);
        long now = timers.now(cpuTime);
        timers.setItimer(which, value == 0 ? Deadline.NEVER : timers.armedAfter(cpuTime, value), interval);
        if (c.arg(2) != 0) {
            writeItimer(c, c.arg(2), oldInterval, oldDeadline, now);
        }
        return 0;
    }

    static long getitimer(Syscall c) {
        int which = c.intArg(0);
        if (which < Timers.ITIMER_REAL || which > Timers.ITIMER_PROF) {
            return -Errno.EINVAL;
        }
        Timers timers = c.process().timers();
        writeItimer(c, c.arg(1), timers.itimerInterval(which), timers.itimerDeadline(which),
                timers.now(Timers.countsCpu(which)));
        return 0;
    }

    /** alarm: ITIMER_REAL in whole seconds; returns the seconds the previous alarm had left, rounded. */
    static long alarm(Syscall c) {
        long seconds = c.arg(0) & 0xffffffffL;
        Timers timers = c.process().timers();
        long left = remaining(timers.itimerDeadline(Timers.ITIMER_REAL), timers.itimerInterval(Timers.ITIMER_REAL),
                System.nanoTime());
        timers.setItimer(Timers.ITIMER_REAL, seconds == 0 ? Deadline.NEVER : Deadline.armedAfter(seconds * NANOS), 0);
        long old = (left + NANOS / 2) / NANOS;
        return left > 0 && old == 0 ? 1 : old;
    }

    private static void writeItimer(Syscall c, long address, long interval, long deadline, long now) {
        // An armed timer reports at least a microsecond (Linux does for one already due): 0 reads as disarmed.
        long left = deadline == Deadline.NEVER ? 0 : Math.max(1000, remaining(deadline, interval, now));
        long[] i = toTimeval(interval);
        long[] v = toTimeval(left);
        AddressSpace m = c.memory();
        m.check(address, 32, AddressSpace.PROT_WRITE);
        m.writeLong(address, i[0]);
        m.writeLong(address + 8, i[1]);
        m.writeLong(address + 16, v[0]);
        m.writeLong(address + 24, v[1]);
    }

    /**
     * Nanoseconds as a {@code struct timeval}, {seconds, microseconds}, the microseconds truncated
     * as Linux's getitimer does: rounding up in the fraction alone gave a tv_usec of 1000000.
     */
    static long[] toTimeval(long nanos) {
        return new long[] {nanos / NANOS, nanos % NANOS / 1000};
    }

    /**
     * What is left at {@code now} (on the timer's clock) of a timer at {@code deadline} with
     * {@code interval}: until its next expiry, one overdue moved forward by periods as Linux
     * reports it (a dormant or SIGEV_NONE timer is not fired while its expiries pass, see
     * {@link Timers}); 0 for a one-shot one overdue.
     */
    private static long remaining(long deadline, long interval, long now) {
        if (deadline == Deadline.NEVER) {
            return 0;
        }
        return Math.max(0, Timers.expiry(deadline, interval, now) - now);
    }

    // ---- POSIX timers ----

    static long timerCreate(Syscall c) {
        int clock = TimeSyscalls.cpuClockOf(c, c.intArg(0));
        if (clock == CLOCK_MONOTONIC_RAW || clock == CLOCK_REALTIME_COARSE || clock == CLOCK_MONOTONIC_COARSE) {
            return -Errno.EOPNOTSUPP;
        }
        if (clock == CLOCK_REALTIME_ALARM || clock == CLOCK_BOOTTIME_ALARM) {
            return -Errno.EPERM; // needs CAP_WAKE_ALARM
        }
        if (clock < 0 || clock > CLOCK_TAI || clock == 10) {
            return -Errno.EINVAL;
        }
        int notify = Timers.SIGEV_SIGNAL;
        int signo = SignalState.SIGALRM;
        int tid = 0;
        long value = -1;
        if (c.arg(1) != 0) {
            AddressSpace m = c.memory();
            m.check(c.arg(1), 64, AddressSpace.PROT_READ);
            value = m.readLong(c.arg(1));
            signo = m.readInt(c.arg(1) + 8);
            notify = m.readInt(c.arg(1) + 12);
            tid = m.readInt(c.arg(1) + 16);
            if (notify == SIGEV_THREAD) {
                notify = Timers.SIGEV_SIGNAL;
            }
            if (notify == (Timers.SIGEV_THREAD_ID | Timers.SIGEV_SIGNAL)) {
                if (c.process().scheduler().find(tid) == null) {
                    return -Errno.EINVAL;
                }
            } else if (notify != Timers.SIGEV_SIGNAL && notify != Timers.SIGEV_NONE) {
                return -Errno.EINVAL;
            }
            if (notify != Timers.SIGEV_NONE && !SignalState.valid(signo)) {
                return -Errno.EINVAL;
            }
        }
        c.memory().check(c.arg(2), 4, AddressSpace.PROT_WRITE);
        Timers timers = c.process().timers();
        // Without a sigevent, the signal's value is the timer's id.
        int id = timers.create(clock, notify, signo, tid, value, c.arg(1) == 0);
        if (id < 0) {
            return -Errno.EAGAIN;
        }
        c.memory().writeInt(c.arg(2), id);
        return 0;
    }

    /**
     * timer_settime: as Linux, the new value is required (EINVAL, not EFAULT, for NULL), and copied
     * and checked before the timer is looked up; the old value is written once the timer is armed.
     * A value past the clock's range arms the timer at {@link Deadline#LATEST}, as Linux saturates
     * it at KTIME_MAX: it stays armed and reports what is left until then.
     */
    static long timerSettime(Syscall c) {
        if (c.arg(2) == 0) {
            return -Errno.EINVAL;
        }
        c.memory().check(c.arg(2), 32, AddressSpace.PROT_READ);
        long interval = GuestTime.timespec(c.memory(), c.arg(2));
        long value = GuestTime.timespec(c.memory(), c.arg(2) + 16);
        if (interval == GuestTime.INVALID || value == GuestTime.INVALID) {
            return -Errno.EINVAL;
        }
        Timers timers = c.process().timers();
        Timers.PosixTimer timer = timers.get(c.arg(0));
        if (timer == null) {
            return -Errno.EINVAL;
        }
        long oldInterval = timer.interval;
        long oldDeadline = timer.deadline;
        boolean cpuTime = Timers.clockCountsCpu(timer.clock);
        long now = timers.now(cpuTime);
        long deadline;
        if (value == 0) {
            deadline = Deadline.NEVER;
        } else if ((c.intArg(1) & TIMER_ABSTIME) != 0) {
            // A CPU clock's deadline is its own time (the guest's CPU time, never the host's).
            deadline = Math.min(cpuTime ? value : HostClock.deadlineOf(timer.clock, value), Deadline.LATEST);
        } else {
            deadline = timers.armedAfter(cpuTime, value);
        }
        timers.arm(timer, deadline, interval);
        if (c.arg(3) != 0) {
            writeTimer(c, c.arg(3), oldInterval, oldDeadline, now);
        }
        return 0;
    }

    static long timerGettime(Syscall c) {
        Timers.PosixTimer timer = c.process().timers().get(c.arg(0));
        if (timer == null) {
            return -Errno.EINVAL;
        }
        writeTimer(c, c.arg(1), timer.interval, timer.deadline,
                c.process().timers().now(Timers.clockCountsCpu(timer.clock)));
        return 0;
    }

    private static void writeTimer(Syscall c, long address, long interval, long deadline, long now) {
        long left = remaining(deadline, interval, now);
        AddressSpace m = c.memory();
        m.check(address, 32, AddressSpace.PROT_WRITE);
        m.writeLong(address, interval / NANOS);
        m.writeLong(address + 8, interval % NANOS);
        m.writeLong(address + 16, left / NANOS);
        m.writeLong(address + 24, left % NANOS);
    }
}
