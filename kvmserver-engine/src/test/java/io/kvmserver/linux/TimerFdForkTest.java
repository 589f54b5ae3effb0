package io.kvmserver.linux;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;
import io.kvmserver.host.SyscallNumbers;
import org.junit.jupiter.api.Test;

/**
 * A fork of a frozen timerfd on real host timers: the copy holds what the template's timer holds
 * at the moment of the fork (its unread expirations, its next expiry, its interval), computed from
 * what the freeze read once, so that a reset does not read every timer of the template back from
 * {@code /proc/self/fdinfo} (a template with a thousand timers made each request 45 ms longer).
 * The template's own timer, never read, is the reference: forks must agree with it however long
 * after the freeze they are made.
 */
class TimerFdForkTest {

    private static final int CLOCK_MONOTONIC = 1;
    private static final int CLOCK_REALTIME = 0;
    private static final int CLOCK_BOOTTIME = 7;

    private static void arm(TimerFdFile timer, long firstNanos, long intervalNanos) {
        try (Memory setting = new Memory(32)) {
            setting.setLong(0, intervalNanos / 1_000_000_000L);
            setting.setLong(8, intervalNanos % 1_000_000_000L);
            setting.setLong(16, firstNanos / 1_000_000_000L);
            setting.setLong(24, firstNanos % 1_000_000_000L);
            LibC.syscall(SyscallNumbers.TIMERFD_SETTIME, timer.hostFd(), 0, Pointer.nativeValue(setting), 0, 0, 0);
        }
    }

    /** The next expiry from now and the interval, in nanoseconds. */
    private static long[] setting(TimerFdFile timer) {
        try (Memory setting = new Memory(32)) {
            LibC.syscall(SyscallNumbers.TIMERFD_GETTIME, timer.hostFd(), Pointer.nativeValue(setting), 0, 0, 0, 0);
            return new long[] {setting.getLong(16) * 1_000_000_000L + setting.getLong(24),
                setting.getLong(0) * 1_000_000_000L + setting.getLong(8)};
        }
    }

    /**
     * When {@code timer} next expires, on {@code clock}, and how long reading it took: the time
     * left, bracketed by two readings of the clock (the machine may preempt the test in between).
     */
    private static long[] nextExpiry(TimerFdFile timer, int clock) {
        long before = HostClock.now(clock);
        long left = setting(timer)[0];
        long after = HostClock.now(clock);
        return new long[] {before + left + (after - before) / 2, after - before};
    }

    /** Reads (and so drains) the copy's expirations; 0 when there are none. */
    private static long drain(TimerFdFile timer) {
        try (Memory ticks = new Memory(8)) {
            ticks.setLong(0, 0);
            try {
                LibC.syscall(SyscallNumbers.READ, timer.hostFd(), Pointer.nativeValue(ticks), 8, 0, 0, 0);
            } catch (com.sun.jna.LastErrorException e) {
                return 0; // EAGAIN: nothing expired
            }
            return ticks.getLong(0);
        }
    }

    /**
     * The template's expirations without reading them: the kernel counts the overruns of an
     * expired periodic timer only when it is read or its setting is asked for, which forwards it.
     */
    private static long templateTicks(TimerFdFile timer) {
        setting(timer);
        return Math.max(0, FdInfo.field(timer.hostFd(), "ticks", 10));
    }

    private static TimerFdFile fork(TimerFdFile template) {
        ForkContext context = new ForkContext(null);
        try {
            return (TimerFdFile) template.fork(context);
        } finally {
            context.finish();
        }
    }

