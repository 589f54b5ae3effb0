package io.kvmserver.benchmarks;

import com.sun.jna.Pointer;
import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.kvm.Kvm;
import io.kvmserver.linux.GuestConsole;
import io.kvmserver.host.SyscallNumbers;
import io.kvmserver.server.Program;
import io.kvmserver.server.ProgramRunner;
import io.kvmserver.vm.GuestVm;
import io.kvmserver.vm.RunResult;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Start-to-exit time of a hello world natively and under the engine, the cost of one emulated
 * system call round trip ({@code getppid} in a loop), the VM exits and system calls of the
 * hello-world run, and the cost of reading the clock ({@code clock_gettime} in a loop, through the
 * vDSO and through the system call).
 *
 * <p>Usage: {@code EngineBenchmarks --hello /abs/hello-static [--hello-dynamic /abs/hello-dynamic]
 * --loop /abs/getppid_loop --spawn /abs/spawn_bench [--cli-jar /abs/kvmserver-cli.jar]
 * [--runs 200] [--cli-runs 10] [--loop-calls 20000] [--native-loop-calls 2000000]
 * [--clock-loop /abs/clock_loop [--clock-calls 1000000] [--clock-syscall-calls 20000]]}
 */
public final class EngineBenchmarks {

    private static final Pattern NS_PER_CALL = Pattern.compile("ns_per_call=([0-9.]+)");

    /** What one in-process run of a program measured. */
    record EngineRun(long prepareNanos, long bootNanos, long runNanos, long closeNanos, long exits, long syscalls,
            long[] syscallCounts, String stdout, Map<String, Double> kvmCounters) {

        long totalNanos() {
            return prepareNanos + bootNanos + runNanos + closeNanos;
        }
    }

