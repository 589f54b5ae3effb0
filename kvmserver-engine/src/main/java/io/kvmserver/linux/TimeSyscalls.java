package io.kvmserver.linux;

import io.kvmserver.host.SyscallNumbers;

import io.kvmserver.host.Errno;

import io.kvmserver.host.LibC;

/**
 * Time family. Clocks are the host's, read straight into guest memory. Sleeping really sleeps,
 * in the VM's {@link HostWaiter}, so that a request's time limit still ends it.
 */
final class TimeSyscalls {

    private static final int TIMER_ABSTIME = 1;
    static final int CLOCK_PROCESS_CPUTIME_ID = 2;
    static final int CLOCK_THREAD_CPUTIME_ID = 3;
    private static final int CLOCK_MONOTONIC_RAW = 4;
    private static final int CLOCK_REALTIME_COARSE = 5;
    private static final int CLOCK_MONOTONIC_COARSE = 6;
    private static final int CLOCK_TAI = 11;
    private static final long NANOS = 1_000_000_000L;

    private TimeSyscalls() {
    }

    static void register(SyscallTable t) {
        t.register(SyscallNumbers.CLOCK_GETTIME, TimeSyscalls::clockGettime);
        t.register(SyscallNumbers.CLOCK_GETRES, TimeSyscalls::clockGetres);
        t.register(SyscallNumbers.GETTIMEOFDAY, TimeSyscalls::gettimeofday);
        t.register(SyscallNumbers.TIME, TimeSyscalls::time);
        t.register(SyscallNumbers.NANOSLEEP, c -> sleep(c, 1, 0, c.arg(0), c.arg(1)));
        t.register(SyscallNumbers.CLOCK_NANOSLEEP, c -> sleep(c, c.intArg(0), c.intArg(1), c.arg(2), c.arg(3)));
        t.register(SyscallNumbers.TIMES, TimeSyscalls::times);
    }

    /** Clock ticks per second of times(2): USER_HZ. */
    private static final long USER_HZ = 100;

    /** times: the guest's CPU time as user time (see {@link Timers#cpuClock}), no children; the return a tick count. */
    static long times(Syscall c) {
        if (c.arg(0) != 0) {
            c.memory().writeBytes(c.arg(0), new byte[32]);
            c.memory().writeLong(c.arg(0), c.process().timers().cpuClock() / (NANOS / USER_HZ)); // tms_utime
        }
        return System.nanoTime() / (NANOS / USER_HZ);
    }

    private static boolean validClock(int clock) {
        // REALTIME, MONOTONIC, PROCESS_CPUTIME, THREAD_CPUTIME, MONOTONIC_RAW, *_COARSE, BOOTTIME, TAI
        return clock >= 0 && clock <= 7 || clock == CLOCK_TAI;
    }

    /**
     * The CPU clock a dynamic clock id names ({@code MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)}
     * and the thread's, which glibc's timer_create and clock_getcpuclockid use), or
     * {@code clock} itself: only the process's own (pid 0 or its own, any of its threads), as
     * {@link #CLOCK_PROCESS_CPUTIME_ID} or {@link #CLOCK_THREAD_CPUTIME_ID}; -1 for another.
     */
    static int cpuClockOf(Syscall c, int clock) {
        if (clock >= 0) {
            return clock;
        }
        int id = ~(clock >> 3);
        boolean thread = (clock & 4) != 0;
        if ((clock & 3) == 3 || (thread ? id != 0 && c.process().scheduler().find(id) == null
                : id != 0 && !c.process().isSelf(id))) {
            return -1; // no CPU clock (PROF, VIRT and SCHED are all the guest's CPU time here), or another process's
        }
        return thread ? CLOCK_THREAD_CPUTIME_ID : CLOCK_PROCESS_CPUTIME_ID;
    }

    private static boolean cpuClock(int clock) {
        return clock == CLOCK_PROCESS_CPUTIME_ID || clock == CLOCK_THREAD_CPUTIME_ID;
    }

    private static long host(HostFile.HostCall call) {
        return HostFile.call(call);
    }

    static long clockGettime(Syscall c) {
        int clock = cpuClockOf(c, c.intArg(0));
        if (!validClock(clock)) {
            return -Errno.EINVAL;
        }
        long buf = c.memory().writable(c.arg(1), 16);
        if (cpuClock(clock)) {
            // The guest's own CPU time (see Timers#cpuClock), never the host's: the JVM's process
            // clock counts every VM, and a VM thread's clock every request it served.
            long ns = c.process().timers().cpuClock();
            GuestTime.writeTimespec(c.memory(), c.arg(1), ns);
            return 0;
        }
        // The vDSO answers the coarse clocks with the fine ones; so does the call, or a program
        // mixing both would see the coarse clock go back by up to a host tick.
        int read = clock == CLOCK_REALTIME_COARSE ? 0 : clock == CLOCK_MONOTONIC_COARSE ? 1 : clock;
        return host(() -> LibC.syscall(SyscallNumbers.CLOCK_GETTIME, read, buf, 0, 0, 0, 0));
    }

