package io.kvmserver.linux;

import com.sun.jna.LastErrorException;
import io.kvmserver.host.LibC;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Connections that reached the program's listener while its template booted and were not the
 * warmup's: the template accepted them (it cannot tell them apart before it does) and must not
 * serve them, so they wait here, unanswered, for the request VMs, whose view of the listener
 * hands them out before any new one. Kept by the template's listening socket and shared by every
 * request VM's view of it; at most {@link #MAX} (a flood during the warmup would otherwise hold
 * host descriptors without end): past that they are closed unanswered.
 */
final class EarlyConnections {

    /** At most this many wait; Linux's default listen backlog is of this order. */
    static final int MAX = 64;

    /** One connection: its host fd (non-blocking, close-on-exec) and its peer's address as accept gave it. */
    record Connection(int fd, byte[] peer) {
    }

    private final ConcurrentLinkedQueue<Connection> waiting = new ConcurrentLinkedQueue<>();
    private final AtomicInteger count = new AtomicInteger();

    /** Keeps {@code fd} for a request VM; false (and nothing kept) when {@link #MAX} already wait. */
    boolean hold(int fd, byte[] peer) {
        if (count.incrementAndGet() > MAX) {
            count.decrementAndGet();
            return false;
        }
        waiting.add(new Connection(fd, peer));
        return true;
    }

    /** The longest-waiting connection, now the caller's, or null. */
    Connection take() {
        Connection c = waiting.poll();
        if (c != null) {
            count.decrementAndGet();
        }
        return c;
    }

    boolean any() {
        return !waiting.isEmpty();
    }

    /** Closes what no request VM took (the server is closing). */
    void closeAll() {
        for (Connection c = take(); c != null; c = take()) {
            try {
                LibC.close(c.fd());
            } catch (LastErrorException ignored) {
                // close(2) releases the fd even when it reports an error
            }
        }
    }
}
