package io.kvmserver.benchmarks;

import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * What the JVM's threads did during a measured run, per request: CPU time and time spent
 * runnable but waiting for a CPU ({@code /proc/self/task/N/schedstat}), how often each was
 * switched out ({@code voluntary_ctxt_switches}: it blocked; {@code nonvoluntary}: it was
 * preempted), bytes allocated on the Java heap ({@code com.sun.management.ThreadMXBean}), and
 * the garbage collections. Threads are grouped by name without trailing digits (every request
 * VM thread is {@code kvmserver-request-vm-}; Linux keeps 15 characters of a name).
 */
final class ThreadStats {

    /** Totals of one group of threads. */
    record Group(long cpuNanos, long waitNanos, long voluntary, long involuntary, long allocatedBytes) {

        Group plus(Group o) {
            return new Group(cpuNanos + o.cpuNanos, waitNanos + o.waitNanos, voluntary + o.voluntary,
                    involuntary + o.involuntary, allocatedBytes + o.allocatedBytes);
        }

        Group minus(Group o) {
            return new Group(cpuNanos - o.cpuNanos, waitNanos - o.waitNanos, voluntary - o.voluntary,
                    involuntary - o.involuntary, allocatedBytes - o.allocatedBytes);
        }
    }

    /** A snapshot: groups by name, and the collectors' counts and times. */
    record Snapshot(Map<String, Group> groups, long gcCount, long gcMillis) {
    }

    private ThreadStats() {
    }

    static Snapshot snapshot() {
        Map<String, Group> groups = new TreeMap<>();
        Map<String, Long> allocated = allocatedByName();
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
            for (Path task : tasks) {
                try {
                    String name = Files.readString(task.resolve("comm")).trim();
                    String[] sched = Files.readString(task.resolve("schedstat")).trim().split(" ");
                    long voluntary = 0;
                    long involuntary = 0;
                    for (String line : Files.readAllLines(task.resolve("status"))) {
                        if (line.startsWith("voluntary_ctxt_switches:")) {
                            voluntary = Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
                        } else if (line.startsWith("nonvoluntary_ctxt_switches:")) {
                            involuntary = Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
                        }
                    }
                    Group g = new Group(Long.parseLong(sched[0]), Long.parseLong(sched[1]), voluntary, involuntary,
                            allocated.getOrDefault(name, 0L));
                    allocated.remove(name); // counted once per name, on its first thread
                    groups.merge(group(name), g, Group::plus);
                } catch (IOException | RuntimeException e) {
                    // the thread ended meanwhile
                }
            }
        } catch (IOException e) {
            return new Snapshot(Map.of(), 0, 0);
        }
        long count = 0;
        long millis = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            count += Math.max(0, gc.getCollectionCount());
            millis += Math.max(0, gc.getCollectionTime());
        }
        return new Snapshot(groups, count, millis);
    }

    /** Bytes allocated per thread name, truncated the way Linux truncates it (15 characters). */
    private static Map<String, Long> allocatedByName() {
        Map<String, Long> byName = new TreeMap<>();
        if (!(ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean mx)) {
            return byName;
        }
        Map<Thread, StackTraceElement[]> threads = Thread.getAllStackTraces();
        for (Thread t : threads.keySet()) {
            long bytes = mx.getThreadAllocatedBytes(t.getId());
            if (bytes > 0) {
                String name = t.getName().length() > 15 ? t.getName().substring(0, 15) : t.getName();
                // The launcher's main thread keeps the process name in /proc.
                byName.merge("main".equals(name) ? "java" : name, bytes, Long::sum);
            }
        }
        return byName;
    }

    private static String group(String comm) {
        int end = comm.length();
        while (end > 0 && (Character.isDigit(comm.charAt(end - 1)) || comm.charAt(end - 1) == '#')) {
            end--;
        }
        return comm.substring(0, end);
    }

    /** Rows "| thread | CPU/req | waiting for a CPU/req | blocked/req | preempted/req | allocated/req |" of busy groups. */
    static void printDelta(StringBuilder b, String title, Snapshot before, Snapshot after, long requests) {
        if (requests <= 0 || after.groups().isEmpty()) {
            return;
        }
        b.append("\nJVM threads per request, ").append(title).append(" (GC: ")
                .append(after.gcCount() - before.gcCount()).append(" collections, ")
                .append(after.gcMillis() - before.gcMillis()).append(" ms in all):\n\n");
        b.append("| thread | CPU | waiting for a CPU | blocked (voluntary switches) | preempted | Java heap allocated |\n");
        b.append("|---|---:|---:|---:|---:|---:|\n");
        for (Map.Entry<String, Group> e : after.groups().entrySet()) {
            Group d = e.getValue().minus(before.groups().getOrDefault(e.getKey(), new Group(0, 0, 0, 0, 0)));
            if (d.cpuNanos() < 500L * requests && d.voluntary() + d.involuntary() < requests / 100
                    && d.allocatedBytes() < 64L * requests) {
                continue; // under 0.5 µs, 0.01 switches and 64 bytes per request: idle
            }
            b.append("| ").append(e.getKey()).append(" | ").append(Latencies.fmt(d.cpuNanos() / (double) requests))
                    .append(" | ").append(Latencies.fmt(d.waitNanos() / (double) requests))
                    .append(" | ").append(String.format("%.2f", d.voluntary() / (double) requests))
                    .append(" | ").append(String.format("%.2f", d.involuntary() / (double) requests))
                    .append(" | ").append(String.format("%.0f B", d.allocatedBytes() / (double) requests))
                    .append(" |\n");
        }
    }
}
