package io.kvmserver.autoconfigure.metrics;

import io.kvmserver.autoconfigure.KvmServerLifecycle;
import io.kvmserver.linux.Denials;
import io.kvmserver.server.KvmServer;
import io.kvmserver.server.ServerStats;
import io.kvmserver.server.ServerStats.Outcome;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.BaseUnits;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import java.util.function.ToLongFunction;

/**
 * Micrometer meters of the kvmservers, each tagged {@code server} with the server's name
 * ({@code default} for the server configured at {@code kvmserver.*}). Meters are registered when
 * the registry is created, which is before the servers start, so every meter reads its server
 * through the lifecycle and shows zero (or NaN for gauges) while it does not run. Counters are
 * cumulative in the engine; after a restart of the server they start again from zero.
 *
 * <ul>
 * <li>{@code kvmserver.requests} (timer, tag {@code outcome}: ok, timeout, crash, exit,
 * memory-limit): connections served and the time they took.</li>
 * <li>{@code kvmserver.resets} (timer): resets of request VMs to the template.</li>
 * <li>{@code kvmserver.reset.pages} (counter): memory pages restored by resets; divided by the
 * reset count, the pages dirtied per request.</li>
 * <li>{@code kvmserver.reset.failures} (counter): resets that failed, each taking a VM out.</li>
 * <li>{@code kvmserver.vm.exits} (counter): exits of the request VMs to the host (system calls,
 * faults, interrupts).</li>
 * <li>{@code kvmserver.denials} (counter, tag {@code kind}: read, write, connect, listen,
 * unix-socket): operations the guest's permissions refused.</li>
 * <li>{@code kvmserver.vms} (gauge, tag {@code state}: busy, idle): request VMs by state.</li>
 * <li>{@code kvmserver.template.memory} (gauge, bytes): memory mapped by the frozen template,
 * which every request VM shares.</li>
 * <li>{@code kvmserver.memory.resident} (gauge, bytes, tag {@code vm}: template, request): the
 * template's resident guest memory, and the request VMs' private copies together, from one read
 * of {@code /proc/self/smaps} per second at most ({@link ResidentMemorySampler}).</li>
 * <li>{@code kvmserver.syscalls} (counter, tag {@code name}): system calls of the request VMs,
 * for a fixed list of the calls servers make (the rest under {@code other}), so that the number
 * of time series is bounded whatever the guest calls.</li>
 * </ul>
 */
public class KvmServerMetrics implements MeterBinder {

    /** The system calls with a series of their own; every other call counts as {@code other}. */
    static final List<String> TRACKED_SYSCALLS = List.of("read", "write", "readv", "writev", "pread64",
            "pwrite64", "openat", "close", "newfstatat", "fstat", "statx", "lseek", "mmap", "munmap", "mprotect",
            "brk", "madvise", "futex", "epoll_wait", "epoll_pwait", "epoll_ctl", "poll", "ppoll", "select",
            "accept", "accept4", "recvfrom", "sendto", "recvmsg", "sendmsg", "sendfile", "shutdown",
            "setsockopt", "getsockopt", "clock_gettime", "gettimeofday", "nanosleep", "getrandom", "ioctl",
            "fcntl", "getpid", "exit_group");

    private final List<KvmServerLifecycle> lifecycles;

    private final ResidentMemorySampler residentMemory;

    public KvmServerMetrics(KvmServerLifecycle lifecycle) {
        this(List.of(lifecycle));
    }

    public KvmServerMetrics(List<KvmServerLifecycle> lifecycles) {
        this.lifecycles = List.copyOf(lifecycles);
        this.residentMemory = new ResidentMemorySampler(this.lifecycles);
    }

    /** How many times the resident-memory gauges have read {@code /proc/self/smaps}. */
    int residentMemoryPasses() {
        return this.residentMemory.passes();
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        for (KvmServerLifecycle lifecycle : this.lifecycles) {
            new ServerMeters(lifecycle, Tags.of("server", lifecycle.getName())).bindTo(registry);
        }
    }

    /** The meters of one server, all carrying its tag. */
    private final class ServerMeters {

        private final KvmServerLifecycle lifecycle;

        private final Tags server;

        ServerMeters(KvmServerLifecycle lifecycle, Tags server) {
            this.lifecycle = lifecycle;
            this.server = server;
        }

