package io.kvmserver.benchmarks;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.linux.GuestConsole;
import io.kvmserver.server.KvmServer;
import io.kvmserver.server.ServerStats;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Per-connection latency of one C epoll HTTP server, natively (a host process) and under the
 * engine in each serving mode, all in one run, with the engine's VM exits, system calls, reset
 * pages and reset time per request and the resident memory of the template and request VMs.
 *
 * <p>Usage: {@code ServerBenchmarks --server /abs/http_server [--requests 3000] [--warmup 300]
 * [--max-seconds 60] [--configs native,t1,e1,e1-notail,e2,e4] [--title TEXT]}
 */
public final class ServerBenchmarks {

    /** One configuration's results. */
    record Row(String name, LoadClient.Result result, Double exitsPerRequest, Double syscallsPerRequest,
            Double resetPagesPerRequest, Latencies resetTimes, Double inVmMicros, String memory,
            Map<String, Double> syscallMix, Map<String, Double> kvmCounters) {
    }

    /** The C client ({@code http_client.c}), when given: a cross-check of the Java client. */
    private static Path cClient;

    /** A load generator: the Java {@link LoadClient} or the C one. */
    private interface Client {
        LoadClient.Result run(int requests, double maxSeconds, LoadClient.Pause pause) throws IOException;
    }