    @Test
    void aPeriodicTimerForkedLongAfterTheFreezeHasTheTemplatesExpirationsAndSchedule() throws Exception {
        for (int clock : new int[] {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME}) {
            TimerFdFile template = TimerFdFile.create(clock, 0);
            arm(template, 3_000_000L, 7_000_000L);
            Thread.sleep(40);
            template.freeze(new FrozenBytes());
            for (int round = 0; round < 3; round++) {
                Thread.sleep(35);
                long before = templateTicks(template);
                TimerFdFile copy = fork(template);
                long copied = drain(copy);
                long after = templateTicks(template);
                long[] copySetting = setting(copy);
                long[] copyNext = nextExpiry(copy, clock);
                long[] templateNext = nextExpiry(template, clock);
                assertThat(copied).as("clock %d, round %d: the template counted %d..%d", clock, round, before, after)
                        .isBetween(before, after + 1);
                assertThat(copied).as("about 40 + 35 * (round + 1) ms of a 7 ms timer").isGreaterThan(8);
                assertThat(copySetting[1]).as("the interval").isEqualTo(7_000_000L);
                long apart = Math.floorMod(copyNext[0] - templateNext[0], 7_000_000L);
                long slack = copyNext[1] + templateNext[1] + 200_000L;
                assertThat(Math.min(apart, 7_000_000L - apart))
                        .as("clock %d: the copy expires on the template's schedule (at %d and %d, read within %d ns)",
                                clock, copyNext[0], templateNext[0], slack)
                        .isLessThanOrEqualTo(slack);
                copy.closeHost();
            }
            assertThat(templateTicks(template)).as("forks never drain the template's timer").isGreaterThan(15);
            template.closeHost();
        }
    }

    @Test
    void aOneShotTimerThatExpiresAfterTheFreezeIsExpiredOnceAndDisarmedInTheFork() throws Exception {
        TimerFdFile template = TimerFdFile.create(CLOCK_MONOTONIC, 0);
        // Half a second: the early fork comes before it however loaded the machine.
        arm(template, 500_000_000L, 0);
        template.freeze(new FrozenBytes());
        TimerFdFile early = fork(template);
        assertThat(setting(early)[0]).as("a fork before the expiry is armed for it").isBetween(1L, 500_000_000L);
        assertThat(drain(early)).isZero();
        Thread.sleep(560);
        TimerFdFile late = fork(template);
        assertThat(setting(late)).as("a fork after the expiry: disarmed").containsExactly(0L, 0L);
        assertThat(drain(late)).as("with the one expiry unread").isEqualTo(1);
        assertThat(templateTicks(template)).isEqualTo(1);
        early.closeHost();
        late.closeHost();
        template.closeHost();
    }

    /**
     * A 1 µs periodic timer expires between any two reads of it (the second wave of the review of
     * 2026-12-05, third session: the freeze read the pair again until two reads agreed, and for
     * such a timer never stopped: the template's start spun for good).
     */
    @Test
    @org.junit.jupiter.api.Timeout(10)
    void aTimerFasterThanItsOwnReadsIsFrozenToo() throws Exception {
        for (long interval : new long[] {1, 1_000}) {
            TimerFdFile template = TimerFdFile.create(CLOCK_MONOTONIC, 0);
            arm(template, interval, interval);
            Thread.sleep(5);
            template.freeze(new FrozenBytes());
            long before = templateTicks(template);
            TimerFdFile copy = fork(template);
            long copied = drain(copy);
            long after = templateTicks(template);
            assertThat(copied).as("interval %d ns: the template counted %d..%d", interval, before, after)
                    .isBetween(before, after + 2);
            copy.closeHost();
            template.closeHost();
        }
    }

    @Test
    void aTimerNeverArmedStaysDisarmedAndAFarOneStaysFar() {
        TimerFdFile never = TimerFdFile.create(CLOCK_MONOTONIC, 0);
        TimerFdFile far = TimerFdFile.create(CLOCK_REALTIME, 0);
        arm(far, Long.MAX_VALUE / 4, Long.MAX_VALUE / 4);
        never.freeze(new FrozenBytes());
        far.freeze(new FrozenBytes());
        TimerFdFile neverCopy = fork(never);
        assertThat(setting(neverCopy)).containsExactly(0L, 0L);
        assertThat(drain(neverCopy)).isZero();
        TimerFdFile farCopy = fork(far);
        assertThat(setting(farCopy)[0]).as("no overflow: still far away").isGreaterThan(1_000_000_000_000_000L);
        assertThat(setting(farCopy)[1]).isEqualTo(Long.MAX_VALUE / 4);
        assertThat(drain(farCopy)).isZero();
        neverCopy.closeHost();
        farCopy.closeHost();
        never.closeHost();
        far.closeHost();
    }
}
