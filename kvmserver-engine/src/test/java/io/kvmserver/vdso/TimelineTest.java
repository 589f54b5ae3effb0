package io.kvmserver.vdso;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigInteger;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The host's steering of a guest clock ({@link Timeline}): what the vDSO computes, that no
 * publication lets a reader see time go back, that errors are corrected within a period, and when
 * a clock steps.
 */
class TimelineTest {

    /** A 2.1 GHz TSC, as here: nanoseconds per tick << 32. */
    private static final long RATE = (long) (1e9 / 2.1e9 * 0x1p32);
    private static final long PERIOD = 2_100_000_000L;
    private static final long LEAD = 2_100_000L;

    @Test
    void scaleIsTheSignedProductShiftedRightBy32() {
        SplittableRandom random = new SplittableRandom(11);
        for (int i = 0; i < 100_000; i++) {
            long ticks = i % 2 == 0 ? random.nextLong() >> random.nextInt(64) : random.nextLong(-1L << 40, 1L << 40);
            long mult = random.nextLong(1, 1L << 40);
            BigInteger exact = BigInteger.valueOf(ticks).multiply(BigInteger.valueOf(mult)).shiftRight(32);
            assertThat(Timeline.scale(ticks, mult)).as("%d * %d >> 32", ticks, mult).isEqualTo(exact.longValue());
        }
    }

    /**
     * Every publication, whatever the host reports: at every TSC from the sample to the meeting
     * point, the new line is at or above the old one. Readers of the old entry stop before the
     * publication, readers of the new one start after, so no reader sees time go back.
     */
    @Test
    void noPublicationLetsTimeGoBack() {
        SplittableRandom random = new SplittableRandom(7);
        Timeline clock = new Timeline();
        long tsc = 1_000_000_000_000L;
        long host = 5_000_000_000L;
        clock.steer(tsc, host, RATE, PERIOD, LEAD);
        int steps = 0;
        for (int update = 0; update < 20_000; update++) {
            long elapsed = random.nextLong(PERIOD / 2, 2 * PERIOD);
            tsc += elapsed;
            // The host's clock runs at a slightly different rate and jitters, sometimes jumps.
            host += Timeline.scale(elapsed, RATE + random.nextLong(-RATE / 5000, RATE / 5000))
                    + random.nextLong(-3_000, 3_000) + (random.nextInt(50) == 0 ? random.nextLong(-3_000_000, 3_000_000) : 0);
            long rate = RATE + random.nextLong(-RATE / 100_000, RATE / 100_000);
            Timeline old = clock.copy();
            long meet = clock.steer(tsc, host, rate, PERIOD, LEAD);
            assertThat(meet).isIn(tsc, tsc + LEAD);
            assertThat(clock.mult()).isPositive();
            if (clock.at(tsc) > old.at(tsc) + Timeline.STEP_NS) {
                steps++;
            }
            for (long t = tsc; t <= meet; t += Math.max(1, (meet - tsc) / 97)) {
                assertThat(clock.at(t)).as("update %d at tsc +%d", update, t - tsc).isGreaterThanOrEqualTo(old.at(t));
            }
            assertThat(clock.at(meet)).isGreaterThanOrEqualTo(old.at(meet));
            assertThat(clock.at(meet + 1)).isGreaterThanOrEqualTo(clock.at(meet));
        }
        assertThat(steps).as("the host's jumps forward were stepped").isPositive();
    }

    @Test
    void aSmallErrorIsGoneWithinAPeriodInEitherDirection() {
        for (long error : new long[] {-400_000, -3_000, 2_500, 400_000}) {
            Timeline clock = new Timeline();
            long tsc = 0;
            long host = 1_000_000_000L;
            clock.steer(tsc, host + error, RATE, PERIOD, LEAD);
            for (int update = 0; update < 3; update++) {
                tsc += PERIOD;
                host += Timeline.scale(PERIOD, RATE);
                clock.steer(tsc, host, RATE, PERIOD, LEAD);
            }
            assertThat(Math.abs(clock.at(tsc + PERIOD) - (host + Timeline.scale(PERIOD, RATE))))
                    .as("error left of %d ns", error).isLessThan(1_000);
        }
    }

    @Test
    void aClockBehindByMoreThanAStepJumpsForwardAndOneAheadNeverJumpsBack() {
        Timeline monotonic = new Timeline();
        monotonic.steer(0, 1_000_000_000L, RATE, PERIOD, LEAD);
        long now = monotonic.at(PERIOD);
        monotonic.steer(PERIOD, now + 5_000_000, RATE, PERIOD, LEAD);
        assertThat(monotonic.at(PERIOD)).isEqualTo(now + 5_000_000);

        Timeline ahead = new Timeline();
        ahead.steer(0, 1_000_000_000L, RATE, PERIOD, LEAD);
        now = ahead.at(PERIOD);
        ahead.steer(PERIOD, now - 5_000_000, RATE, PERIOD, LEAD);
        assertThat(ahead.at(PERIOD + LEAD)).isGreaterThanOrEqualTo(now);
        assertThat(ahead.mult()).as("slews at the limit").isEqualTo(RATE - RATE / Timeline.MAX_SLEW);
    }
}