        void bindTo(MeterRegistry registry) {
            for (Outcome outcome : Outcome.values()) {
                FunctionTimer
                    .builder("kvmserver.requests", this.lifecycle, (l) -> count(l, (s) -> s.requests(outcome)),
                            (l) -> stat(l, (s) -> s.requestNanos(outcome)), TimeUnit.NANOSECONDS)
                    .tag("outcome", outcome.name().toLowerCase(Locale.ROOT).replace('_', '-'))
                    .description("Connections served by request VMs, by how they ended")
                    .tags(this.server)
                    .register(registry);
            }
            FunctionTimer
                .builder("kvmserver.resets", this.lifecycle, (l) -> count(l, ServerStats::resets),
                        (l) -> stat(l, ServerStats::resetNanos), TimeUnit.NANOSECONDS)
                .description("Resets of request VMs to the frozen template")
                .tags(this.server)
                .register(registry);
            counter(registry, "kvmserver.reset.pages", ServerStats::resetPages, "Memory pages restored by resets",
                    "pages");
            counter(registry, "kvmserver.reset.failures", ServerStats::failedResets,
                    "Resets that failed; each takes a request VM out of service", null);
            counter(registry, "kvmserver.vm.exits", ServerStats::vmExits, "Exits of the request VMs to the host", null);
            counter(registry, "kvmserver.vm.run.time", ServerStats::vmRunNanos,
                    "Time the request VMs spent running the program (in KVM_RUN); the rest of a request is the engine's",
                    "ns");
            gauge(registry, "kvmserver.vms", "busy", KvmServer::busyVms);
            gauge(registry, "kvmserver.vms", "idle", (server) -> server.aliveVms() - server.busyVms());
            for (Denials.Kind kind : Denials.Kind.values()) {
                FunctionCounter
                    .builder("kvmserver.denials", this.lifecycle,
                            (l) -> server(l, (server) -> server.denials().count(kind), 0))
                    .tag("kind", kind.tag())
                    .description("Operations of the guest refused by its permissions")
                    .tags(this.server)
                    .register(registry);
            }
            Gauge.builder("kvmserver.memory.resident", this.lifecycle,
                    (l) -> server(l, (server) -> residentMemory.sample(server).templateBytes(), Double.NaN))
                .tag("vm", "template")
                .baseUnit(BaseUnits.BYTES)
                .description("Resident guest memory of the frozen template (shared by every request VM)")
                .tags(this.server)
                .register(registry);
            Gauge.builder("kvmserver.memory.resident", this.lifecycle,
                    (l) -> server(l, (server) -> residentMemory.sample(server).requestPrivateBytes(), Double.NaN))
                .tag("vm", "request")
                .baseUnit(BaseUnits.BYTES)
                .description("Private copies of the request VMs: what they cost beyond the template")
                .tags(this.server)
                .register(registry);
            for (String name : TRACKED_SYSCALLS) {
                FunctionCounter.builder("kvmserver.syscalls", this.lifecycle,
                        (l) -> server(l, (server) -> server.syscallCount(name), 0))
                    .tag("name", name)
                    .description("System calls of the request VMs")
                    .tags(this.server)
                    .register(registry);
            }
            FunctionCounter.builder("kvmserver.syscalls", this.lifecycle, (l) -> server(l, (server) -> {
                long tracked = 0;
                for (String name : TRACKED_SYSCALLS) {
                    tracked += server.syscallCount(name);
                }
                return server.syscallTotal() - tracked;
            }, 0))
                .tag("name", "other")
                .tags(this.server)
                .description("System calls of the request VMs")
                .register(registry);
            Gauge.builder("kvmserver.template.memory", this.lifecycle,
                    (l) -> server(l, KvmServer::templateMappedBytes, Double.NaN))
                .baseUnit(BaseUnits.BYTES)
                .description("Memory mapped by the frozen template, shared by every request VM")
                .tags(this.server)
                .register(registry);
        }

        private void counter(MeterRegistry registry, String name, ToLongFunction<ServerStats> value,
                String description, String unit) {
            FunctionCounter.builder(name, this.lifecycle, (l) -> stat(l, value))
                .description(description)
                .baseUnit(unit)
                .tags(this.server)
                .register(registry);
        }

        private void gauge(MeterRegistry registry, String name, String state, ToDoubleFunction<KvmServer> value) {
            Gauge.builder(name, this.lifecycle, (l) -> server(l, value, Double.NaN))
                .tag("state", state)
                .description("Request VMs by state")
                .tags(this.server)
                .register(registry);
        }

    }

    private static long count(KvmServerLifecycle lifecycle, ToLongFunction<ServerStats> value) {
        KvmServer server = lifecycle.getServer();
        return (server != null) ? value.applyAsLong(server.stats()) : 0;
    }

    private static double stat(KvmServerLifecycle lifecycle, ToLongFunction<ServerStats> value) {
        return count(lifecycle, value);
    }

    private static double server(KvmServerLifecycle lifecycle, ToDoubleFunction<KvmServer> value, double stopped) {
        KvmServer server = lifecycle.getServer();
        return (server != null) ? value.applyAsDouble(server) : stopped;
    }

}