    static long clockGetres(Syscall c) {
        int clock = cpuClockOf(c, c.intArg(0));
        if (!validClock(clock)) {
            return -Errno.EINVAL;
        }
        if (c.arg(1) == 0) {
            return 0;
        }
        long buf = c.memory().writable(c.arg(1), 16);
        if (cpuClock(clock)) {
            c.memory().writeLong(c.arg(1), 0);
            c.memory().writeLong(c.arg(1) + 8, 1); // 1 ns, as Linux
            return 0;
        }
        return host(() -> LibC.syscall(SyscallNumbers.CLOCK_GETRES, clock, buf, 0, 0, 0, 0));
    }

    static long gettimeofday(Syscall c) {
        if (c.arg(0) != 0) {
            long buf = c.memory().writable(c.arg(0), 16);
            long rc = host(() -> LibC.syscall(SyscallNumbers.GETTIMEOFDAY, buf, 0, 0, 0, 0, 0));
            if (rc < 0) {
                return rc;
            }
        }
        if (c.arg(1) != 0) {
            c.memory().writeLong(c.arg(1), 0); // struct timezone: UTC
        }
        return 0;
    }

    static long time(Syscall c) {
        long now = System.currentTimeMillis() / 1000;
        if (c.arg(0) != 0) {
            c.memory().writeLong(c.arg(0), now);
        }
        return now;
    }

    static long sleep(Syscall c, int clock, int flags, long request, long remain) {
        if (!validClock(clock)) {
            return -Errno.EINVAL;
        }
        if (cpuClock(clock) || clock == CLOCK_MONOTONIC_RAW || clock == CLOCK_REALTIME_COARSE
                || clock == CLOCK_MONOTONIC_COARSE) {
            // Linux: EOPNOTSUPP for the thread's CPU clock and the raw and coarse ones. It sleeps
            // on the process's CPU clock (until the process used that much CPU); not here.
            return -Errno.EOPNOTSUPP;
        }
        long total = GuestTime.timespec(c.memory(), request);
        if (total == GuestTime.INVALID) {
            return -Errno.EINVAL;
        }
        if ((flags & TIMER_ABSTIME) != 0) {
            total = Math.max(0, total - HostClock.now(clock));
            remain = 0; // an absolute sleep reports no remaining time
        }
        long deadline = c.waiter().deadlineAfter(total);
        int slept = c.waiter().sleep(Deadline.remaining(deadline));
        if (slept == HostWaiter.WAIT_PARKED) {
            return Syscall.RESTART;
        }
        if (slept == HostWaiter.WAIT_KICKED) {
            if (remain != 0) {
                GuestTime.writeTimespec(c.memory(), remain, Math.max(0, Deadline.remaining(deadline)));
            }
            return -Errno.EINTR;
        }
        return 0;
    }

    /**
     * A parked {@code nanosleep} or relative {@code clock_nanosleep} a signal interrupts: the
     * time it did not sleep goes to its {@code rem}, as Linux writes it (the eighth review: it was
     * written only for a sleep the engine woke itself, so {@code while (nanosleep(&t, &t))} and
     * glibc's {@code sleep} began the whole time again after each signal of a program with threads
     * or timers). Returns the call's result: {@code -EINTR}, or {@code -EFAULT} when {@code rem}
     * cannot be written (the program unmapped it meanwhile), as Linux answers.
     */
    static long interrupted(AddressSpace memory, GuestThread.Parked parked) {
        long remain;
        if (parked.number == SyscallNumbers.NANOSLEEP) {
            remain = parked.args[1];
        } else if (parked.number == SyscallNumbers.CLOCK_NANOSLEEP && (parked.args[1] & TIMER_ABSTIME) == 0) {
            remain = parked.args[3];
        } else {
            return -Errno.EINTR;
        }
        if (remain == 0 || parked.deadline == Deadline.NEVER) {
            return -Errno.EINTR;
        }
        try {
            GuestTime.writeTimespec(memory, remain, Math.max(0, Deadline.remaining(parked.deadline)));
            return -Errno.EINTR;
        } catch (SyscallError e) {
            return -e.errno();
        }
    }

}
