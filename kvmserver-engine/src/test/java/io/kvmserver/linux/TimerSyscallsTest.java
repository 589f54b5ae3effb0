package io.kvmserver.linux;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * What getitimer and setitimer's old value report: a {@code struct timeval} whose tv_usec is in
 * [0, 999999], the microseconds truncated as Linux does. The guest check {@code itimer-args}
 * cannot hit the microsecond before a whole second deterministically; this can.
 */
class TimerSyscallsTest {

    @Test
    void theLastMicrosecondOfASecondStaysInThatSecond() {
        assertThat(TimerSyscalls.toTimeval(2_999_999_500L)).containsExactly(2, 999_999);
        assertThat(TimerSyscalls.toTimeval(999_999_001L)).containsExactly(0, 999_999);
    }

    @Test
    void wholeMicrosecondsAreExactAndTheRestTruncated() {
        assertThat(TimerSyscalls.toTimeval(999_999_000L)).containsExactly(0, 999_999);
        assertThat(TimerSyscalls.toTimeval(1_000_000_000L)).containsExactly(1, 0);
        assertThat(TimerSyscalls.toTimeval(1_999L)).containsExactly(0, 1);
        assertThat(TimerSyscalls.toTimeval(0)).containsExactly(0, 0);
        assertThat(TimerSyscalls.toTimeval(Long.MAX_VALUE)).containsExactly(9_223_372_036L, 854_775L);
    }
}