    private static Client client(int port, boolean c) {
        if (!c) {
            LoadClient java = new LoadClient(port);
            return java::run;
        }
        if (cClient == null) {
            throw new IllegalArgumentException("the -c configurations need --c-client");
        }
        return (requests, maxSeconds, pause) -> {
            if (pause != LoadClient.Pause.NONE) {
                throw new IllegalArgumentException("the C client has no no-tail mode");
            }
            Process p = new ProcessBuilder(cClient.toString(), Integer.toString(port), Integer.toString(requests),
                    Double.toString(maxSeconds)).redirectError(ProcessBuilder.Redirect.PIPE).start();
            long start = System.nanoTime();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            try {
                p.waitFor();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
            long[] nanos = out.isBlank() ? new long[0] : out.trim().lines().mapToLong(Long::parseLong).toArray();
            int failed = (int) err.lines().count();
            return new LoadClient.Result(Latencies.of(nanos), nanos.length, failed, (System.nanoTime() - start) / 1e9,
                    err.isBlank() ? null : err.lines().findFirst().orElse(null));
        };
    }

    public static void main(String[] argv) throws Exception {
        Args args = new Args(argv);
        Path server = Path.of(args.required("server")).toAbsolutePath();
        int requests = args.getInt("requests", 3000);
        int warmup = args.getInt("warmup", 300);
        double maxSeconds = args.getDouble("max-seconds", 60);
        String title = args.get("title", "server latency");
        String c = args.get("c-client", null);
        cClient = c == null ? null : Path.of(c).toAbsolutePath();
        List<Row> rows = new ArrayList<>();
        for (String config : args.get("configs", "native,t1,e1,e1-notail,e2,e4").split(",")) {
            System.err.println("[server] " + title + ": " + config + " ...");
            Row row = switch (config) {
                case "native" -> nativeRun("native", server, false, requests, warmup, maxSeconds);
                case "native-c" -> nativeRun("native, C client", server, true, requests, warmup, maxSeconds);
                case "t1" -> engineRun("kvmserver threads=1", server, 1, false, false, false, requests, warmup,
                        maxSeconds);
                case "e1" -> engineRun("kvmserver ephemeral threads=1", server, 1, true, false, false, requests,
                        warmup, maxSeconds);
                case "e1-small" -> engineRun("kvmserver ephemeral threads=1, --max-main-memory 256", server, 1, true,
                        false, false, requests, warmup, maxSeconds);
                case "e1-c" -> engineRun("kvmserver ephemeral threads=1, C client", server, 1, true, false, true,
                        requests, warmup, maxSeconds);
                case "e1-notail" -> engineRun("kvmserver ephemeral threads=1 no-tail", server, 1, true, true, false,
                        requests, warmup, maxSeconds);
                case "e2" -> engineRun("kvmserver ephemeral threads=2", server, 2, true, false, false, requests,
                        warmup, maxSeconds);
                case "e4" -> engineRun("kvmserver ephemeral threads=4", server, 4, true, false, false, requests,
                        warmup, maxSeconds);
                default -> throw new IllegalArgumentException("unknown configuration " + config);
            };
            rows.add(row);
        }
        print(title, rows);
    }

    private static Row nativeRun(String name, Path server, boolean c, int requests, int warmup, double maxSeconds)
            throws Exception {
        int port = freePort();
        Process p = new ProcessBuilder(server.toString(), Integer.toString(port))
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String line = out.readLine();
            if (line == null || !line.startsWith("listening")) {
                throw new IllegalStateException("native server did not start: " + line);
            }
            Client client = client(port, c);
            client.run(warmup, maxSeconds, LoadClient.Pause.NONE);
            LoadClient.Result r = client.run(requests, maxSeconds, LoadClient.Pause.NONE);
            return new Row(name, r, null, null, null, null, null, null, Map.of(), Map.of());
        } finally {
            p.destroy();
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
    }

    private static Row engineRun(String name, Path server, int threads, boolean ephemeral, boolean noTail, boolean c,
            int requests, int warmup, double maxSeconds) throws IOException {
        int port = freePort();
        KvmServerOptions.Builder builder = KvmServerOptions.builder();
        if (name.contains("--max-main-memory 256")) {
            builder.maxMainMemory(256L << 20); // the default is 8192 MiB, as in the CLI
        }
        KvmServerOptions options = builder
                .program(server.toString())
                .args(List.of(Integer.toString(port)))
                .cwd(server.getParent().toString())
                .threads(threads)
                .ephemeral(ephemeral)
                .allowListen(List.of("127.0.0.1:" + port))
                .maxBootTime(Duration.ofSeconds(30))
                .build();
        GuestConsole quiet = (stream, address, length) -> length;
        try (KvmServer kvm = KvmServer.start(options, quiet, Map.of())) {
            Client client = client(port, c);
            ServerStats stats = kvm.stats();
            client.run(warmup, maxSeconds, waitForReset(stats, noTail));
            long requests0 = stats.requests();
            long requestNanos0 = stats.requestNanos();
            long resets0 = stats.resets();
            long resetPages0 = stats.resetPages();
            long exits0 = exits(kvm);
            Map<String, Long> calls0 = kvm.syscallCounts(64);
            long resetNanos0 = stats.resetNanos();
            Map<String, Long> kvm0 = KvmStats.snapshot();
            LoadClient.Result r = client.run(requests, maxSeconds, waitForReset(stats, noTail));
            // Let the last request's reset finish before reading the counters.
            long settle = System.nanoTime() + 2_000_000_000L;
            while (ephemeral && stats.resets() - resets0 < stats.requests() - requests0 && System.nanoTime() < settle) {
                LockSupport.parkNanos(100_000);
            }
            long served = stats.requests() - requests0;
            long resets = stats.resets() - resets0;
            long exits = exits(kvm) - exits0;
            Map<String, Double> kvmCounters = new java.util.TreeMap<>();
            if (served > 0) {
                KvmStats.delta(kvm0, KvmStats.snapshot(), served).forEach((k, v) -> {
                    if (v >= 0.005) {
                        kvmCounters.put(k, v);
                    }
                });
            }
            Map<String, Long> calls1 = kvm.syscallCounts(64);
            Map<String, Double> mix = new LinkedHashMap<>();
            long syscalls = 0;
            for (Map.Entry<String, Long> e : calls1.entrySet()) {
                long d = e.getValue() - calls0.getOrDefault(e.getKey(), 0L);
                syscalls += d;
                if (d > 0 && served > 0) {
                    mix.put(e.getKey(), d / (double) served);
                }
            }
            Latencies resetTime = null;
            if (resets > 0) {
                double avg = (stats.resetNanos() - resetNanos0) / (double) resets;
                resetTime = new Latencies((int) resets, avg, 0, 0, 0, 0);
            }
            return new Row(name, r, served == 0 ? null : exits / (double) served,
                    served == 0 ? null : syscalls / (double) served,
                    resets == 0 ? null : (stats.resetPages() - resetPages0) / (double) resets, resetTime,
                    served == 0 ? null : (stats.requestNanos() - requestNanos0) / (double) served / 1e3,
                    memory(kvm), mix, kvmCounters);
        }
    }

    /** The no-tail pause: wait, outside the timed interval, until the VM that served has been reset. */
    private static LoadClient.Pause waitForReset(ServerStats stats, boolean noTail) {
        if (!noTail) {
            return LoadClient.Pause.NONE;
        }
        long base = stats.resets();
        return completed -> {
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (stats.resets() - base < completed && System.nanoTime() < deadline) {
                LockSupport.parkNanos(20_000);
            }
        };
    }

    private static long exits(KvmServer kvm) {
        long n = 0;
        for (KvmServer.VmState vm : kvm.vms()) {
            n += vm.exits();
        }
        return n;
    }

    /** "template Rss | request VM Rss | request VM private", from /proc/self/smaps. */
    private static String memory(KvmServer kvm) {
        long templateRss = 0;
        long rss = 0;
        long anon = 0;
        long maxAnon = 0;
        int vms = 0;
        for (KvmServer.GuestMapping m : kvm.guestMappings()) {
            Smaps s = Smaps.of(m.hostAddress(), m.bytes());
            if (m.shared()) {
                templateRss += s.rssBytes();
            } else {
                vms++;
                rss += s.rssBytes();
                anon += s.anonymousBytes();
                maxAnon = Math.max(maxAnon, s.anonymousBytes());
            }
        }
        return Smaps.kib(templateRss, true) + " | " + Smaps.kib(vms == 0 ? 0 : rss / vms, true) + " | "
                + Smaps.kib(vms == 0 ? 0 : anon / vms, true) + " (max " + Smaps.kib(maxAnon, true) + ")";
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static String num(Double v, String format) {
        return v == null ? "-" : String.format(format, v);
    }

    private static void print(String title, List<Row> rows) {
        StringBuilder b = new StringBuilder();
        b.append("\n#### ").append(title).append("\n\n");
        b.append("| name | requests | average | p50 | p90 | p99 | exits to engine/req | all KVM exits/req"
                + " | shadow PF fixed/req | syscalls/req | reset pages/req | reset time avg | accept-to-close in VM |\n");
        b.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Row r : rows) {
            b.append("| ").append(r.name()).append(" | ").append(r.result().ok());
            if (r.result().failed() > 0) {
                b.append(" (+").append(r.result().failed()).append(" failed)");
            }
            b.append(" | ").append(r.result().latencies().cells())
                    .append(" | ").append(num(r.exitsPerRequest(), "%.1f"))
                    .append(" | ").append(num(r.kvmCounters().get("exits"), "%.1f"))
                    .append(" | ").append(num(r.kvmCounters().get("pf_fixed"), "%.1f"))
                    .append(" | ").append(num(r.syscallsPerRequest(), "%.1f"))
                    .append(" | ").append(num(r.resetPagesPerRequest(), "%.1f"))
                    .append(" | ").append(r.resetTimes() == null ? "-" : Latencies.fmt(r.resetTimes().avgNanos()))
                    .append(" | ").append(r.inVmMicros() == null ? "-" : Latencies.fmt(r.inVmMicros() * 1e3))
                    .append(" |\n");
        }
        b.append("\n| name | template Rss | request VM Rss (avg) | request VM private copies (avg) |\n");
        b.append("|---|---:|---:|---:|\n");
        for (Row r : rows) {
            if (r.memory() != null) {
                b.append("| ").append(r.name()).append(" | ").append(r.memory()).append(" |\n");
            }
        }
        for (Row r : rows) {
            if (!r.syscallMix().isEmpty()) {
                b.append("\nSystem calls per request, ").append(r.name()).append(": ");
                List<String> parts = new ArrayList<>();
                r.syscallMix().forEach((k, v) -> parts.add(k + " " + String.format("%.2f", v)));
                b.append(String.join(", ", parts)).append("\n");
            }
        }
        for (Row r : rows) {
            if (!r.kvmCounters().isEmpty()) {
                b.append("\nKVM counters per request, ").append(r.name()).append(": ")
                        .append(EngineBenchmarks.format(r.kvmCounters())).append("\n");
            }
        }
        for (Row r : rows) {
            if (r.result().firstFailure() != null) {
                b.append("\nFirst failure, ").append(r.name()).append(": ").append(r.result().firstFailure()).append('\n');
            }
        }
        System.out.println(b);
    }
}
