package io.kvmserver.linux;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;
import io.kvmserver.host.SyscallNumbers;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Closes a client's connection gently when the program closed it with part of the request still
 * unread: the answer goes out with a FIN ({@code shutdown(SHUT_WR)}), and whatever the client
 * still sends is read and thrown away until it ends, so that the client reads the answer whole.
 * Closed at once, Linux would answer the unread bytes with a reset, and a client still writing
 * its request (an upload the program answered without reading: "413", "401", a redirect) loses
 * the answer with it; a proxy in front of the program (the Spring route) fails the exchange.
 * HTTP servers linger for this reason (RFC 9112, section 9.6).
 *
 * <p>Nothing of a VM takes part: the connection is the host's alone once the program closed its
 * last fd, so the request ends and its VM is reset as before, and the next client never waits.
 * What lingering costs is the host's and bounded: one daemon thread for the JVM, one 64 KiB
 * buffer, at most {@link #MAX_LINGERING} connections at a time (past that a close is Linux's own,
 * a reset), each for {@link #QUIET_MILLIS} without a byte or {@link #TOTAL_MILLIS} in all.
 */
public final class LingeringClose {

    /** Connections lingering at once, for the whole JVM. */
    static final int MAX_LINGERING = 256;

    /** How long a client may stay silent before its lingering connection is closed. */
    static final long QUIET_MILLIS = 1_000;

    /** How long a connection lingers at most, however much its client sends. */
    static final long TOTAL_MILLIS = 5_000;

    private static final int SHUT_WR = 1;
    private static final long FIONREAD = 0x541b;
    private static final int EPOLL_CLOEXEC = 02000000;
    private static final int EPOLL_CTL_ADD = 1;
    private static final int EPOLL_CTL_DEL = 2;
    private static final int EPOLLIN = 0x001;
    private static final int EPOLLRDHUP = 0x2000;
    /** {@code struct epoll_event} is packed on x86-64: a 32-bit mask, then the 64-bit data. */
    private static final int EVENT_SIZE = 12;
    private static final int EVENTS = 64;
    private static final int DISCARD = 64 * 1024;
    private static final int EAGAIN = 11;
    private static final int EINTR = 4;

    /** Reads at most this much of one client per wake-up: a client that never stops sending shares the thread. */
    private static final int DRAIN_PER_WAKE = 16 * DISCARD;

    private static final LingeringClose INSTANCE = new LingeringClose();

    /** Each closing thread's own room for an ioctl's answer or an epoll event: no allocation per close. */
    private static final ThreadLocal<Memory> SCRATCH = ThreadLocal.withInitial(() -> new Memory(16));

    /** Connections handed over and not yet taken in by the lingering thread. */
    private final ConcurrentLinkedQueue<int[]> handedOver = new ConcurrentLinkedQueue<>();

    /** Connections lingering or handed over: the bound {@link #MAX_LINGERING} counts them. */
    private final AtomicInteger count = new AtomicInteger();

    private final AtomicInteger closedTotal = new AtomicInteger();

    private volatile int epollFd = -1;

    private LingeringClose() {
    }

    /**
     * Closes {@code fd}, an accepted stream connection the program has closed, lingering if its
     * client's request was not all read: the fd is the lingering thread's from then on (or
     * closed at once, when it need not linger or too many do).
     */
    static void close(int fd) {
        if (!INSTANCE.linger(fd)) {
            closeQuietly(fd);
        }
    }

    /** Connections lingering now (for tests and diagnostics). */
    public static int lingering() {
        return INSTANCE.count.get();
    }

    /** Lingering connections closed since the JVM started (for tests and diagnostics). */
    public static int closed() {
        return INSTANCE.closedTotal.get();
    }

    private boolean linger(int fd) {
        // Only with bytes unread: lingering every connection (a route's, whose client ends it at
        // once) cost a routed request 58 µs at p50 and doubled its p90 on this host, pinned.
        if (unread(fd) <= 0) {
            return false;
        }
        if (count.incrementAndGet() > MAX_LINGERING) {
            count.decrementAndGet();
            return false;
        }
        try {
            LibC.syscall(SyscallNumbers.SHUTDOWN, fd, SHUT_WR, 0, 0, 0, 0);
            int epoll = started();
            Memory event = SCRATCH.get();
            event.setInt(0, EPOLLIN | EPOLLRDHUP);
            event.setLong(4, fd);
            LibC.syscall(SyscallNumbers.EPOLL_CTL, epoll, EPOLL_CTL_ADD, fd, Pointer.nativeValue(event), 0, 0);
            // Handed over once registered, never before: a registration that failed leaves the fd
            // to the caller alone. An event the thread sees before the fd is handed over is
            // reported again at its next wait (level-triggered), by when the fd is its own.
            handedOver.add(new int[] {fd});
            return true;
        } catch (LastErrorException ex) {
            // Not a connection any more (the client reset it), or no room to watch it: closed at
            // once by the caller, as without lingering.
            count.decrementAndGet();
            return false;
        }
    }

    /** The bytes the client sent that nobody read, or -1 when that cannot be told. */
    private static int unread(int fd) {
        Memory n = SCRATCH.get();
        try {
            LibC.ioctl(fd, FIONREAD, n);
            return n.getInt(0);
        } catch (LastErrorException ex) {
            return -1;
        }
    }

    private int started() {
        int epoll = epollFd;
        if (epoll >= 0) {
            return epoll;
        }
        synchronized (this) {
            if (epollFd < 0) {
                int made = (int) LibC.syscall(SyscallNumbers.EPOLL_CREATE1, EPOLL_CLOEXEC, 0, 0, 0, 0, 0);
                Thread thread = new Thread(() -> run(made), "kvmserver-lingering-close");
                thread.setDaemon(true);
                thread.start();
                epollFd = made;
            }
            return epollFd;
        }
    }

    /** One lingering connection: when it ends, whatever its client does. */
    private static final class Lingering {
        final long deadline;
        long quietUntil;

        Lingering(long now) {
            deadline = now + TOTAL_MILLIS;
            quietUntil = now + QUIET_MILLIS;
        }
    }

    private void run(int epoll) {
        Map<Integer, Lingering> connections = new HashMap<>();
        try (Memory events = new Memory((long) EVENTS * EVENT_SIZE); Memory discard = new Memory(DISCARD)) {
            while (true) {
                long now = monotonicMillis();
                for (int[] entry; (entry = handedOver.poll()) != null;) {
                    connections.put(entry[0], new Lingering(now));
                }
                int timeout = connections.isEmpty() ? 1_000 : (int) Math.max(1, nextEnd(connections) - now);
                int ready;
                try {
                    ready = (int) LibC.syscall(SyscallNumbers.EPOLL_WAIT, epoll, Pointer.nativeValue(events), EVENTS, timeout, 0, 0);
                } catch (LastErrorException ex) {
                    if (ex.getErrorCode() != EINTR) {
                        throw ex;
                    }
                    ready = 0;
                }
                now = monotonicMillis();
                for (int[] entry; (entry = handedOver.poll()) != null;) {
                    connections.put(entry[0], new Lingering(now));
                }
                for (int i = 0; i < ready; i++) {
                    int fd = (int) events.getLong((long) i * EVENT_SIZE + 4);
                    Lingering l = connections.get(fd);
                    if (l != null && drain(fd, discard)) {
                        l.quietUntil = now + QUIET_MILLIS;
                    } else if (l != null) {
                        end(epoll, fd, connections);
                    }
                }
                for (Iterator<Map.Entry<Integer, Lingering>> it = connections.entrySet().iterator(); it.hasNext();) {
                    Map.Entry<Integer, Lingering> e = it.next();
                    if (now >= e.getValue().deadline || now >= e.getValue().quietUntil) {
                        it.remove();
                        release(epoll, e.getKey());
                    }
                }
            }
        }
    }

    /** Milliseconds of the monotonic clock: a wall clock set back would keep connections lingering. */
    private static long monotonicMillis() {
        return System.nanoTime() / 1_000_000;
    }

    private static long nextEnd(Map<Integer, Lingering> connections) {
        long next = Long.MAX_VALUE;
        for (Lingering l : connections.values()) {
            next = Math.min(next, Math.min(l.deadline, l.quietUntil));
        }
        return next;
    }

    /** Reads and drops what the client sent; false once it has ended (or failed). */
    private static boolean drain(int fd, Memory discard) {
        try {
            for (long read = 0; read < DRAIN_PER_WAKE;) {
                long n = LibC.read(fd, Pointer.nativeValue(discard), DISCARD);
                if (n == 0) {
                    return false;
                }
                read += n;
            }
            return true;
        } catch (LastErrorException ex) {
            return ex.getErrorCode() == EAGAIN || ex.getErrorCode() == EINTR;
        }
    }

    private void end(int epoll, int fd, Map<Integer, Lingering> connections) {
        connections.remove(fd);
        release(epoll, fd);
    }

    /** Unregistered before it is closed: the number may be another file's right after. */
    private void release(int epoll, int fd) {
        try {
            LibC.syscall(SyscallNumbers.EPOLL_CTL, epoll, EPOLL_CTL_DEL, fd, 0, 0, 0);
        } catch (LastErrorException ignored) {
            // closing removes it all the same
        }
        closeQuietly(fd);
        count.decrementAndGet();
        closedTotal.incrementAndGet();
    }

    private static void closeQuietly(int fd) {
        try {
            LibC.close(fd);
        } catch (LastErrorException ignored) {
            // close(2) releases the fd even when it reports an error
        }
    }
}