    public static void main(String[] argv) throws Exception {
        Args args = new Args(argv);
        Path hello = Path.of(args.required("hello")).toAbsolutePath();
        String helloDynamic = args.get("hello-dynamic", null);
        Path loop = Path.of(args.required("loop")).toAbsolutePath();
        Path spawn = Path.of(args.required("spawn")).toAbsolutePath();
        String cliJar = args.get("cli-jar", null);
        int runs = args.getInt("runs", 200);
        int cliRuns = args.getInt("cli-runs", 10);
        int loopCalls = args.getInt("loop-calls", 20000);
        int nativeLoopCalls = args.getInt("native-loop-calls", 2_000_000);
        StringBuilder out = new StringBuilder();

        try (Kvm kvm = Kvm.open()) {
            // (a) start to exit
            System.err.println("[engine] start-to-exit ...");
            out.append("\n#### Start to exit: static hello world (").append(runs).append(" runs)\n\n");
            out.append("| how | runs | average | p50 | p90 | p99 |\n|---|---:|---:|---:|---:|---:|\n");
            EngineRun first = runInProcess(kvm, hello, List.of());
            row(out, "native, posix_spawn + waitpid from C", Latencies.of(spawnBench(spawn, hello, runs)));
            row(out, "native, Java ProcessBuilder", Latencies.of(processBuilder(List.of(hello.toString()), runs)));
            List<EngineRun> engine = inProcess(kvm, hello, List.of(), runs, 20);
            row(out, "engine in-process: prepare + boot + run + close", Latencies.of(
                    engine.stream().mapToLong(EngineRun::totalNanos).toArray()));
            row(out, "  of which Program.prepare (ELF read, policy)", Latencies.of(
                    engine.stream().mapToLong(EngineRun::prepareNanos).toArray()));
            row(out, "  of which Program.boot (VM, memory, load)", Latencies.of(
                    engine.stream().mapToLong(EngineRun::bootNanos).toArray()));
            row(out, "  of which GuestVm.run (to exit)", Latencies.of(
                    engine.stream().mapToLong(EngineRun::runNanos).toArray()));
            row(out, "  of which GuestVm.close", Latencies.of(
                    engine.stream().mapToLong(EngineRun::closeNanos).toArray()));
            List<EngineRun> small = new ArrayList<>();
            for (int i = 0; i < runs + 20; i++) {
                EngineRun r = runInProcess(kvm, hello, List.of(), 256L << 20);
                if (i >= 20) {
                    small.add(r);
                }
            }
            row(out, "engine in-process with --max-main-memory 256 (default 8192)", Latencies.of(
                    small.stream().mapToLong(EngineRun::totalNanos).toArray()));
            row(out, "  of which Program.boot", Latencies.of(small.stream().mapToLong(EngineRun::bootNanos).toArray()));
            row(out, "  of which GuestVm.close", Latencies.of(
                    small.stream().mapToLong(EngineRun::closeNanos).toArray()));
            out.append("| engine in-process, first run in a fresh JVM (cold) | 1 | ")
                    .append(Latencies.of(new long[] {first.totalNanos()}).cells()).append(" |\n");
            List<EngineRun> dynamic = List.of();
            if (helloDynamic != null) {
                Path dyn = Path.of(helloDynamic).toAbsolutePath();
                dynamic = inProcess(kvm, dyn, List.of(), Math.max(10, runs / 4), 5);
                row(out, "native, dynamic hello, posix_spawn", Latencies.of(spawnBench(spawn, dyn, runs)));
                row(out, "engine in-process, dynamic hello (ld.so + libc.so)", Latencies.of(
                        dynamic.stream().mapToLong(EngineRun::totalNanos).toArray()));
            }
            if (cliJar != null && cliRuns > 0) {
                String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
                row(out, "JVM start alone: `java -cp benchmarks.jar NoOp` (baseline for the CLI row)",
                        Latencies.of(processBuilder(List.of(java, "-cp", System.getProperty("java.class.path"),
                                NoOp.class.getName()), cliRuns)));
                row(out, "CLI: `java -jar kvmserver-cli.jar hello` (JVM start included)", Latencies.of(
                        processBuilder(List.of(java, "-jar", cliJar, hello.toString()), cliRuns)));
            }

            // (c) exits and system calls of the hello-world run
            out.append("\n#### VM exits and system calls of one run\n\n");
            out.append("| program | exits to the engine | KVM exits (all, in-kernel included) | shadow page faults fixed (pf_fixed)"
                    + " | system calls | calls |\n|---|---:|---:|---:|---:|---|\n");
            exitsRow(out, "static hello", engine.get(engine.size() - 1));
            if (!dynamic.isEmpty()) {
                exitsRow(out, "dynamic hello", dynamic.get(dynamic.size() - 1));
            }

            // (b) one system call round trip
            System.err.println("[engine] syscall round trip ...");
            out.append("\n#### One emulated system call round trip: getppid in a loop\n\n");
            out.append("| how | calls | per call | exits per call | how measured |\n|---|---:|---:|---:|---|\n");
            List<Double> nativeNs = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                nativeNs.add(parseNs(runNative(List.of(loop.toString(), Integer.toString(nativeLoopCalls)))));
            }
            out.append("| native | ").append(nativeLoopCalls).append(" | ")
                    .append(String.format("%.3f µs", median(nativeNs) / 1e3))
                    .append(" | - | median of 5 runs, the loop's own CLOCK_MONOTONIC |\n");
            LoopCost getppid = loopCost(kvm, loop, List.of(), loopCalls, SyscallNumbers.GETPPID);
            out.append("| engine | ").append(loopCalls).append(" | ")
                    .append(String.format("%.1f µs", getppid.hostNs() / 1e3)).append(" | ")
                    .append(String.format("%.2f", getppid.exitsPerCall()))
                    .append(" | median of 5: host-timed GuestVm.run with K calls minus with 0 calls, / K |\n");
            out.append("| engine | ").append(loopCalls).append(" | ")
                    .append(String.format("%.1f µs", getppid.guestNs() / 1e3)).append(" | ")
                    .append(String.format("%.2f", getppid.exitsPerCall()))
                    .append(" | median of 5: the guest loop's own CLOCK_MONOTONIC |\n");
            out.append("\nKVM's own exit counter (in-kernel exits included, `KVM_GET_STATS_FD`): ")
                    .append(String.format("%.2f", getppid.kernelExitsPerCall())).append(" exits per getppid call.")
                    .append(" All KVM counters per call (last run): ").append(format(getppid.countersPerCall()))
                    .append("\n");

            String clockLoop = args.get("clock-loop", null);
            if (clockLoop != null) {
                System.err.println("[engine] clock_gettime loop ...");
                clockRows(out, kvm, Path.of(clockLoop).toAbsolutePath(), args.getInt("clock-calls", 1_000_000),
                        args.getInt("clock-syscall-calls", 20_000));
            }
        }
        System.out.println(out);
    }

    /**
     * clock_gettime(CLOCK_MONOTONIC) in a loop: natively, in the engine through the C library (the
     * vDSO), and in the engine through syscall(2) (what every read cost before the vDSO).
     */
    private static void clockRows(StringBuilder out, Kvm kvm, Path loop, int calls, int syscallCalls)
            throws IOException, InterruptedException {
        out.append("\n#### clock_gettime(CLOCK_MONOTONIC) in a loop\n\n");
        out.append("| how | calls | per call (guest's own clock) | per call (host-timed) | vs native | exits per call"
                + " | clock_gettime system calls per call |\n|---|---:|---:|---:|---:|---:|---:|\n");
        List<Double> nativeNs = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            nativeNs.add(parseNs(runNative(List.of(loop.toString(), Integer.toString(calls)))));
        }
        double nat = median(nativeNs);
        out.append(String.format("| native | %d | %.1f ns | - | 1 | - | - |%n", calls, nat));
        LoopCost vdso = loopCost(kvm, loop, List.of(), calls, SyscallNumbers.CLOCK_GETTIME);
        out.append(String.format("| engine, C library (vDSO) | %d | %.1f ns | %.1f ns | %.1fx | %.6f | %.6f |%n", calls,
                vdso.guestNs(), vdso.hostNs(), vdso.guestNs() / nat, vdso.exitsPerCall(), vdso.syscallsPerCall()));
        LoopCost syscall = loopCost(kvm, loop, List.of("syscall"), syscallCalls, SyscallNumbers.CLOCK_GETTIME);
        out.append(String.format("| engine, syscall(2) (no vDSO) | %d | %.1f µs | %.1f µs | %.0fx | %.2f | %.2f |%n",
                syscallCalls, syscall.guestNs() / 1e3, syscall.hostNs() / 1e3, syscall.guestNs() / nat,
                syscall.exitsPerCall(), syscall.syscallsPerCall()));
        out.append(String.format("%nMedians of 5 runs; the engine's rows take a run with K calls minus a run with 0 calls."
                + " KVM's own exit counter (in-kernel exits included) per vDSO call: %.6f.%n", vdso.kernelExitsPerCall()));
    }

    /** What one call of a guest loop costs, from runs with K and with 0 calls (medians of 5). */
    record LoopCost(double hostNs, double guestNs, double exitsPerCall, double kernelExitsPerCall,
            double syscallsPerCall, Map<String, Double> countersPerCall) {
    }

    /**
     * Runs {@code program 0 extra...} and {@code program K extra...} five times each; the
     * program prints its own {@code ns_per_call}. {@code syscall} is the number counted per call.
     */
    private static LoopCost loopCost(Kvm kvm, Path program, List<String> extra, int calls, int syscall) {
        List<Double> hostNs = new ArrayList<>();
        List<Double> guestNs = new ArrayList<>();
        List<Double> exitsPerCall = new ArrayList<>();
        List<Double> kernelExitsPerCall = new ArrayList<>();
        List<Double> syscallsPerCall = new ArrayList<>();
        Map<String, Double> countersPerCall = Map.of();
        for (int i = 0; i < 5; i++) {
            EngineRun zero = runInProcess(kvm, program, withCalls(0, extra));
            EngineRun many = runInProcess(kvm, program, withCalls(calls, extra));
            hostNs.add((many.runNanos() - zero.runNanos()) / (double) calls);
            exitsPerCall.add((many.exits() - zero.exits()) / (double) calls);
            kernelExitsPerCall.add((many.kvmCounters().getOrDefault("exits", 0.0)
                    - zero.kvmCounters().getOrDefault("exits", 0.0)) / calls);
            syscallsPerCall.add((many.syscallCounts()[syscall] - zero.syscallCounts()[syscall]) / (double) calls);
            Map<String, Double> perCall = new java.util.TreeMap<>();
            many.kvmCounters().forEach((k, v) -> {
                double d = (v - zero.kvmCounters().getOrDefault(k, 0.0)) / calls;
                if (d >= 0.005) {
                    perCall.put(k, d);
                }
            });
            countersPerCall = perCall;
            guestNs.add(parseNs(many.stdout()));
        }
        return new LoopCost(median(hostNs), median(guestNs), median(exitsPerCall), median(kernelExitsPerCall),
                median(syscallsPerCall), countersPerCall);
    }

    private static List<String> withCalls(int calls, List<String> extra) {
        List<String> args = new ArrayList<>();
        args.add(Integer.toString(calls));
        args.addAll(extra);
        return args;
    }

    private static void row(StringBuilder out, String name, Latencies l) {
        out.append("| ").append(name).append(" | ").append(l.count()).append(" | ").append(l.cells()).append(" |\n");
    }

    private static void exitsRow(StringBuilder out, String name, EngineRun r) {
        List<String> calls = new ArrayList<>();
        Integer[] order = new Integer[r.syscallCounts().length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Long.compare(r.syscallCounts()[b], r.syscallCounts()[a]));
        for (int nr : order) {
            long n = r.syscallCounts()[nr];
            if (n > 0) {
                calls.add((nr < SyscallNumbers.COUNT ? SyscallNumbers.name(nr) : "other") + (n > 1 ? " ×" + n : ""));
            }
        }
        out.append("| ").append(name).append(" | ").append(r.exits())
                .append(" | ").append(String.format("%.0f", r.kvmCounters().getOrDefault("exits", Double.NaN)))
                .append(" | ").append(String.format("%.0f", r.kvmCounters().getOrDefault("pf_fixed", Double.NaN)))
                .append(" | ").append(r.syscalls())
                .append(" | ").append(String.join(", ", calls)).append(" |\n");
    }

    private static List<EngineRun> inProcess(Kvm kvm, Path program, List<String> args, int runs, int warmup) {
        for (int i = 0; i < warmup; i++) {
            runInProcess(kvm, program, args);
        }
        List<EngineRun> result = new ArrayList<>(runs);
        for (int i = 0; i < runs; i++) {
            result.add(runInProcess(kvm, program, args));
        }
        return result;
    }

    /** Prepares, boots, runs to exit and closes one VM; the KVM device stays open across runs. */
    static EngineRun runInProcess(Kvm kvm, Path program, List<String> args) {
        return runInProcess(kvm, program, args, 0);
    }

    /** As above, with {@code --max-main-memory} in bytes (0: the default, 8192 MiB as in the CLI). */
    static EngineRun runInProcess(Kvm kvm, Path program, List<String> args, long mainMemory) {
        ByteArrayOutputStream stdout = new ByteArrayOutputStream();
        GuestConsole console = (stream, address, length) -> {
            if (stream == 1) {
                byte[] bytes = new Pointer(address).getByteArray(0, (int) length);
                stdout.write(bytes, 0, bytes.length);
            }
            return length;
        };
        KvmServerOptions.Builder builder = KvmServerOptions.builder();
        if (mainMemory > 0) {
            builder.maxMainMemory(mainMemory);
        }
        KvmServerOptions options = builder
                .program(program.toString())
                .args(args)
                .cwd(program.getParent().toString())
                .build();
        long t0 = System.nanoTime();
        Program prepared = Program.prepare(options, console, Map.of());
        long t1 = System.nanoTime();
        GuestVm vm = prepared.boot(kvm);
        long t2;
        long t3;
        RunResult result;
        long[] counts = new long[SyscallNumbers.COUNT + 1];
        Map<String, Double> kvmCounters;
        try {
            Map<String, Long> before = KvmStats.snapshot();
            t2 = System.nanoTime();
            result = ProgramRunner.run(vm, Duration.ofSeconds(60));
            t3 = System.nanoTime();
            kvmCounters = KvmStats.delta(before, KvmStats.snapshot(), 1);
            vm.addSyscallCounts(counts);
        } finally {
            vm.close();
        }
        long t4 = System.nanoTime();
        // The console's own thread delivers what the program wrote: all of it before it is read
        // (pinned to one CPU, that thread had often not run yet, and the output came back empty).
        prepared.kernel().console().flush(-1, TimeUnit.SECONDS);
        if (result.kind() != RunResult.Kind.EXITED || result.exitStatus() != 0) {
            throw new IllegalStateException(program + " did not exit cleanly: " + result.detail());
        }
        return new EngineRun(t1 - t0, t2 - t1, t3 - t2, t4 - t3, vm.exits(), vm.syscalls(), counts,
                stdout.toString(StandardCharsets.UTF_8), kvmCounters);
    }

    /** Start-to-exit times from the C posix_spawn harness. */
    private static long[] spawnBench(Path spawn, Path program, int runs) throws IOException, InterruptedException {
        String out = runNative(List.of(spawn.toString(), Integer.toString(runs + 20), program.toString()));
        String[] lines = out.trim().split("\n");
        // The first 20 runs warm the page cache and are dropped.
        return Arrays.stream(lines).skip(20).mapToLong(Long::parseLong).toArray();
    }

    /** Start-to-exit times of {@code command} run {@code runs} times from Java (3 warmup runs first). */
    private static long[] processBuilder(List<String> command, int runs) throws IOException, InterruptedException {
        int warmup = Math.min(3, Math.max(1, runs));
        long[] nanos = new long[runs];
        for (int i = -warmup; i < runs; i++) {
            long t0 = System.nanoTime();
            Process p = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("timed out: " + command);
            }
            long t1 = System.nanoTime();
            if (p.exitValue() != 0) {
                throw new IllegalStateException("exit status " + p.exitValue() + ": " + command);
            }
            if (i >= 0) {
                nanos[i] = t1 - t0;
            }
        }
        return nanos;
    }

    private static String runNative(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("failed: " + command + "\n" + out);
        }
        return out;
    }

    private static double parseNs(String output) {
        Matcher m = NS_PER_CALL.matcher(output);
        if (!m.find()) {
            throw new IllegalStateException("no ns_per_call in: " + output);
        }
        return Double.parseDouble(m.group(1));
    }

    static String format(Map<String, Double> counters) {
        List<String> parts = new ArrayList<>();
        counters.forEach((k, v) -> parts.add(k + " " + String.format("%.2f", v)));
        return parts.isEmpty() ? "(none: this kernel has no KVM stats fd)" : String.join(", ", parts);
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        sorted.sort(null);
        return sorted.get(sorted.size() / 2);
    }
}
