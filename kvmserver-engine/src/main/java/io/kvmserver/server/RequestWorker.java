package io.kvmserver.server;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.config.Option;
import io.kvmserver.linux.ConnectionTracker;
import io.kvmserver.linux.HostWaiter;
import io.kvmserver.vm.GuestVm;
import io.kvmserver.vm.RunResult;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One request VM and the platform thread that drives it: run the program (which waits for and
 * serves a connection), then, in ephemeral mode or after any failure, reset it to the template.
 *
 * <p>The worker is also the VM's {@link ConnectionTracker}: it starts the request's time limit
 * when the program accepts a connection, and in ephemeral mode ends the run when the program
 * closes that connection, or when its client has hung up while the program waits with nothing
 * left to read on it (a TCP health probe that connects and closes).
 *
 * <p>The worker outlives its own failures: whatever its thread meets (an engine exception, an
 * {@link OutOfMemoryError}, a reset that cannot complete), it throws the VM away, forks a new one
 * from the template and serves on; it never dies silently and leaves the server a VM short.
 */
final class RequestWorker implements Runnable, ConnectionTracker {

    private static final Logger log = LoggerFactory.getLogger(RequestWorker.class);
    private static final long MEMORY_CHECK_MILLIS = 50;
    private static final long REPLACE_RETRY_MILLIS = 100;
    private static final long REPLACE_RETRY_MAX_MILLIS = 5_000;

    /**
     * Runs on the worker's thread before every run of its VM. For tests of the engine's own
     * failures, which no guest can cause: they make it throw (an {@link OutOfMemoryError}, say).
     */
    static volatile java.util.function.IntConsumer beforeRun = id -> { };

    private final int id;
    private final Supplier<GuestVm> vmFactory;
    private final KvmServerOptions options;
    private final ServerStats stats;
    private final ScheduledExecutorService timers;
    private final Thread thread;

    private volatile GuestVm vm;
    private volatile boolean stopping;
    private volatile boolean busy;
    private volatile long requestStart;
    /** The VM's epoch for the request in progress: what the time limit aims at. */
    private volatile long requestEpoch;
    private int openConnections;
    private boolean resetting;
    /** The request being reset failed (a crash, a time limit...): what it left open is reset, never closed gently. */
    private boolean resettingAFailure;
    private boolean taken;
    private boolean finished;
    private int watchedFd = -1;
    private boolean watchSuppressed;
    /** Whether the program read a byte of the request's connection: its client's hang-up may be a half-close. */
    private boolean clientSpoke;
    private ScheduledFuture<?> memoryCheck;
    /** The server's route, or null: connections accepted from it report how their request went. */
    private final Route route;
    private final List<Route.Connection> routed = new ArrayList<>(1);
    private long exitsAtAccept;
    private long lastRequestNanos;
    private long lastRequestExits;

    RequestWorker(int id, Supplier<GuestVm> vmFactory, KvmServerOptions options, ServerStats stats,
            ScheduledExecutorService timers) {
        this(id, vmFactory, options, stats, timers, null);
    }

    RequestWorker(int id, Supplier<GuestVm> vmFactory, KvmServerOptions options, ServerStats stats,
            ScheduledExecutorService timers, Route route) {
        this.route = route;
        this.id = id;
        this.vmFactory = vmFactory;
        this.options = options;
        this.stats = stats;
        this.timers = timers;
        this.vm = vmFactory.get();
        this.thread = new Thread(this, "kvmserver-request-vm-" + id);
        thread.setDaemon(true);
        vm.waiter().setConnections(this);
    }

    void start() {
        thread.start();
    }

    int id() {
        return id;
    }

    /** Whether the VM is serving a connection right now. */
    boolean busy() {
        return busy;
    }

    /** When the current request started ({@link System#nanoTime()}), meaningful while {@link #busy()}. */
    long requestStartNanos() {
        return requestStart;
    }

    boolean alive() {
        return thread.isAlive();
    }

    /** How long the current request has been running, 0 when idle. */
    long requestMillis() {
        return busy ? (System.nanoTime() - requestStart) / 1_000_000 : 0;
    }

    /**
     * How long the VM has run on the clock {@code max-request-time} limits (see
     * {@link #enforceTimeLimit}), 0 while it waits for its clients: in ephemeral mode a request's
     * whole life; otherwise the time since the VM last waited for its clients with nothing else to
     * do, so that a persistent connection a client keeps open and silent counts nothing.
     */
    long limitedMillis() {
        long now = System.nanoTime();
        if (options.ephemeral()) {
            return busy ? (now - requestStart) / 1_000_000 : 0;
        }
        long since = serverClockStart(vm, busy, requestStart);
        return since < 0 ? 0 : Math.max(0, now - since) / 1_000_000;
    }

