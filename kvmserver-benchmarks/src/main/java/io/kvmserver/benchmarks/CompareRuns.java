package io.kvmserver.benchmarks;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Two engines side by side, from the {@code --csv} lines of several alternating
 * {@link ServerBenchmarks} passes ({@code compare.sh}): per pinning, guest and configuration, the
 * median over passes of each engine's p50 and p90 with their range, the change, and whether the
 * ranges overlap (then the change is within the run-to-run spread: noise). Labels are
 * {@code ENGINE/PINNING}.
 *
 * <p>Usage: {@code CompareRuns --csv /abs/file --before NAME --after NAME}
 */
public final class CompareRuns {

    private CompareRuns() {
    }

    /** The values of one engine's passes for one pinning, guest and configuration. */
    private record Passes(List<double[]> lines) {
        double[] column(int index) {
            return lines.stream().mapToDouble(l -> l[index]).filter(v -> !Double.isNaN(v)).sorted().toArray();
        }
    }

    // Column indexes after the label, guest and config columns (see ServerBenchmarks.CSV_HEADER).
    private static final int OK = 0;
    private static final int P50 = 3;
    private static final int P90 = 4;
    private static final int P99 = 5;
    private static final int SYSCALLS = 6;
    private static final int PF = 9;
    private static final int RESET_NS = 11;
    private static final int START_NS = 12;

    public static void main(String[] argv) throws Exception {
        Args args = new Args(argv);
        String before = args.required("before");
        String after = args.required("after");
        // key "pinning|guest|config" → engine → passes
        Map<String, Map<String, Passes>> groups = new LinkedHashMap<>();
        List<String> lines = Files.readAllLines(Path.of(args.required("csv")));
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",", -1);
            String[] label = f[0].split("/", 2);
            double[] values = new double[f.length - 3];
            for (int i = 3; i < f.length; i++) {
                values[i - 3] = f[i].isEmpty() ? Double.NaN : Double.parseDouble(f[i]);
            }
            groups.computeIfAbsent(label[1] + "|" + f[1] + "|" + f[2], k -> new LinkedHashMap<>())
                    .computeIfAbsent(label[0], k -> new Passes(new ArrayList<>())).lines().add(values);
        }
        StringBuilder b = new StringBuilder();
        b.append("| pinning | guest | config | passes | p50 ").append(before).append(" (range) | p50 ").append(after)
                .append(" (range) | change of p50 | p90 ").append(before).append(" → ").append(after)
                .append(" | p99 ").append(before).append(" → ").append(after)
                .append(" | syscalls/req | shadow PF/req | reset time | start to listening |\n");
        b.append("|---|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|\n");
        groups.forEach((key, engines) -> {
            Passes a = engines.get(before);
            Passes c = engines.get(after);
            if (a == null || c == null) {
                return;
            }
            String[] k = key.split("\\|");
            double[] a50 = a.column(P50);
            double[] c50 = c.column(P50);
            b.append("| ").append(k[0]).append(" | ").append(k[1]).append(" | ").append(k[2]).append(" | ")
                    .append(a50.length).append('/').append(c50.length).append(" | ")
                    .append(withRange(a50)).append(" | ").append(withRange(c50)).append(" | ")
                    .append(change(a50, c50)).append(" | ")
                    .append(pair(a.column(P90), c.column(P90), true)).append(" | ")
                    .append(pair(a.column(P99), c.column(P99), true)).append(" | ")
                    .append(pair(a.column(SYSCALLS), c.column(SYSCALLS), false)).append(" | ")
                    .append(pair(a.column(PF), c.column(PF), false)).append(" | ")
                    .append(pair(a.column(RESET_NS), c.column(RESET_NS), true)).append(" | ")
                    .append(pair(a.column(START_NS), c.column(START_NS), true)).append(" |\n");
            if (a.column(OK).length == 0 || c.column(OK).length == 0) {
                b.append("| | | (a pass of this row failed: see the full output) | | | | | | | | | | |\n");
            }
        });
        System.out.println(b);
    }

    static double median(double[] sorted) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int m = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    }

    private static String withRange(double[] sorted) {
        if (sorted.length == 0) {
            return "-";
        }
        return Latencies.fmt(median(sorted)) + " (" + Latencies.fmt(sorted[0]) + "-"
                + Latencies.fmt(sorted[sorted.length - 1]) + ")";
    }

    /** The change of the medians, and "noise" when the two ranges overlap. */
    static String change(double[] before, double[] after) {
        if (before.length == 0 || after.length == 0) {
            return "-";
        }
        double mb = median(before);
        double ma = median(after);
        double pct = (ma - mb) / mb * 100;
        boolean overlap = after[0] <= before[before.length - 1] && before[0] <= after[after.length - 1];
        String sign = ma >= mb ? "+" : "-";
        return String.format("%s%s (%+.0f%%)%s", sign, Latencies.fmt(Math.abs(ma - mb)), pct,
                overlap ? ", noise: ranges overlap" : "");
    }

    private static String pair(double[] before, double[] after, boolean time) {
        if (before.length == 0 && after.length == 0) {
            return "-";
        }
        return value(before, time) + " → " + value(after, time);
    }

    private static String value(double[] sorted, boolean time) {
        if (sorted.length == 0) {
            return "-";
        }
        double m = median(sorted);
        return time ? Latencies.fmt(m) : String.format("%.1f", m);
    }
}
