package io.kvmserver.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class LatenciesTest {

    @Test
    void nearestRankPercentiles() {
        long[] values = new long[100];
        for (int i = 0; i < values.length; i++) {
            values[i] = 100 - i; // 100..1, unsorted
        }
        Latencies l = Latencies.of(values);
        assertThat(l.count()).isEqualTo(100);
        assertThat(l.avgNanos()).isEqualTo(50.5);
        assertThat(l.p50Nanos()).isEqualTo(50);
        assertThat(l.p90Nanos()).isEqualTo(90);
        assertThat(l.p99Nanos()).isEqualTo(99);
        assertThat(l.maxNanos()).isEqualTo(100);
    }

    @Test
    void onlyTheCountedPrefixIsUsed() {
        Latencies l = Latencies.of(new long[] {5, 7, 0, 0}, 2);
        assertThat(l.count()).isEqualTo(2);
        assertThat(l.p99Nanos()).isEqualTo(7);
    }

    @Test
    void formatsMicrosAndMillis() {
        assertThat(Latencies.fmt(26_400)).isEqualTo("26 µs");
        assertThat(Latencies.fmt(8_250)).isEqualTo("8.3 µs");
        assertThat(Latencies.fmt(1_234_000)).isEqualTo("1.23 ms");
    }
}