    long dirtyPages() {
        return vm.dirtyPages();
    }

    long exits() {
        return vm.exits();
    }

    int hotPages() {
        return vm.hotPages();
    }

    long memoryHostBase() {
        return vm.memory().hostBase();
    }

    long memorySize() {
        return vm.memory().size();
    }

    void addSyscallCounts(long[] totals) {
        vm.addSyscallCounts(totals);
    }

    // ---- ConnectionTracker, called on this worker's thread ----

    @Override
    public boolean mayAccept() {
        return !stopping && (!options.ephemeral() || !taken);
    }

    @Override
    public void acceptedFrom(byte[] peer) {
        Route.Connection connection = route == null ? null : route.accepted(id, peer);
        if (connection != null) {
            routed.add(connection);
        }
        accepted();
    }

    @Override
    public void accepted() {
        taken = true;
        if (openConnections++ == 0) {
            GuestVm current = vm;
            exitsAtAccept = current.exits();
            requestStart = System.nanoTime(); // before busy: readers of busy then see this start
            requestEpoch = current.beginRequest();
            busy = true;
            if (!current.dirtyRing()) {
                // Without the dirty ring the guest's writes are only seen by harvesting the bitmap.
                long epoch = requestEpoch;
                memoryCheck = timers.scheduleWithFixedDelay(() -> checkMemory(current, epoch), MEMORY_CHECK_MILLIS,
                        MEMORY_CHECK_MILLIS, TimeUnit.MILLISECONDS);
            }
        }
    }

    /**
     * Stops the request in progress if it has run past {@code max-request-time}: in ephemeral
     * mode the connection's whole life, otherwise the time since the VM last waited for its
     * clients (see {@link HostWaiter#waitingForClients}). Called by the
     * server's timer thread every few milliseconds (see {@link #timeLimitCheckPeriodNanos}), so
     * that a request costs the timer nothing: no task per request, no wake-up per request.
     */
    void enforceTimeLimit(long now) {
        GuestVm current = vm;
        if (!options.ephemeral()) {
            enforceServerTimeLimit(current, now);
            return;
        }
        // The epoch before the start: a start read after it belongs to that request or a later one.
        long epoch = requestEpoch;
        long start = requestStart;
        if (!busy) {
            enforceIdleTimeLimit(current, now);
            return;
        }
        // Writes the program queued in the guest and then computed on without a call: sent now.
        current.performQueuedCalls();
        if (now - start >= options.maxRequestTime().toNanos()) {
            timedOut(current, epoch);
        }
    }

    /**
     * Without ephemeral the VM runs like a server process: connections that overlap (a pool of
     * persistent ones) never let the request end, so what is limited is the time since the VM
     * last waited for its clients with nothing else to do, whether or not a connection is open:
     * a program that closes its last connection and then spins (or leaves a thread spinning)
     * without going back to that wait is stopped too, and its VM reset.
     */
    private void enforceServerTimeLimit(GuestVm current, long now) {
        boolean inRequest = busy;
        // The epoch before what the waiter says: a reset in between makes it stale, and the
        // interrupt then leaves the VM alone.
        long epoch = inRequest ? requestEpoch : current.epoch();
        long start = requestStart;
        if (inRequest) {
            // Writes the program queued in the guest and then computed on without a call: sent now.
            current.performQueuedCalls();
        }
        long since = serverClockStart(current, inRequest, start);
        if (since >= 0 && now - since >= options.maxRequestTime().toNanos()) {
            timedOut(current, epoch);
        }
    }

    /**
     * Where the server clock of {@link #enforceServerTimeLimit} starts, without ephemeral: -1
     * while the VM waits for its clients; otherwise when it last left that wait (or was made or
     * reset: it resumes at the frozen wait), or when {@code requestStart} began, if later (a
     * request whose connection was taken in the guest came without a host wait).
     */
    private long serverClockStart(GuestVm current, boolean inRequest, long requestStart) {
        HostWaiter waiter = current.waiter();
        if (waiter.waitingForClients()) {
            return -1;
        }
        long waitEnded = waiter.clientWaitEnded();
        boolean requestOfThisVm = inRequest || (requestStart != 0 && requestEpoch == current.epoch());
        return requestOfThisVm ? Math.max(waitEnded, requestStart) : waitEnded;
    }

