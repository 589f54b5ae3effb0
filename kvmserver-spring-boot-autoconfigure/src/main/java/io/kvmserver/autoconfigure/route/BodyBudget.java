package io.kvmserver.autoconfigure.route;

import java.util.concurrent.atomic.AtomicLong;

/**
 * What the request bodies being read whole for one server's routes may hold together, in memory
 * and in their files ({@code route.max-buffered-size}): without it, as many clients as the web
 * server has threads could each keep {@code route.max-body-size} in the host's memory (the files
 * live in {@code /dev/shm} where it exists) for as long as they send a byte now and then.
 */
final class BodyBudget {

    private final long limit;

    private final AtomicLong held = new AtomicLong();

    BodyBudget(long limit) {
        this.limit = limit;
    }

    /** Takes {@code bytes} of the budget; false, and nothing taken, when that would pass it. */
    boolean take(long bytes) {
        long now;
        do {
            now = this.held.get();
            if (bytes > this.limit - now) {
                return false;
            }
        }
        while (!this.held.compareAndSet(now, now + bytes));
        return true;
    }

    /** Gives back {@code bytes} taken before. */
    void give(long bytes) {
        this.held.addAndGet(-bytes);
    }

    /** The bytes held now. */
    long held() {
        return this.held.get();
    }

    long limit() {
        return this.limit;
    }

}
