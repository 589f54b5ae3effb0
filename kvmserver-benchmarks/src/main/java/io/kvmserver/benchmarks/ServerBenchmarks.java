package io.kvmserver.benchmarks;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.server.KvmServer;
import io.kvmserver.server.ServerStats;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.ToLongFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Per-connection latency of server programs ({@link Guests}: the C epoll server, python3 asyncio,
 * nginx, php -S, and issue 10's runtimes: Go, tokio, redis, bun, python3 -m http.server, deno),
 * natively (a host process) and under the engine in each serving mode, all in one run, with the
 * engine's VM exits, system calls by name, KVM's own counters (shadow page faults), reset pages
 * and reset time per request, what the JVM's threads did per request, and the
 * resident memory of the native process, the template and the request VMs, and the time from start
 * to serving. A guest that is not installed, does not start or answers wrongly gets a row that says
 * so.
 *
 * <p>Usage: {@code ServerBenchmarks --root /abs/repo --programs /abs/dir [--c-client /abs/http_client]
 * [--plan "c:native,t1,e1 python:native,t1,e1"] [--requests 3000] [--warmup 300] [--max-seconds 60]
 * [--work /abs/dir] [--title TEXT] [--csv /abs/file --label TEXT] [--latencies /abs/dir]}. With
 * {@code --csv}, every row is also appended to a file as one comma-separated line that starts with
 * the label, for runs compared across invocations (two engines side by side). With
 * {@code --latencies}, each configuration's single request latencies are written to a file of
 * that directory, one number of nanoseconds per line in the order the requests were sent (where
 * a tail comes from: a second mode, a slow phase, requests after a collection). Configurations: {@code native}, {@code native-c} (the C
 * client), {@code t1} (threads=1), {@code e1} (ephemeral threads=1), {@code e1-small} (with
 * {@code --max-main-memory 256}), {@code e1-c}, {@code e1-notail}, {@code e2}, {@code e4}, and
 * {@code e1-wN} (ephemeral threads=1 whose template served N warmup requests before it froze,
 * {@code --warmup N}). {@code --programs} is the directory of the servers {@code run.sh} compiled.
 */
public final class ServerBenchmarks {

    /** One configuration's results; {@code failure} says why a configuration did not run at all. */
    record Row(Config config, LoadClient.Result result, Double exitsPerRequest, Double syscallsPerRequest,
            Double resetPagesPerRequest, Latencies resetTimes, Double inVmMicros, Double runMicros, Memory memory,
            Map<String, Double> syscallMix, Map<String, Double> kvmCounters, String threads, String failure,
            long startNanos) {

        static Row failed(Config config, String why) {
            return new Row(config, null, null, null, null, null, null, null, null, Map.of(), Map.of(), null, why, 0);
        }

        String name() {
            return config.name();
        }
    }

    /**
     * Resident memory after a run, in bytes, -1 where it does not apply: the native process's
     * {@code VmRSS}; the template's shared mapping, a request VM's private mapping (template pages
     * it mapped plus its own copies) and its own copies (average and largest).
     */
    record Memory(long nativeRss, long templateRss, long vmRss, long vmPrivate, long vmPrivateMax) {

        static Memory ofNative(long rss) {
            return new Memory(rss, -1, -1, -1, -1);
        }

        static String kib(long bytes) {
            return bytes < 0 ? "-" : Smaps.kib(bytes, true);
        }

        /** The cells of the memory table: native, template, request VM, its own copies. */
        String cells() {
            return kib(nativeRss) + " | " + kib(templateRss) + " | " + kib(vmRss) + " | " + kib(vmPrivate)
                    + (vmPrivateMax < 0 ? "" : " (max " + kib(vmPrivateMax) + ")");
        }
    }

    /**
     * A configuration of one guest: its row's name, and how the engine serves (threads 0: natively).
     * {@code templateWarmup} is the engine's {@code --warmup}: requests the template serves before it
     * freezes.
     */
    record Config(String key, String name, int threads, boolean ephemeral, boolean noTail, boolean cClient,
            long mainMemory, int templateWarmup, int settleSeconds) {
    }

    /**
     * {@code e1-wN}: ephemeral threads=1 from a template that served N warmup requests;
     * {@code e1-wN-sS}: and then settled for up to S seconds (the engine's {@code --settle-time}).
     */
    private static final Pattern WARMED = Pattern.compile("e1-w(\\d+)(?:-s(\\d+))?");

    private static final Map<String, Config> CONFIGS = new LinkedHashMap<>();

    static {
        for (Config c : List.of(
                new Config("native", "native", 0, false, false, false, 0, 0, 0),
                new Config("native-c", "native, C client", 0, false, false, true, 0, 0, 0),
                new Config("t1", "kvmserver threads=1", 1, false, false, false, 0, 0, 0),
                new Config("e1", "kvmserver ephemeral threads=1", 1, true, false, false, 0, 0, 0),
                new Config("e1-small", "kvmserver ephemeral threads=1, --max-main-memory 256", 1, true, false, false,
                        256L << 20, 0, 0),
                new Config("e1-c", "kvmserver ephemeral threads=1, C client", 1, true, false, true, 0, 0, 0),
                new Config("e1-notail", "kvmserver ephemeral threads=1 no-tail", 1, true, true, false, 0, 0, 0),
                new Config("e2", "kvmserver ephemeral threads=2", 2, true, false, false, 0, 0, 0),
                new Config("e4", "kvmserver ephemeral threads=4", 4, true, false, false, 0, 0, 0))) {
            CONFIGS.put(c.key(), c);
        }
    }

    /** The configuration named {@code key}: one of {@link #CONFIGS}, or {@code e1-wN}. */
    static Config config(String key) {
        Config config = CONFIGS.get(key);
        if (config != null) {
            return config;
        }
        Matcher warmed = WARMED.matcher(key);
        if (warmed.matches()) {
            int n = Integer.parseInt(warmed.group(1));
            int settle = warmed.group(2) == null ? 0 : Integer.parseInt(warmed.group(2));
            if (n > 0) {
                return new Config(key, "kvmserver ephemeral threads=1 --warmup " + n
                        + (settle > 0 ? " --settle-time " + settle : ""), 1, true, false, false, 0, n, settle);
            }
        }
        throw new IllegalArgumentException("unknown configuration " + key + "; known: " + CONFIGS.keySet()
                + " and e1-wN (N > 0 warmup requests)");
    }

    /** The C client ({@code http_client.c}), when given: a cross-check of the Java client. */
    private static Path cClient;

    /** A load generator: the Java {@link LoadClient} or the C one. */
    private interface Client {
        LoadClient.Result run(int requests, double maxSeconds, LoadClient.Pause pause) throws IOException;
    }

    private static Client client(int port, Config config, Guest guest) {
        if (!config.cClient()) {
            Guest.Exchange exchange = guest.exchange();
            LoadClient java = new LoadClient(port, exchange,
                    config.ephemeral() ? exchange.ephemeralAnswer(config.templateWarmup()) : null);
            return java::run;
        }
        if (cClient == null || !"c".equals(guest.key())) {
            throw new IllegalArgumentException("the -c configurations need --c-client and the C server");
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

    /** What every run of one invocation shares: the client's requests, its warm-up requests, its time. */
    record Run(int requests, int warmup, double maxSeconds, Path work) {
    }

    public static void main(String[] argv) throws Exception {
        Args args = new Args(argv);
        Path programs = Path.of(args.get("programs", ".")).toAbsolutePath();
        Path root = Path.of(args.get("root", ".")).toAbsolutePath().normalize();
        Run run = new Run(args.getInt("requests", 3000), args.getInt("warmup", 300),
                args.getDouble("max-seconds", 60),
                Path.of(args.get("work", programs.resolve("guest-work").toString())).toAbsolutePath());
        String title = args.get("title", "server latency");
        String c = args.get("c-client", null);
        cClient = c == null ? null : Path.of(c).toAbsolutePath();
        String plan = args.get("plan", "c:" + args.get("configs", "native,t1,e1,e1-notail,e2,e4"));
        Map<String, Guest> guests = Guests.all(root, programs);
        Map<Guest, List<Row>> results = new LinkedHashMap<>();
        String latenciesDir = args.get("latencies", null);
        Path latencies = latenciesDir == null ? null : Files.createDirectories(Path.of(latenciesDir));
        for (String entry : plan.trim().split("\\s+")) {
            int colon = entry.indexOf(':');
            Guest guest = guests.get(colon < 0 ? entry : entry.substring(0, colon));
            if (guest == null) {
                throw new IllegalArgumentException("unknown guest in " + entry + "; known: " + guests.keySet());
            }
            List<Row> rows = new ArrayList<>();
            for (String key : (colon < 0 ? "native,t1,e1" : entry.substring(colon + 1)).split(",")) {
                Config config = config(key);
                System.err.println("[server] " + title + ": " + guest.key() + " " + key + " ...");
                Row row = runOne(guest, config, run);
                rows.add(row);
                if (latencies != null && row.result() != null) {
                    writeLatencies(latencies.resolve(guest.key() + "-" + key + "-" + slug(title) + ".txt"), row.result().raw());
                }
            }
            results.put(guest, rows);
            print(guest.title() + ", " + title, rows);
        }
        printSummary(title, results);
        String csv = args.get("csv", null);
        if (csv != null) {
            appendCsv(Path.of(csv), args.get("label", title), results);
        }
    }

    private static void writeLatencies(Path file, long[] nanos) throws IOException {
        StringBuilder b = new StringBuilder(nanos.length * 8);
        for (long n : nanos) {
            b.append(n).append('\n');
        }
        Files.writeString(file, b);
    }

    /** A title as part of a file name: letters and digits, runs of anything else as one dash. */
    private static String slug(String title) {
        String s = title.replaceAll("[^A-Za-z0-9]+", "-").replaceAll("^-|-$", "");
        return s.length() > 40 ? s.substring(0, 40) : s;
    }

    /** Columns of the --csv lines. */
    static final String CSV_HEADER = "label,guest,config,ok,failed,avg_ns,p50_ns,p90_ns,p99_ns,syscalls,exits,"
            + "kvm_exits,pf_fixed,reset_pages,reset_ns,start_ns";

    private static void appendCsv(Path file, String label, Map<Guest, List<Row>> results) throws IOException {
        StringBuilder b = new StringBuilder();
        if (!Files.exists(file)) {
            b.append(CSV_HEADER).append('\n');
        }
        results.forEach((guest, rows) -> {
            for (Row r : rows) {
                b.append(label.replace(',', ';')).append(',').append(guest.key()).append(',').append(r.config().key());
                if (!ok(r)) {
                    b.append(",0,").append(r.result() == null ? 0 : r.result().failed()).append(",,,,,,,,,,,\n");
                    continue;
                }
                Latencies l = r.result().latencies();
                b.append(',').append(r.result().ok()).append(',').append(r.result().failed())
                        .append(',').append(Math.round(l.avgNanos())).append(',').append(l.p50Nanos())
                        .append(',').append(l.p90Nanos()).append(',').append(l.p99Nanos())
                        .append(',').append(num(r.syscallsPerRequest(), "%.2f").replace("-", ""))
                        .append(',').append(num(r.exitsPerRequest(), "%.2f").replace("-", ""))
                        .append(',').append(num(r.kvmCounters().get("exits"), "%.2f").replace("-", ""))
                        .append(',').append(num(r.kvmCounters().get("pf_fixed"), "%.2f").replace("-", ""))
                        .append(',').append(num(r.resetPagesPerRequest(), "%.2f").replace("-", ""))
                        .append(',').append(r.resetTimes() == null ? "" : Math.round(r.resetTimes().avgNanos()))
                        .append(',').append(r.startNanos()).append('\n');
            }
        });
        Files.writeString(file, b, StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.CREATE,
                java.nio.file.StandardOpenOption.APPEND);
    }

    static Row runOne(Guest guest, Config config, Run run) {
        if (!Files.isExecutable(Path.of(guest.program()))) {
            return Row.failed(config, guest.program() + " is missing (bash .ci/install-guests; run.sh builds the C, Go"
                    + " and Rust servers)");
        }
        try {
            Path work = run.work().resolve(guest.key());
            Files.createDirectories(work);
            int port = freePort();
            guest.setup().prepare(work, port);
            return config.threads() == 0 ? nativeRun(guest, config, port, work, run)
                    : engineRun(guest, config, port, work, run);
        } catch (Exception | Error e) { // NOPMD: whatever failed, the table says what
            String message = String.valueOf(e.getMessage()).lines().findFirst().orElse("");
            // The harness's own IllegalStateExceptions already name what failed.
            return Row.failed(config, e instanceof IllegalStateException ? message
                    : e.getClass().getSimpleName() + ": " + message);
        }
    }

    private static Row nativeRun(Guest guest, Config config, int port, Path work, Run run) throws Exception {
        Path stderr = work.resolve("native-stderr.txt");
        long startedAt = System.nanoTime();
        ProcessBuilder builder = new ProcessBuilder(guest.command(port, work)).directory(work.toFile())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(stderr.toFile());
        for (String nameValue : Guest.fill(guest.settings().env(), port, work)) {
            int eq = nameValue.indexOf('=');
            builder.environment().put(nameValue.substring(0, eq), nameValue.substring(eq + 1));
        }
        Process p = builder.start();
        try {
            awaitListening(p, port, stderr);
            long startNanos = System.nanoTime() - startedAt;
            Client client = client(port, config, guest);
            client.run(run.warmup(), run.maxSeconds(), LoadClient.Pause.NONE);
            LoadClient.Result r = client.run(run.requests(), run.maxSeconds(), LoadClient.Pause.NONE);
            return new Row(config, r, null, null, null, null, null, null, Memory.ofNative(vmRss(p.pid())), Map.of(),
                    Map.of(), null, null, startNanos);
        } finally {
            p.destroy();
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
    }

    /** Waits until the native server accepts connections; fails with its stderr if it ends first. */
    private static void awaitListening(Process p, int port, Path stderr) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new IllegalStateException("native server exited with " + p.exitValue() + ": "
                        + Files.readString(stderr).strip().replace('\n', ' '));
            }
            try (java.nio.channels.SocketChannel ch = java.nio.channels.SocketChannel.open(
                    new java.net.InetSocketAddress("127.0.0.1", port))) {
                return;
            } catch (IOException notYet) {
                Thread.sleep(2); // the resolution of the native start-to-serving time
            }
        }
        throw new IllegalStateException("native server did not listen on " + port + " within 30 s");
    }

    /** The process's resident memory from {@code /proc/PID/status}, in bytes, or -1. */
    private static long vmRss(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.substring(6).replace("kB", "").trim()) << 10;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // gone
        }
        return -1;
    }

    private static Row engineRun(Guest guest, Config config, int port, Path work, Run run) throws IOException {
        KvmServerOptions.Builder builder = KvmServerOptions.builder();
        Guest.Settings settings = guest.settings();
        long memory = config.mainMemory() != 0 ? config.mainMemory() : settings.mainMemory();
        if (memory != 0) {
            builder.maxMainMemory(memory); // else the default, 8192 MiB, as in the CLI
        }
        builder
                .program(guest.program())
                .args(guest.command(port, work).subList(1, guest.args().size() + 1))
                .cwd(work.toString())
                .env(Guest.fill(settings.env(), port, work))
                .allowRead(Guest.fill(settings.allowRead(), port, work))
                .allowWrite(Guest.fill(settings.allowWrite(), port, work))
                .threads(config.threads())
                .ephemeral(config.ephemeral())
                .warmup(config.templateWarmup())
                .warmupPath(guest.exchange().warmupPath())
                .allowListen(List.of("127.0.0.1:" + port))
                .maxBootTime(Duration.ofSeconds(30));
        if (config.settleSeconds() > 0) {
            builder.settleTime(Duration.ofSeconds(config.settleSeconds())); // not in engines before it
        }
        KvmServerOptions options = builder.build();
        BootConsole console = new BootConsole();
        boolean ephemeral = config.ephemeral();
        boolean noTail = config.noTail();
        int requests = run.requests();
        int warmup = run.warmup();
        double maxSeconds = run.maxSeconds();
        String name = config.name();
        long startedAt = System.nanoTime();
        KvmServer started;
        try {
            started = KvmServer.start(options, console, Map.of());
        } catch (RuntimeException e) {
            String output = console.tail();
            throw new IllegalStateException(e.getClass().getSimpleName() + ": "
                    + String.valueOf(e.getMessage()).lines().findFirst().orElse("")
                    + (output.isEmpty() ? "" : "; its output: " + output), e);
        }
        console.serving();
        try (KvmServer kvm = started) {
            long startNanos = System.nanoTime() - startedAt;
            Client client = client(port, config, guest);
            ServerStats stats = kvm.stats();
            client.run(warmup, maxSeconds, waitForReset(stats, noTail));
            long requests0 = stats.requests();
            long requestNanos0 = stats.requestNanos();
            long resets0 = stats.resets();
            long resetPages0 = stats.resetPages();
            long exits0 = exits(kvm);
            Map<String, Long> calls0 = kvm.syscallCounts(64);
            long resetNanos0 = stats.resetNanos();
            long runNanos0 = vmRunNanos(stats);
            Map<String, Long> kvm0 = KvmStats.snapshot();
            ThreadStats.Snapshot threads0 = ThreadStats.snapshot();
            LoadClient.Result r = client.run(requests, maxSeconds, waitForReset(stats, noTail));
            // Let the last request's reset finish before reading the counters.
            long settle = System.nanoTime() + 2_000_000_000L;
            while (ephemeral && stats.resets() - resets0 < stats.requests() - requests0 && System.nanoTime() < settle) {
                LockSupport.parkNanos(100_000);
            }
            ThreadStats.Snapshot threads1 = ThreadStats.snapshot();
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
            return new Row(config, r, served == 0 ? null : exits / (double) served,
                    served == 0 ? null : syscalls / (double) served,
                    resets == 0 ? null : (stats.resetPages() - resetPages0) / (double) resets, resetTime,
                    served == 0 ? null : (stats.requestNanos() - requestNanos0) / (double) served / 1e3,
                    served == 0 || runNanos0 < 0 ? null : (vmRunNanos(stats) - runNanos0) / (double) served / 1e3,
                    memory(kvm), mix, kvmCounters, threadTable(name, threads0, threads1, served), null, startNanos);
        }
    }

    private static String threadTable(String name, ThreadStats.Snapshot before, ThreadStats.Snapshot after,
            long served) {
        StringBuilder b = new StringBuilder();
        ThreadStats.printDelta(b, name, before, after, served);
        return b.toString();
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

    /** The request VMs' time in KVM_RUN, or -1 from an engine older than that counter (compare.sh runs those). */
    private static long vmRunNanos(ServerStats stats) {
        try {
            return stats.vmRunNanos();
        } catch (NoSuchMethodError older) {
            return -1;
        }
    }

    private static long exits(KvmServer kvm) {
        long n = 0;
        for (KvmServer.VmState vm : kvm.vms()) {
            n += vm.exits();
        }
        return n;
    }

    /** The template's and the request VMs' resident memory, from /proc/self/smaps. */
    private static Memory memory(KvmServer kvm) {
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
        return new Memory(-1, templateRss, vms == 0 ? 0 : rss / vms, vms == 0 ? 0 : anon / vms, maxAnon);
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
                + " | shadow PF fixed/req | syscalls/req | reset pages/req | reset time avg | accept-to-close in VM"
                + " | in KVM_RUN/req |\n");
        b.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Row r : rows) {
            b.append("| ").append(r.name()).append(" | ");
            if (r.failure() != null) {
                b.append("**failed**: ").append(r.failure().replace('|', '/')).append(" |").append(" - |".repeat(12))
                        .append('\n');
                continue;
            }
            b.append(r.result().ok());
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
                    .append(" | ").append(r.runMicros() == null ? "-" : Latencies.fmt(r.runMicros() * 1e3))
                    .append(" |\n");
        }
        b.append("\n| name | start to listening | native process VmRSS | template Rss | request VM Rss (avg)"
                + " | request VM private copies (avg) |\n");
        b.append("|---|---:|---:|---:|---:|---:|\n");
        for (Row r : rows) {
            if (r.memory() != null) {
                b.append("| ").append(r.name()).append(" | ").append(Latencies.fmt(r.startNanos())).append(" | ")
                        .append(r.memory().cells()).append(" |\n");
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
            if (r.threads() != null) {
                b.append(r.threads());
            }
        }
        for (Row r : rows) {
            if (r.result() != null && r.result().firstFailure() != null) {
                b.append("\nFirst failure, ").append(r.name()).append(": ").append(r.result().firstFailure()).append('\n');
            }
        }
        System.out.println(b);
    }

    private static void printSummary(String title, Map<Guest, List<Row>> results) {
        System.out.println(summary(title, results));
    }

    /**
     * One line per guest: native, non-ephemeral, ephemeral and (when the plan has an {@code e1-wN})
     * warmed ephemeral p50 and the ratios the issues ask for; then, per guest, the time from start
     * to serving and the resident memory of the native process against the template and a request
     * VM.
     */
    static String summary(String title, Map<Guest, List<Row>> results) {
        Config warm = results.values().stream().flatMap(List::stream).map(Row::config)
                .filter(c -> c.templateWarmup() > 0).findFirst().orElse(null);
        String warmed = warm == null ? null : "ephemeral --warmup " + warm.templateWarmup();
        StringBuilder b = new StringBuilder();
        b.append("\n#### Summary, ").append(title).append("\n\n");
        b.append("| guest | native p50 | threads=1 p50 | ephemeral p50 | ");
        if (warm != null) {
            b.append(warmed).append(" p50 | ");
        }
        b.append("ephemeral / native | ephemeral p90 / p50 | ephemeral / threads=1 | ");
        if (warm != null) {
            b.append("warmed / threads=1 | ");
        }
        b.append("syscalls/req | shadow PF/req | reset pages/req | reset time |\n");
        b.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|").append(warm == null ? "" : "---:|---:|")
                .append('\n');
        results.forEach((guest, rows) -> {
            Row nat = find(rows, "native");
            Row t1 = find(rows, "t1");
            Row e1 = find(rows, "e1");
            Row w = warm == null ? null : find(rows, warm.key());
            b.append("| ").append(guest.title()).append(" | ").append(p50(nat)).append(" | ").append(p50(t1))
                    .append(" | ").append(p50(e1)).append(" | ");
            if (warm != null) {
                b.append(p50(w)).append(" | ");
            }
            b.append(ratio(e1, nat)).append(" | ")
                    .append(ok(e1) ? String.format("%.2f", e1.result().latencies().p90Nanos()
                            / (double) e1.result().latencies().p50Nanos()) : "-")
                    .append(" | ").append(ratio(e1, t1));
            if (warm != null) {
                b.append(" | ").append(ratio(w, t1));
            }
            b.append(" | ").append(ok(e1) ? num(e1.syscallsPerRequest(), "%.1f") : "-")
                    .append(" | ").append(ok(e1) ? num(e1.kvmCounters().get("pf_fixed"), "%.1f") : "-")
                    .append(" | ").append(ok(e1) ? num(e1.resetPagesPerRequest(), "%.1f") : "-")
                    .append(" | ").append(ok(e1) && e1.resetTimes() != null
                            ? Latencies.fmt(e1.resetTimes().avgNanos()) : "-")
                    .append(" |\n");
        });
        b.append("\n| guest | start to serving: native | threads=1 | ephemeral |")
                .append(warm == null ? "" : " " + warmed + " |")
                .append(" native VmRSS | template Rss | request VM Rss | request VM own copies |")
                .append(warm == null ? "" : " template Rss, warmed | request VM own copies, warmed |").append('\n');
        b.append("|---|---:|---:|---:|---:|---:|---:|---:|").append(warm == null ? "" : "---:|---:|---:|")
                .append('\n');
        results.forEach((guest, rows) -> {
            Row nat = find(rows, "native");
            Row e1 = find(rows, "e1");
            Row w = warm == null ? null : find(rows, warm.key());
            b.append("| ").append(guest.title()).append(" | ").append(start(nat)).append(" | ")
                    .append(start(find(rows, "t1"))).append(" | ").append(start(e1)).append(" | ");
            if (warm != null) {
                b.append(start(w)).append(" | ");
            }
            b.append(memory(nat, Memory::nativeRss)).append(" | ").append(memory(e1, Memory::templateRss))
                    .append(" | ").append(memory(e1, Memory::vmRss)).append(" | ").append(memory(e1, Memory::vmPrivate));
            if (warm != null) {
                b.append(" | ").append(memory(w, Memory::templateRss)).append(" | ").append(memory(w, Memory::vmPrivate));
            }
            b.append(" |\n");
        });
        return b.toString();
    }

    private static Row find(List<Row> rows, String key) {
        return rows.stream().filter(r -> r.config().key().equals(key)).findFirst().orElse(null);
    }

    /** Start to serving of a row that ran ("-" not planned, "failed"). */
    private static String start(Row r) {
        return r == null ? "-" : r.failure() != null ? "failed" : Latencies.fmt(r.startNanos());
    }

    private static String memory(Row r, ToLongFunction<Memory> part) {
        return r == null ? "-" : r.memory() == null ? "failed" : Memory.kib(part.applyAsLong(r.memory()));
    }

    private static boolean ok(Row r) {
        return r != null && r.failure() == null && r.result().ok() > 0;
    }

    private static String p50(Row r) {
        if (r == null) {
            return "-";
        }
        return ok(r) ? Latencies.fmt(r.result().latencies().p50Nanos()) : "failed";
    }

    private static String ratio(Row a, Row b) {
        return ok(a) && ok(b) ? String.format("%.1fx", a.result().latencies().p50Nanos()
                / (double) b.result().latencies().p50Nanos()) : "-";
    }
}
