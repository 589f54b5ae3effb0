package io.kvmserver.server;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.config.Option;
import io.kvmserver.linux.ConnectionTracker;
import io.kvmserver.vm.GuestVm;
import io.kvmserver.vm.RunResult;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One request VM and the platform thread that drives it: run the program (which waits for and
 * serves a connection), then, in ephemeral mode or after any failure, reset it to the template.
 *
 * <p>The worker is also the VM's {@link ConnectionTracker}: it starts the request's time limit
 * when the program accepts a connection, and in ephemeral mode ends the run when the program
 * closes that connection.
 */
final class RequestWorker implements Runnable, ConnectionTracker {

    private static final Logger log = LoggerFactory.getLogger(RequestWorker.class);
    private static final long MEMORY_CHECK_MILLIS = 50;

    private final int id;
    private final GuestVm vm;
    private final KvmServerOptions options;
    private final ServerStats stats;
    private final ScheduledExecutorService timers;
    private final Thread thread;

    private volatile boolean stopping;
    private volatile boolean busy;
    private volatile long requestStart;
    private int openConnections;
    private boolean resetting;
    private boolean taken;
    private boolean finished;
    private ScheduledFuture<?> deadline;
    private ScheduledFuture<?> memoryCheck;

    RequestWorker(int id, GuestVm vm, KvmServerOptions options, ServerStats stats, ScheduledExecutorService timers) {
        this.id = id;
        this.vm = vm;
        this.options = options;
        this.stats = stats;
        this.timers = timers;
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

    boolean alive() {
        return thread.isAlive();
    }

    /** How long the current request has been running, 0 when idle. */
    long requestMillis() {
        return busy ? (System.nanoTime() - requestStart) / 1_000_000 : 0;
    }

    long dirtyPages() {
        return vm.dirtyPages();
    }

    long exits() {
        return vm.exits();
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
    public void accepted() {
        taken = true;
        if (openConnections++ == 0) {
            requestStart = System.nanoTime(); // before busy: readers of busy then see this start
            busy = true;
            deadline = timers.schedule(() -> vm.interrupt(RunResult.Kind.TIMED_OUT,
                    "request ran past " + options.nameOf(Option.MAX_REQUEST_TIME) + " "
                    + options.maxRequestTime().toMillis() / 1000.0 + " s"),
                    options.maxRequestTime().toNanos(), TimeUnit.NANOSECONDS);
            memoryCheck = timers.scheduleWithFixedDelay(this::checkMemory, MEMORY_CHECK_MILLIS, MEMORY_CHECK_MILLIS,
                    TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public void closed() {
        if (resetting) {
            return; // the reset closes what the request left open: not a request of its own
        }
        if (openConnections > 0 && --openConnections == 0) {
            if (options.ephemeral()) {
                finished = true;
            } else {
                endRequest(ServerStats.Outcome.OK, null);
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

    private void checkMemory() {
        long bytes = vm.dirtyPages() * 4096L;
        if (bytes > options.maxRequestMemory()) {
            vm.interrupt(RunResult.Kind.MEMORY_LIMIT, "request dirtied " + (bytes >> 20)
                    + " MiB, more than " + options.nameOf(Option.MAX_REQUEST_MEMORY) + " "
                    + (options.maxRequestMemory() >> 20) + " MiB");
        }
    }

    private void cancelTimers() {
        if (deadline != null) {
            deadline.cancel(false);
            deadline = null;
        }
        if (memoryCheck != null) {
            memoryCheck.cancel(false);
            memoryCheck = null;
        }
    }

    private void endRequest(ServerStats.Outcome outcome, String failure) {
        cancelTimers();
        if (busy) {
            stats.request(outcome, System.nanoTime() - requestStart, failure);
        } else if (failure != null) {
            stats.request(outcome, 0, failure);
        }
        busy = false;
    }

    // ---- the loop ----

    @Override
    public void run() {
        while (!stopping) {
            long exitsBefore = vm.exits();
            RunResult result;
            try {
                result = vm.run();
            } catch (RuntimeException e) {
                log.error("request VM {} failed; resetting it", id, e);
                result = RunResult.crashed(6, "engine error: " + e);
            }
            if (result.kind() == RunResult.Kind.STOPPED && stopping) {
                break;
            }
            ServerStats.Outcome outcome = switch (result.kind()) {
                case REQUEST_DONE -> ServerStats.Outcome.OK;
                case TIMED_OUT -> ServerStats.Outcome.TIMEOUT;
                case MEMORY_LIMIT -> ServerStats.Outcome.MEMORY_LIMIT;
                case EXITED -> ServerStats.Outcome.EXIT;
                default -> ServerStats.Outcome.CRASH;
            };
            if (outcome != ServerStats.Outcome.OK) {
                log.warn("request VM {}: {} ({}); resetting the VM", id, outcome.name().toLowerCase(), result.detail());
            }
            endRequest(outcome, outcome == ServerStats.Outcome.OK ? null : result.detail());
            stats.exits(vm.exits() - exitsBefore);
            if (stopping) {
                break;
            }
            reset();
        }
    }

    private void reset() {
        resetting = true;
        try {
            GuestVm.ResetStats r = vm.reset(options.ephemeralKeepWorkingMemory(), options.limitRequestMemory());
            stats.reset(r.pages(), r.nanos());
        } catch (RuntimeException e) {
            log.error("request VM {} could not be reset; it stops serving", id, e);
            stats.resetFailed(e.toString());
            stopping = true;
        } finally {
            resetting = false;
            taken = false;
            finished = false;
            openConnections = 0;
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

    void close() {
        vm.close();
    }
}