    /**
     * An ephemeral VM between requests runs only on its way back to its wait for clients (after a
     * reset it resumes at the frozen wait, which may time out: a poll with a timeout, a timer):
     * the time since it last left that wait without a connection is limited as a request is, or a
     * program that spins there (or sleeps) would hold a host core and the VM for good, serving
     * nobody. Found by the review of 2026-12-04 late; since the review of 2026-12-05 the time runs
     * from the reset too, for a program whose frozen wait fails at once (an {@code accept} at a full fd
     * table) and which spins on it without ever waiting on the host.
     */
    private void enforceIdleTimeLimit(GuestVm current, long now) {
        // The epoch before what the waiter says: a connection taken in between begins a new one,
        // and the interrupt then leaves the VM alone.
        long epoch = current.epoch();
        HostWaiter waiter = current.waiter();
        long waitEnded = waiter.clientWaitEnded();
        if (waiter.waitingForClients() || busy) {
            return;
        }
        if (now - waitEnded >= options.maxRequestTime().toNanos()) {
            current.interrupt(epoch, RunResult.Kind.TIMED_OUT, "the program ran past "
                    + options.nameOf(Option.MAX_REQUEST_TIME) + " " + options.maxRequestTime().toMillis() / 1000.0
                    + " s between requests, without going back to its wait for connections");
        }
    }

    private void timedOut(GuestVm current, long epoch) {
        current.interrupt(epoch, RunResult.Kind.TIMED_OUT, "request ran past "
                + options.nameOf(Option.MAX_REQUEST_TIME) + " " + options.maxRequestTime().toMillis() / 1000.0 + " s");
    }

    /** How often the time limits are checked: a tenth of the limit, between 1 and 100 ms. */
    static long timeLimitCheckPeriodNanos(KvmServerOptions options) {
        return Math.max(1_000_000L, Math.min(100_000_000L, options.maxRequestTime().toNanos() / 10));
    }

    @Override
    public void connectionOpened(int hostFd) {
        watchedFd = hostFd;
        watchSuppressed = false;
    }

    @Override
    public void connectionUsed() {
        watchSuppressed = false;
    }

    @Override
    public int hangupWatchFd() {
        return options.ephemeral() && openConnections > 0 && !watchSuppressed ? watchedFd : -1;
    }

    @Override
    public void clientSpoke() {
        clientSpoke = true;
    }

    @Override
    public boolean clientHungUp() {
        if (clientSpoke) {
            watchSuppressed = true; // shut down its side after its request: it waits for the answer
            return false;
        }
        finished = true;
        return true;
    }

    @Override
    public void clientHungUpWithData() {
        watchSuppressed = true;
    }

    @Override
    public boolean closesGently() {
        // The reset also performs closes the program queued in the guest before its request
        // ended well: those are its own. What a failed request left open is the engine's to close.
        return !(resetting && resettingAFailure);
    }

    @Override
    public void closed() {
        if (resetting) {
            return; // the reset closes what the request left open: not a request of its own
        }
        if (openConnections > 0 && --openConnections == 0) {
            watchedFd = -1;
            if (options.ephemeral()) {
                finished = true;
            } else {
                endRequest(ServerStats.Outcome.OK, null);
                reportRouted(ServerStats.Outcome.OK, null, 0);
                if (stopping) {
                    // stop() saw the VM busy and left it to finish: it just has.
                    vm.interrupt(RunResult.Kind.STOPPED, "server shutting down");
                }
            }
        }
    }

    @Override
    public boolean finished() {
        return finished;
    }

    private void checkMemory(GuestVm current, long epoch) {
        if (current.pollMemoryLimit()) {
            current.interrupt(epoch, RunResult.Kind.MEMORY_LIMIT, "request dirtied more than "
                    + options.nameOf(Option.MAX_REQUEST_MEMORY) + " "
                    + (options.maxRequestMemory() >> 20) + " MiB");
        }
    }

    private void cancelTimers() {
        if (memoryCheck != null) {
            memoryCheck.cancel(false);
            memoryCheck = null;
        }
    }

    private void endRequest(ServerStats.Outcome outcome, String failure) {
        cancelTimers();
        lastRequestNanos = busy ? System.nanoTime() - requestStart : 0;
        lastRequestExits = vm.exits() - exitsAtAccept;
        if (busy) {
            stats.request(outcome, lastRequestNanos, failure);
        } else if (failure != null) {
            stats.request(outcome, 0, failure);
        }
        busy = false;
    }

    /** Tells the routed connections of the request that just ended how it went; the VM is free again. */
    private void reportRouted(ServerStats.Outcome outcome, String failure, long resetPages) {
        if (routed.isEmpty()) {
            return;
        }
        RequestReport report = new RequestReport(id, outcome, failure, lastRequestNanos, lastRequestExits, resetPages);
        for (Route.Connection connection : routed) {
            route.finished(connection, report);
        }
        routed.clear();
    }

    // ---- the loop ----

    @Override
    public void run() {
        while (!stopping) {
            try {
                serveOnce();
            } catch (Throwable t) { // NOPMD: whatever happens, this VM's slot must keep serving
                onEngineFailure(t);
            }
        }
    }

