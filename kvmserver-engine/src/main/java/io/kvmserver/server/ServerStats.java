package io.kvmserver.server;

import java.util.concurrent.atomic.LongAdder;

/**
 * Counters of a running server, shared by its request VMs: what the Actuator health indicator
 * and the Micrometer binder report. Reads are cheap and lock-free.
 */
public final class ServerStats {

    /** How one request ended. */
    public enum Outcome {
        /** The program answered and closed the connection. */
        OK,
        /** The request ran past {@code max-request-time}. */
        TIMEOUT,
        /** The program faulted or killed itself. */
        CRASH,
        /** The program exited. */
        EXIT,
        /** The request dirtied more than {@code max-request-memory}. */
        MEMORY_LIMIT
    }

    private final LongAdder[] outcomes = new LongAdder[Outcome.values().length];
    private final LongAdder[] outcomeNanos = new LongAdder[Outcome.values().length];
    private final LongAdder resets = new LongAdder();
    private final LongAdder resetNanos = new LongAdder();
    private final LongAdder resetPages = new LongAdder();
    private final LongAdder exits = new LongAdder();
    private final LongAdder runNanos = new LongAdder();
    private final LongAdder failedResets = new LongAdder();
    private volatile String lastFailure;

    public ServerStats() {
        for (int i = 0; i < outcomes.length; i++) {
            outcomes[i] = new LongAdder();
            outcomeNanos[i] = new LongAdder();
        }
    }

    void request(Outcome outcome, long nanos, String failure) {
        outcomes[outcome.ordinal()].increment();
        outcomeNanos[outcome.ordinal()].add(nanos);
        if (failure != null) {
            lastFailure = outcome + ": " + failure;
        }
    }

    void ran(long vmExits, long vmRunNanos) {
        exits.add(vmExits);
        runNanos.add(vmRunNanos);
    }

    void reset(long pages, long nanos) {
        resets.increment();
        resetPages.add(pages);
        resetNanos.add(nanos);
    }

    void resetFailed(String why) {
        failedResets.increment();
        lastFailure = "reset failed: " + why;
    }

    public long requests(Outcome outcome) {
        return outcomes[outcome.ordinal()].sum();
    }

    public long requests() {
        long n = 0;
        for (LongAdder a : outcomes) {
            n += a.sum();
        }
        return n;
    }

    /** Requests that did not end well: the other outcomes summed (never negative while requests are counted). */
    public long failures() {
        long n = 0;
        for (int i = 0; i < outcomes.length; i++) {
            if (i != Outcome.OK.ordinal()) {
                n += outcomes[i].sum();
            }
        }
        return n;
    }

    public long requestNanos() {
        long n = 0;
        for (LongAdder a : outcomeNanos) {
            n += a.sum();
        }
        return n;
    }

    /** Nanoseconds spent in requests that ended with {@code outcome}: a timer per outcome. */
    public long requestNanos(Outcome outcome) {
        return outcomeNanos[outcome.ordinal()].sum();
    }

    public long resets() {
        return resets.sum();
    }

    public long resetNanos() {
        return resetNanos.sum();
    }

    public long resetPages() {
        return resetPages.sum();
    }

    public long vmExits() {
        return exits.sum();
    }

    /**
     * Nanoseconds the request VMs spent in {@code KVM_RUN} (the programs running, and the exits
     * KVM handles without the engine); the rest of {@link #requestNanos()} is the engine's work
     * and the waits for clients.
     */
    public long vmRunNanos() {
        return runNanos.sum();
    }

    public long failedResets() {
        return failedResets.sum();
    }

    /** A one-line description of the most recent failure, or null. */
    public String lastFailure() {
        return lastFailure;
    }
}
