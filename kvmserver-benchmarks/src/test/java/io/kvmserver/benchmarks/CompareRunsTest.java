package io.kvmserver.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class CompareRunsTest {

    @Test
    void medianOfOddAndEvenCounts() {
        assertThat(CompareRuns.median(new double[] {1, 2, 9})).isEqualTo(2);
        assertThat(CompareRuns.median(new double[] {1, 2, 4, 9})).isEqualTo(3);
        assertThat(CompareRuns.median(new double[0])).isNaN();
    }

    @Test
    void overlappingRangesAreCalledNoise() {
        assertThat(CompareRuns.change(new double[] {100_000, 110_000, 120_000}, new double[] {115_000, 125_000, 130_000}))
                .isEqualTo("+15 µs (+14%), noise: ranges overlap");
    }

    @Test
    void separateRangesAreAChange() {
        assertThat(CompareRuns.change(new double[] {100_000, 101_000, 102_000}, new double[] {90_000, 91_000, 92_000}))
                .isEqualTo("-10 µs (-10%)");
    }
}
