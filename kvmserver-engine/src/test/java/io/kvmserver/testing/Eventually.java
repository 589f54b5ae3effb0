package io.kvmserver.testing;

import java.util.function.LongSupplier;

/**
 * Waits for a counter the server updates after a response has left (a reset is tail work, not
 * request latency), so that a test does not race it. Bounded, and not a timing assertion: the
 * limit only keeps a broken server from hanging the build.
 */
public final class Eventually {

    private Eventually() {
    }

    /** Returns the counter once it reaches {@code expected}, or its last value after 10 s. */
    public static long reaches(LongSupplier counter, long expected) {
        long deadline = System.nanoTime() + 10_000_000_000L;
        long value;
        while ((value = counter.getAsLong()) < expected && System.nanoTime() < deadline) {
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return value;
    }
}
