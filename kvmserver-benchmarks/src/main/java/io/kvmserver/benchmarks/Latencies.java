package io.kvmserver.benchmarks;

import java.util.Arrays;

/**
 * A summary of measured durations: count, average and nearest-rank percentiles, in nanoseconds.
 */
public record Latencies(int count, double avgNanos, long p50Nanos, long p90Nanos, long p99Nanos, long maxNanos) {

    /** Summarizes the first {@code count} entries of {@code nanos} (which it sorts in place). */
    public static Latencies of(long[] nanos, int count) {
        if (count <= 0) {
            return new Latencies(0, 0, 0, 0, 0, 0);
        }
        Arrays.sort(nanos, 0, count);
        double sum = 0;
        for (int i = 0; i < count; i++) {
            sum += nanos[i];
        }
        return new Latencies(count, sum / count, rank(nanos, count, 50), rank(nanos, count, 90),
                rank(nanos, count, 99), nanos[count - 1]);
    }

    public static Latencies of(long[] nanos) {
        return of(nanos, nanos.length);
    }

    /** Nearest-rank percentile: the smallest value with at least {@code p}% of values at or below it. */
    static long rank(long[] sorted, int count, int p) {
        int index = (int) Math.ceil(p / 100.0 * count) - 1;
        return sorted[Math.max(0, Math.min(count - 1, index))];
    }

    /** "avg | p50 | p90 | p99" in the unit that suits the values (µs or ms). */
    public String cells() {
        return fmt(avgNanos) + " | " + fmt(p50Nanos) + " | " + fmt(p90Nanos) + " | " + fmt(p99Nanos);
    }

    static String fmt(double nanos) {
        if (nanos >= 10_000_000) {
            return String.format("%.1f ms", nanos / 1e6);
        }
        if (nanos >= 999_500) {
            return String.format("%.2f ms", nanos / 1e6);
        }
        if (nanos >= 10_000) {
            return String.format("%.0f µs", nanos / 1e3);
        }
        return String.format("%.1f µs", nanos / 1e3);
    }
}
