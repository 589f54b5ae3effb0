package io.kvmserver.linux;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;
import io.kvmserver.host.SyscallNumbers;
import org.junit.jupiter.api.Test;

/**
 * Which files make the host's "nothing was ready" stale by time alone ({@link
 * ReadinessProbe#watchesTime}), on real host timerfds: the entry answers a zero-timeout wait with
 * nothing after the host's own found nothing only on an instance that watches none. A one-shot
 * timer that expired between the host's wait and the next entry is no longer armed but ready:
 * under load (the vCPU thread preempted there for milliseconds) `AcceptWaitTest`'s spin once got
 * "events=0" for a timer due 3 ms before, when only an armed timer counted.
 */
class ReadinessProbeTest {

    private static final int CLOCK_MONOTONIC = 1;
    private static final int EPOLLIN = 1;

    private static void arm(TimerFdFile timer, long nanos) {
        try (Memory setting = new Memory(32)) {
            setting.clear();
            setting.setLong(16, nanos / 1_000_000_000L);
            setting.setLong(24, nanos % 1_000_000_000L);
            LibC.syscall(SyscallNumbers.TIMERFD_SETTIME, timer.hostFd(), 0, Pointer.nativeValue(setting), 0, 0, 0);
        }
    }

    private static void awaitExpiry(TimerFdFile timer) {
        try (Memory pollfd = new Memory(8)) {
            pollfd.setInt(0, timer.hostFd());
            pollfd.setShort(4, HostWaiter.POLLIN);
            pollfd.setShort(6, (short) 0);
            LibC.syscall(SyscallNumbers.POLL, Pointer.nativeValue(pollfd), 1, 5_000, 0, 0, 0);
            assertThat(pollfd.getShort(6) & HostWaiter.POLLIN).as("the timer expired").isNotZero();
        }
    }

    @Test
    void anArmedTimerAndOneThatExpiredUnreadMakeAnEmptyWaitStale() {
        TimerFdFile timer = TimerFdFile.create(CLOCK_MONOTONIC, 0);
        FdTable files = new FdTable();
        int fd = files.install(timer, 0, false);
        EpollFile ep = new EpollFile();
        ep.interests().put(fd, new EpollFile.Interest(EPOLLIN, 2, files.generation(fd)));
        ReadinessProbe probe = new ReadinessProbe();
        try {
            assertThat(probe.watchesTime(files, ep)).as("a timer never armed").isFalse();
            arm(timer, 10_000_000_000L);
            assertThat(probe.watchesTime(files, ep)).as("a timer armed for 10 s").isTrue();
            arm(timer, 1_000_000L);
            awaitExpiry(timer);
            assertThat(probe.watchesTime(files, ep)).as("a one-shot timer that expired, not read").isTrue();
            try (Memory ticks = new Memory(8)) {
                LibC.syscall(SyscallNumbers.READ, timer.hostFd(), Pointer.nativeValue(ticks), 8, 0, 0, 0);
            }
            assertThat(probe.watchesTime(files, ep)).as("that timer, read").isFalse();
        } finally {
            files.closeAll();
        }
    }
}