    /** Runs the VM until its request ends, accounts for it, and resets the VM. */
    private void serveOnce() {
        beforeRun.accept(id);
        long exitsBefore = vm.exits();
        long runBefore = vm.runNanos();
        RunResult result = vm.run();
        if (result.kind() == RunResult.Kind.STOPPED && stopping) {
            return;
        }
        ServerStats.Outcome outcome = switch (result.kind()) {
            case REQUEST_DONE -> ServerStats.Outcome.OK;
            case TIMED_OUT -> ServerStats.Outcome.TIMEOUT;
            case MEMORY_LIMIT -> ServerStats.Outcome.MEMORY_LIMIT;
            case EXITED -> ServerStats.Outcome.EXIT;
            default -> ServerStats.Outcome.CRASH;
        };
        String detail = result.kind() == RunResult.Kind.MEMORY_LIMIT && !result.detail().contains("more than")
                ? result.detail() + ", more than " + options.nameOf(Option.MAX_REQUEST_MEMORY) + " "
                        + (options.maxRequestMemory() >> 20) + " MiB"
                : result.detail();
        if (outcome != ServerStats.Outcome.OK) {
            // The outcome as meters and observations tag it: memory-limit, not MEMORY_LIMIT's memory_limit.
            log.warn("request VM {}: {} ({}); resetting the VM", id, outcome.name().toLowerCase(java.util.Locale.ROOT)
                    .replace('_', '-'), detail);
        }
        String failure = outcome == ServerStats.Outcome.OK ? null : detail;
        // Exits first: whoever sees the request counted sees its exits too.
        stats.ran(vm.exits() - exitsBefore, vm.runNanos() - runBefore);
        vm.endOfOutput();
        endRequest(outcome, failure);
        if (stopping) {
            reportRouted(outcome, failure, 0);
            return;
        }
        resettingAFailure = outcome != ServerStats.Outcome.OK;
        long pages = reset();
        reportRouted(outcome, failure, pages);
    }

    /** Resets the VM to the template; returns the pages restored. */
    private long reset() {
        resetting = true;
        try {
            GuestVm.ResetStats r = vm.reset(options.ephemeralKeepWorkingMemory(), options.limitRequestMemory());
            stats.reset(r.pages(), r.nanos());
            return r.pages();
        } finally {
            resetting = false;
            clearRequestState();
        }
    }

    private void clearRequestState() {
        taken = false;
        finished = false;
        openConnections = 0;
        watchedFd = -1;
        watchSuppressed = false;
        clientSpoke = false;
    }

    /**
     * The engine failed on this worker's thread (not the guest: a guest's failure is a result).
     * The VM is in an unknown state: it is closed and a new one is forked from the template.
     */
    private void onEngineFailure(Throwable failure) {
        log.error("request VM {}: the engine failed ({}); replacing the VM", id, failure.toString(), failure);
        try {
            endRequest(ServerStats.Outcome.CRASH, "engine failure: " + failure);
            stats.resetFailed(failure.toString());
        } catch (Throwable ignored) { // NOPMD: accounting must not stop the recovery
            busy = false;
        }
        resettingAFailure = true;
        replaceVm();
        reportRouted(ServerStats.Outcome.CRASH, "engine failure: " + failure, 0);
    }

    private void replaceVm() {
        GuestVm old = vm;
        resetting = true;
        try {
            old.close();
        } catch (Throwable t) { // NOPMD: a VM that cannot even be closed is left to the process exit
            log.error("request VM {}: closing the failed VM failed too", id, t);
        } finally {
            resetting = false;
            clearRequestState();
        }
        long backoff = REPLACE_RETRY_MILLIS;
        while (!stopping) {
            try {
                GuestVm fresh = vmFactory.get();
                fresh.waiter().setConnections(this);
                vm = fresh;
                log.info("request VM {} replaced; serving again", id);
                return;
            } catch (Throwable t) { // NOPMD: keep trying, the slot must not stay empty
                log.error("request VM {}: cannot fork a new VM from the template ({}); retrying in {} ms", id,
                        t.toString(), backoff);
                try {
                    Thread.sleep(backoff);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                backoff = Math.min(backoff * 2, REPLACE_RETRY_MAX_MILLIS);
            }
        }
    }

    /** Stops the worker: at once if idle, after its request (or the grace period) if busy. */
    void stop() {
        stopping = true;
        if (!busy) {
            vm.interrupt(RunResult.Kind.STOPPED, "server shutting down");
        }
    }

    /** Cuts a request still running after the grace period. */
    void cut() {
        vm.interrupt(RunResult.Kind.STOPPED, "server shut down during the request");
    }

    void join(long millis) throws InterruptedException {
        thread.join(millis);
    }

    /** Releases the VM; only once the worker's thread has stopped. */
    void close() {
        vm.close();
    }
}
