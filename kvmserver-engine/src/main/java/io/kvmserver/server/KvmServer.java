package io.kvmserver.server;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.config.Option;
import io.kvmserver.kvm.Kvm;
import io.kvmserver.host.LibC;
import io.kvmserver.linux.FrozenStateException;
import io.kvmserver.linux.FileDescription;
import io.kvmserver.linux.Scheduler;
import io.kvmserver.linux.GuestConsole;
import io.kvmserver.linux.RouteSocket;
import io.kvmserver.linux.WarmupClients;
import io.kvmserver.host.SyscallNumbers;
import io.kvmserver.vm.GuestVm;
import io.kvmserver.vm.RunResult;
import io.kvmserver.vm.VmSnapshot;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running server: the program booted in a template VM until it waited for connections, then
 * frozen, and {@code threads} request VMs forked from it, each serving connections on its own
 * thread. This is the engine's entry point for the CLI and for the Spring Boot integration.
 */
public final class KvmServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(KvmServer.class);

    /**
     * A request VM as health checks and the Actuator endpoint see it.
     *
     * @param requestMillis how long the VM's current request has been running, 0 when idle
     * @param limitedMillis how long the VM has run on the clock {@code max-request-time} limits, 0
     * while it waits for its clients: a request's whole life in ephemeral mode, otherwise the time
     * since the VM last waited for its clients (a persistent connection left open and silent
     * counts nothing)
     */
    public record VmState(int id, boolean alive, boolean busy, long exits, long requestMillis, long limitedMillis) {
    }

    private final KvmServerOptions options;
    private final Kvm kvm;
    private final GuestVm template;
    private final VmSnapshot snapshot;
    private final List<RequestWorker> workers;
    private final ServerStats stats;
    private final ScheduledExecutorService timers;
    private final InetSocketAddress listenAddress;
    private final long templateResidentBytes;
    private final Route route;
    private final HostFileLimit.Reservation fileLimit;
    private volatile boolean closed;

    private KvmServer(KvmServerOptions options, Kvm kvm, GuestVm template, VmSnapshot snapshot,
            List<RequestWorker> workers, ServerStats stats, ScheduledExecutorService timers,
            InetSocketAddress listenAddress, long templateResidentBytes, Route route,
            HostFileLimit.Reservation fileLimit) {
        this.route = route;
        this.fileLimit = fileLimit;
        this.options = options;
        this.kvm = kvm;
        this.template = template;
        this.snapshot = snapshot;
        this.workers = workers;
        this.stats = stats;
        this.timers = timers;
        this.listenAddress = listenAddress;
        this.templateResidentBytes = templateResidentBytes;
    }

    /**
     * Boots the program, runs it (and its warmup requests) until it waits for connections, and
     * starts the request VMs. Throws {@link KvmServerException} when the program ends, crashes or
     * runs out of boot time first; {@link io.kvmserver.elf.ElfException} and
     * {@link io.kvmserver.host.HostCallException} (a {@link io.kvmserver.kvm.KvmException} for KVM) for a bad
     * program, an unusable KVM or a host that refuses guest memory.
     */
    public static KvmServer start(KvmServerOptions options, GuestConsole console, Map<String, String> hostEnv) {
        Program program = Program.prepare(options, console, hostEnv);
        Kvm kvm = Kvm.open();
        GuestVm template = null;
        ScheduledThreadPoolExecutor timers = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "kvmserver-timers");
            t.setDaemon(true);
            return t;
        });
        // A cancelled limit leaves the queue at once rather than when it would have expired.
        timers.setRemoveOnCancelPolicy(true);
        List<RequestWorker> workers = new ArrayList<>();
        HostFileLimit.Reservation fileLimit = null;
        try {
            template = program.boot(kvm);
            WarmupClients warmupClients = new WarmupClients();
            RunResult result = bootTemplate(template, options, timers, warmupClients);
            if (result.kind() != RunResult.Kind.WAITING) {
                throw new KvmServerException(describeBootFailure(options, result, template, warmupClients), result,
                        program.kernel().denials());
            }
            RouteSocket routeSocket = program.kernel().route();
            if (routeSocket != null && !routeSocket.isListening()) {
                throw new KvmServerException("program " + options.program() + " waits for connections, but not on "
                        + options.nameOf(Option.ROUTE_ADDRESS) + " " + routeSocket.address() + ": set it to the"
                        + " address the program listens on", result, program.kernel().denials());
            }
            FileDescription listener = template.syscallContext().listener();
            InetSocketAddress address = listener == null ? null : localAddress(listener.hostFd());
            VmSnapshot snapshot;
            try {
                snapshot = template.freeze(kvm);
            } catch (FrozenStateException e) {
                throw new KvmServerException("program " + options.program() + " cannot be served: " + e.getMessage(),
                        result, program.kernel().denials());
            }
            long timerLeft = template.syscallContext().frozenWaitNanos();
            if (timerLeft >= 0) {
                String due = String.format(java.util.Locale.ROOT, "%.3f", timerLeft / 1e9);
                if (options.settleTime().isZero()) {
                    log.info("kvmserver: the template of {} froze waiting for connections with a timer of the"
                            + " program's due {} s later: every request VM started after that runs the timer's work"
                            + " in its request; unless it is a periodic tick, {} above that lets the template run it"
                            + " once before it freezes",
                            options.program(), due, options.nameOf(Option.SETTLE_TIME));
                } else {
                    log.info("kvmserver: the template of {} settled and froze waiting for connections with a timer"
                            + " of the program's due {} s later (a poll interval that did nothing, or a timer past {})",
                            options.program(), due, options.nameOf(Option.SETTLE_TIME));
                }
            }
            if (template.callSitesRewritten() > 0) {
                log.info("kvmserver: {} system call sites of {} enter the engine without a trap (rewritten in the"
                        + " template: nested PVM)", template.callSitesRewritten(), options.program());
            }
            // Accessible memory: address space reserved with PROT_NONE is not memory.
            long templateBytes = template.process().memory().accessibleBytes();
            ServerStats stats = new ServerStats();
            int threads = options.effectiveThreads();
            fileLimit = HostFileLimit.reserve(threads, options);
            Route route = routeSocket == null ? null : new Route(routeSocket, threads);
            for (int i = 0; i < threads; i++) {
                int number = i;
                workers.add(new RequestWorker(i, () -> GuestVm.fork(kvm, snapshot, options.maxRequestMemory(), number),
                        options, stats, timers, route));
            }
            long period = RequestWorker.timeLimitCheckPeriodNanos(options);
            workers.forEach(RequestWorker::start);
            List<RequestWorker> limited = List.copyOf(workers);
            TemplateHoles holes = new TemplateHoles(template.memory());
            timers.scheduleAtFixedRate(() -> {
                long now = System.nanoTime();
                for (RequestWorker w : limited) {
                    // A periodic task that throws is never run again: one failure must not end
                    // every later time limit.
                    try {
                        w.enforceTimeLimit(now);
                    } catch (RuntimeException | Error e) {
                        log.error("kvmserver: checking the time limit of request VM {} failed", w.id(), e);
                    }
                }
                try {
                    holes.run();
                } catch (RuntimeException | Error e) {
                    log.error("kvmserver: freeing the template's holes failed", e);
                }
            }, period, period, TimeUnit.NANOSECONDS);
            log.info("kvmserver: {} is serving {} with {} request VM{} ({})", options.program(),
                    route != null ? route.address() + " privately, on unix socket " + route.socket()
                            : address == null ? "its listening socket" : "on " + address,
                    threads, threads == 1 ? "" : "s",
                    options.ephemeral() ? "ephemeral: reset after every connection" : "not ephemeral");
            return new KvmServer(options, kvm, template, snapshot, List.copyOf(workers), stats, timers, address,
                    templateBytes, route, fileLimit);
        } catch (RuntimeException | Error e) { // an Error too: workers may already run (no thread for the next)
            timers.shutdownNow();
            boolean stopped = stopAndClose(workers);
            // Whatever the program printed before it ended is what explains the failure: all of it.
            program.kernel().console().endOfOutput();
            program.kernel().console().flush(-1, TimeUnit.SECONDS);
            if (!stopped) {
                throw e; // a worker's thread still runs its VM: the VMs and KVM stay to process exit
            }
            if (fileLimit != null) {
                fileLimit.close();
            }
            if (template != null) {
                template.close();
            }
            kvm.close();
            program.close();
            throw e;
        }
    }

    /**
     * A start that failed once workers may run: each is stopped and its thread awaited before its
     * VM is released (a VM closed under a running vCPU thread would crash the JVM). False if a
     * thread did not stop: then nothing is released.
     */
    private static boolean stopAndClose(List<RequestWorker> workers) {
        workers.forEach(RequestWorker::stop);
        workers.forEach(RequestWorker::cut);
        try {
            for (RequestWorker w : workers) {
                w.join(5_000);
            }
        } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
        }
        if (workers.stream().anyMatch(RequestWorker::alive)) {
            log.error("kvmserver: a request VM did not stop after a failed start; leaving its resources to process exit");
            return false;
        }
        workers.forEach(RequestWorker::close);
        return true;
    }

    /**
     * Runs the template until it waits for connections. With warmup, a client sends the warmup
     * requests once the program listens, and the template is frozen at the first wait after the
     * last of them.
     */
    private static RunResult bootTemplate(GuestVm template, KvmServerOptions options,
            ScheduledExecutorService timers, WarmupClients clients) {
        BootAbort.watch(template);
        try {
            return bootTemplateUntilItWaits(template, options, timers, clients);
        } finally {
            BootAbort.forget(template);
        }
    }

    private static RunResult bootTemplateUntilItWaits(GuestVm template, KvmServerOptions options,
            ScheduledExecutorService timers, WarmupClients clients) {
        boolean warmup = options.warmup() > 0;
        // Settling comes after the start, not out of its time: the program has max-boot-time to
        // reach its first wait for connections, and settle-time more.
        long bootNanos = options.maxBootTime().toNanos() + options.settleTime().toNanos();
        template.syscallContext().settleBeforeFreeze(options.settleTime().toNanos(), System.nanoTime() + bootNanos);
        template.syscallContext().setFreezeOnListenerWait(!warmup);
        ScheduledFuture<?> limit = timers.schedule(() -> template.interrupt(RunResult.Kind.TIMED_OUT,
                "the time ran out"), bootNanos, TimeUnit.NANOSECONDS);
        Thread client = null;
        if (warmup) {
            // While the warmup runs the template serves its connections and no one else's.
            template.syscallContext().setWarmupClients(clients);
            client = new Thread(() -> Warmup.run(template, options, clients), "kvmserver-warmup");
            client.setDaemon(true);
            client.start();
        }
        try {
            return template.run();
        } finally {
            limit.cancel(false);
            if (client != null) {
                client.interrupt();
            }
            template.syscallContext().setWarmupClients(null);
            template.waiter().reset();
        }
    }

    private static String describeBootFailure(KvmServerOptions options, RunResult result, GuestVm template,
            WarmupClients warmup) {
        String program = "program " + options.program();
        Scheduler threads = template.process().scheduler();
        int begun = warmup.begun();
        if (begun > 0) {
            // It listened and served: the warmup's requests are what it failed on.
            String during = " during warmup request " + begun + " of " + options.warmup() + " ("
                    + options.nameOf(Option.WARMUP) + ", path " + options.warmupPath() + ")";
            return switch (result.kind()) {
                case EXITED -> program + " exited with status " + result.exitStatus() + during;
                case CRASHED -> program + " crashed" + during + ": " + result.detail();
                case TIMED_OUT -> program + " did not answer its warmup within " + bootLimit(options) + ": it was"
                        + during + " (" + result.detail() + "); "
                        + (threads.liveCount() == 1 ? "its thread: " : "its threads: ") + threads.describe();
                default -> program + " stopped" + during + ": " + result.detail();
            };
        }
        return switch (result.kind()) {
            case EXITED -> program + " exited with status " + result.exitStatus()
                    + " before it waited for connections; " + (options.routeAddress().isEmpty()
                            ? "is it a server, and may it listen (" + options.nameOf(Option.ALLOW_LISTEN) + ")?"
                            : "is it a server, listening on " + options.routeAddress() + " ("
                                    + options.nameOf(Option.ROUTE_ADDRESS) + ")?");
            case CRASHED -> program + " crashed before it waited for connections: " + result.detail();
            case TIMED_OUT -> program + " did not wait for connections within " + bootLimit(options)
                    + " (" + result.detail() + "); "
                    + (threads.liveCount() == 1 ? "its thread: " : "its threads: ") + threads.describe();
            default -> program + " stopped before it waited for connections: " + result.detail();
        };
    }

    /** The boot's time limit in the user's naming: max-boot-time, and settle-time when set. */
    private static String bootLimit(KvmServerOptions options) {
        String limit = options.nameOf(Option.MAX_BOOT_TIME) + " " + options.maxBootTime().toMillis() / 1000.0 + " s";
        return options.settleTime().isZero() ? limit : limit + " and " + options.nameOf(Option.SETTLE_TIME) + " "
                + options.settleTime().toMillis() / 1000.0 + " s";
    }

    /** The address a host socket is bound to, or null for a non-IP socket. */
    static InetSocketAddress localAddress(int hostFd) {
        try (Memory sa = new Memory(128); Memory len = new Memory(4)) {
            len.setInt(0, 128);
            LibC.syscall(SyscallNumbers.GETSOCKNAME, hostFd, Pointer.nativeValue(sa), Pointer.nativeValue(len), 0, 0, 0);
            int family = sa.getShort(0) & 0xffff;
            int port = ((sa.getByte(2) & 0xff) << 8) | (sa.getByte(3) & 0xff);
            byte[] ip = family == 2 ? sa.getByteArray(4, 4) : family == 10 ? sa.getByteArray(8, 16) : null;
            return ip == null ? null : new InetSocketAddress(InetAddress.getByAddress(ip), port);
        } catch (Exception e) {
            return null;
        }
    }

    public KvmServerOptions options() {
        return options;
    }

    /**
     * Host memory the template's image holds now: its memfd's pages. It grows only while request
     * VMs' reads fill its holes, which the server frees again periodically ({@link TemplateHoles}).
     */
    public long templateHostBytes() {
        return template.memory().allocatedBytes();
    }

    public ServerStats stats() {
        return stats;
    }

    /**
     * How long after the freeze a timer of the program's was due (the timeout of the wait the
     * template froze in, another thread's timed wait, or a timer it armed), or null when none was. Each request VM started after it runs the
     * timer in its request; {@code settle-time} lets the template run it first.
     */
    public Duration timerDueAtFreeze() {
        long nanos = template.syscallContext().frozenWaitNanos();
        return nanos < 0 ? null : Duration.ofNanos(nanos);
    }

    /** The address the program listens on (null for a unix socket, and for a route address served privately). */
    public InetSocketAddress listenAddress() {
        return listenAddress;
    }

    /**
     * The private way into the request VMs when the program's listener is the route address
     * ({@code route-address}), for an application that routes requests to it; null otherwise.
     */
    public Route route() {
        return route;
    }

    /** Bytes the template's program has mapped accessible (not reservations): the image every request VM shares. */
    public long templateMappedBytes() {
        return templateResidentBytes;
    }

    public List<VmState> vms() {
        List<VmState> states = new ArrayList<>(workers.size());
        for (RequestWorker w : workers) {
            states.add(new VmState(w.id(), w.alive(), w.busy(), w.exits(), w.requestMillis(), w.limitedMillis()));
        }
        return Collections.unmodifiableList(states);
    }

    /**
     * Pages the request VMs keep writable across resets because every request rewrites them, and
     * restore at every reset instead of tracking their writes (hot pages), summed over the VMs.
     */
    public long hotPages() {
        long sum = 0;
        for (RequestWorker w : workers) {
            sum += w.hotPages();
        }
        return sum;
    }

    /**
     * Where one VM's guest memory is mapped in this process: for measuring resident memory (for
     * example the {@code Rss} and {@code Anonymous} lines of {@code /proc/self/smaps}).
     *
     * @param vm          "template" or "request-N"
     * @param hostAddress start of the mapping
     * @param bytes       length of the mapping
     * @param shared      true for the template's shared memfd mapping, false for a request VM's
     *                    private copy-on-write view of it
     */
    public record GuestMapping(String vm, long hostAddress, long bytes, boolean shared) {
    }

    /** The guest memory mappings of the template and of every request VM, template first. */
    public List<GuestMapping> guestMappings() {
        List<GuestMapping> out = new ArrayList<>(workers.size() + 1);
        out.add(new GuestMapping("template", template.memory().hostBase(), template.memory().size(), true));
        for (RequestWorker w : workers) {
            out.add(new GuestMapping("request-" + w.id(), w.memoryHostBase(), w.memorySize(), false));
        }
        return Collections.unmodifiableList(out);
    }

    /** Resident bytes of the template's guest memory: the image every request VM shares. */
    public long templateResidentBytes() {
        return ResidentMemory.of(template.memory().hostBase(), template.memory().size()).rssBytes();
    }

    /** Bytes the request VMs own: their private copy-on-write copies of template pages, summed. */
    public long requestVmPrivateBytes() {
        long sum = 0;
        for (RequestWorker w : workers) {
            sum += ResidentMemory.of(w.memoryHostBase(), w.memorySize()).anonymousBytes();
        }
        return sum;
    }

    /** Permission denials of every VM of the program, by kind. */
    public io.kvmserver.linux.Denials denials() {
        return snapshot.kernel().denials();
    }

    /** System calls of one name made by the request VMs so far (0 for an unknown name). */
    public long syscallCount(String name) {
        long[] totals = new long[SyscallNumbers.COUNT + 1];
        workers.forEach(w -> w.addSyscallCounts(totals));
        for (int nr = 0; nr < SyscallNumbers.COUNT; nr++) {
            if (totals[nr] > 0 && SyscallNumbers.name(nr).equals(name)) {
                return totals[nr];
            }
        }
        return 0;
    }

    /** All system calls made by the request VMs so far. */
    public long syscallTotal() {
        long[] totals = new long[SyscallNumbers.COUNT + 1];
        workers.forEach(w -> w.addSyscallCounts(totals));
        long sum = 0;
        for (long t : totals) {
            sum += t;
        }
        return sum;
    }

    /**
     * System calls made by the request VMs, by name, most frequent first, at most {@code limit}
     * names (the rest are summed under "other"): bounded cardinality for metrics.
     */
    public Map<String, Long> syscallCounts(int limit) {
        long[] totals = new long[SyscallNumbers.COUNT + 1];
        workers.forEach(w -> w.addSyscallCounts(totals));
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < totals.length; i++) {
            if (totals[i] > 0) {
                order.add(i);
            }
        }
        order.sort((a, b) -> Long.compare(totals[b], totals[a]));
        Map<String, Long> out = new java.util.LinkedHashMap<>();
        long other = 0;
        for (int i = 0; i < order.size(); i++) {
            int nr = order.get(i);
            if (i < limit && nr < SyscallNumbers.COUNT) {
                out.put(SyscallNumbers.name(nr), totals[nr]);
            } else {
                other += totals[nr];
            }
        }
        if (other > 0) {
            out.put("other", other);
        }
        return out;
    }

    public int threads() {
        return workers.size();
    }

    public long aliveVms() {
        return workers.stream().filter(RequestWorker::alive).count();
    }

    public long busyVms() {
        return workers.stream().filter(RequestWorker::busy).count();
    }

    public boolean isRunning() {
        return !closed && aliveVms() > 0;
    }

    /** Stops accepting, lets requests in flight finish for up to {@code grace}, then cuts them. */
    public void close(Duration grace) {
        if (closed) {
            return;
        }
        closed = true;
        workers.forEach(RequestWorker::stop);
        if (route != null) {
            route.stopAdmitting(); // routed requests in flight finish; none waits for a VM any more
        }
        long deadline = System.nanoTime() + grace.toNanos();
        try {
            for (RequestWorker w : workers) {
                long left = Math.max(1, (deadline - System.nanoTime()) / 1_000_000L);
                w.join(left);
            }
            int cut = 0;
            for (RequestWorker w : workers) {
                if (w.alive()) {
                    cut += w.busy() ? 1 : 0;
                    w.cut();
                    w.join(5_000);
                }
            }
            if (cut > 0) {
                // Their clients see their connections end: the log says why.
                log.warn("kvmserver: {} request{} of {} still ran after the shutdown's {} ms for requests in flight:"
                        + " cut", cut, cut == 1 ? "" : "s", options.program(), grace.toMillis());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (route != null) {
            route.close();
        }
        // No timer may run any more before VMs are unmapped: a late limit check would read a
        // dirty ring that is gone.
        timers.shutdownNow();
        try {
            if (!timers.awaitTermination(5, TimeUnit.SECONDS)) {
                log.error("kvmserver timers did not stop within 5 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        boolean leaked = false;
        for (RequestWorker w : workers) {
            if (w.alive()) {
                log.error("request VM {} did not stop; leaving its resources to process exit", w.id());
                leaked = true;
            } else {
                w.close();
            }
        }
        if (!leaked) {
            template.close();
            kvm.close();
            fileLimit.close(); // a VM left running keeps its promise
        }
        snapshot.kernel().close();
    }

    @Override
    public void close() {
        close(Duration.ofSeconds(10));
    }

    VmSnapshot snapshot() {
        return snapshot;
    }
}
