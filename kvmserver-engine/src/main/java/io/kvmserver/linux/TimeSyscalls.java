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
    private static final int CLOCK_REALTIME_COARSE = 5;
    private static final int CLOCK_MONOTONIC_COARSE = 6;
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
        t.register(SyscallNumbers.TIMES, c -> {
            if (c.arg(0) != 0) {
                c.memory().writeBytes(c.arg(0), new byte[32]);
            }
            return System.nanoTime() / 10_000_000L;
        });
    }

    private static boolean validClock(int clock) {
        // REALTIME, MONOTONIC, PROCESS_CPUTIME, THREAD_CPUTIME, MONOTONIC_RAW, *_COARSE, BOOTTIME
        return clock >= 0 && clock <= 7;
    }

    private static long host(HostFile.HostCall call) {
        return HostFile.call(call);
    }

    static long clockGettime(Syscall c) {
        int clock = c.intArg(0);
        if (!validClock(clock)) {
            return -Errno.EINVAL;
        }
        long buf = c.memory().writable(c.arg(1), 16);
        // The vDSO answers the coarse clocks with the fine ones; so does the call, or a program
        // mixing both would see the coarse clock go back by up to a host tick.
        int read = clock == CLOCK_REALTIME_COARSE ? 0 : clock == CLOCK_MONOTONIC_COARSE ? 1 : clock;
        return host(() -> LibC.syscall(SyscallNumbers.CLOCK_GETTIME, read, buf, 0, 0, 0, 0));
    }

    static long clockGetres(Syscall c) {
        int clock = c.intArg(0);
        if (!validClock(clock)) {
            return -Errno.EINVAL;
        }
        if (c.arg(1) == 0) {
            return 0;
        }
        long buf = c.memory().writable(c.arg(1), 16);
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
        if (!validClock(clock) || clock == 2 || clock == 3) {
            return clock == 2 || clock == 3 ? -Errno.EOPNOTSUPP : -Errno.EINVAL;
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
                long left = Math.max(0, Deadline.remaining(deadline));
                c.memory().writeLong(remain, left / NANOS);
                c.memory().writeLong(remain + 8, left % NANOS);
            }
            return -Errno.EINTR;
        }
        return 0;
    }

}
