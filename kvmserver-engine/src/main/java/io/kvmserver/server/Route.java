package io.kvmserver.server;

import io.kvmserver.linux.RouteSocket;
import java.io.IOException;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The private way into a server's request VMs, for an application that routes requests to the
 * program (the Spring Boot starter's routes). The program's route address is served on a unix
 * socket only the JVM's user can reach ({@link #socket()}, see {@link RouteSocket}); a routed
 * connection learns which request VM took it and how its request ended.
 *
 * <p>A routed request:
 * <ol>
 * <li>{@link #admit} waits, up to a limit, for a request VM that is free for it. Admissions never
 * outnumber the request VMs, so a routed request is only sent when a VM will take it at once, and
 * one that is refused was never sent.</li>
 * <li>The client connects to {@link #socket()} with a channel from {@link #newChannel()}: bound to
 * a name of its own in the private directory, so that the VM that accepts it knows whose it is.
 * {@link Admission#follow} ties the connected channel to the admission.</li>
 * <li>The request VM that accepts the connection reports once the request has ended and the VM is
 * free again ({@link RequestReport}): that completes {@link Admission#report()}, and frees the
 * admission's place when the client is done with it ({@link Admission#close()}).</li>
 * </ol>
 * Other clients of the socket are served as well, without reports and without admissions.
 */
public final class Route implements AutoCloseable {

    private static final int AF_UNIX = 1;
    /** Channels made but never followed (their connect failed) are forgotten beyond this many. */
    private static final int FORGOTTEN_CHANNELS = 64;

    private final RouteSocket socket;
    /** Guards {@link #free} and {@link #waiting}. */
    private final Object places = new Object();
    /** Places in request VMs no admission holds and no waiting request was given. */
    private int free;
    /** Requests waiting for a place, first come first served; each completes with its place, or null. */
    private final ArrayDeque<CompletableFuture<Admission>> waiting = new ArrayDeque<>();
    private final Map<String, Connection> connections = new ConcurrentHashMap<>();
    private final AtomicLong serials = new AtomicLong();
    private volatile boolean closed;

    Route(RouteSocket socket, int vms) {
        this.socket = socket;
        this.free = vms;
    }

    /** The unix socket the program's route address is served on. */
    public Path socket() {
        return socket.socket();
    }

    /** The route address as configured: where the program believes it listens. */
    public String address() {
        return socket.address();
    }

    /**
     * A place in a free request VM for one routed connection, waiting up to {@code wait} for one;
     * null when none is free in time or the server has stopped. First come, first served. Blocks
     * the calling thread while it waits ({@link #admitLater} does not).
     *
     * @throws QueueFull when {@code maxWaiting} requests already wait
     */
    public Admission admit(Duration wait, int maxWaiting) throws InterruptedException, QueueFull {
        CompletableFuture<Admission> place = admitLater(wait, maxWaiting);
        try {
            return place.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof QueueFull full) {
                throw full;
            }
            throw new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            abandon(place);
            throw e;
        }
    }

    /**
     * {@link #admit} without a thread waiting: completes with the place, or null when none was
     * free within {@code wait} or the server stopped, or fails with {@link QueueFull} at once when
     * {@code maxWaiting} requests already wait. Each waiting request would otherwise hold a thread
     * of the application's web server (a container thread, a bounded-elastic one), and requests
     * that outnumbered those threads waiting for this server's VMs left none for any other route,
     * controller or health probe of the application (a client that only kept enough requests open
     * stalled the whole application for {@code wait} at a time).
     *
     * <p>It may complete on the thread that freed the place (a request VM's): continue
     * asynchronously. A caller that gives up cancels it ({@link #abandon}), and the place goes to
     * the next request.
     */
    public CompletableFuture<Admission> admitLater(Duration wait, int maxWaiting) {
        CompletableFuture<Admission> place = new CompletableFuture<>();
        synchronized (places) {
            if (closed) {
                place.complete(null);
                return place;
            }
            if (free > 0 && waiting.isEmpty()) {
                free--;
                place.complete(new Admission());
                return place;
            }
            if (wait.isZero() || wait.isNegative()) {
                place.complete(null);
                return place;
            }
            if (waiting.size() >= maxWaiting) {
                place.completeExceptionally(new QueueFull(maxWaiting));
                return place;
            }
            waiting.add(place);
        }
        // Its timer ends with it (a place given, a client gone): timers of waits already over
        // would pile up with the request rate for as long as max-wait, whatever max-waiting is.
        place.completeOnTimeout(null, wait.toNanos(), TimeUnit.NANOSECONDS);
        place.whenComplete((admission, failure) -> {
            if (admission == null) {
                leave(place); // its time is up, its caller gave up, or the server stopped
            }
        });
        return place;
    }

    /**
     * A caller of {@link #admitLater} that no longer wants its place (its client went): cancels
     * the wait, or gives the place back if it came meanwhile.
     */
    public static void abandon(CompletableFuture<Admission> place) {
        if (!place.cancel(false) && !place.isCompletedExceptionally()) {
            Admission admission = place.getNow(null);
            if (admission != null) {
                admission.close();
            }
        }
    }

    /** A waiting request that has no place (its time is up, it was cancelled) leaves the queue. */
    private void leave(CompletableFuture<Admission> place) {
        synchronized (places) {
            waiting.remove(place);
        }
    }

    /** A place is free again: the request that waited longest takes it, or it is counted free. */
    private void placeFreed() {
        while (true) {
            CompletableFuture<Admission> next;
            synchronized (places) {
                next = closed ? null : waiting.poll();
                if (next == null) {
                    free++;
                    return;
                }
            }
            if (next.complete(new Admission())) {
                return;
            }
            // it gave up (its time, its caller) between the poll and now: the next one
        }
    }

    /** How many routed requests wait for a free request VM now. */
    public int waiting() {
        synchronized (places) {
            return waiting.size();
        }
    }

    /** A routed request refused at once: as many as allowed already wait for a free request VM. */
    public static final class QueueFull extends Exception {
        private static final long serialVersionUID = 1L;

        QueueFull(int maxWaiting) {
            super(maxWaiting + " routed requests already wait for a free request VM", null, false, false);
        }
    }

    /**
     * A unix socket channel, not yet connected, bound to a name of its own: connect it to
     * {@link #socket()}, then {@link Admission#follow} it. The name's file is removed at once (the
     * socket keeps the name, which is all the accepting VM needs).
     */
    public SocketChannel newChannel() throws IOException {
        if (connections.size() > FORGOTTEN_CHANNELS) {
            connections.values().removeIf(c -> c.admission == null && !c.channel.isOpen()); // their connect failed
        }
        Path name = socket.clientName(serials.incrementAndGet());
        SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            channel.bind(UnixDomainSocketAddress.of(name));
            Files.deleteIfExists(name);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        connections.put(name.toString(), new Connection(name.toString(), channel));
        return channel;
    }

    // ---- the request VMs' side ----

    /**
     * A request VM ({@code vm}) accepted a connection from {@code peer} (the host's sockaddr): the
     * routed connection, or null for another client.
     */
    Connection accepted(int vm, byte[] peer) {
        if (peer == null || peer.length < 3 || ((peer[0] & 0xff) | ((peer[1] & 0xff) << 8)) != AF_UNIX) {
            return null;
        }
        int end = 2;
        while (end < peer.length && peer[end] != 0) {
            end++;
        }
        Connection c = connections.get(new String(peer, 2, end - 2, StandardCharsets.UTF_8));
        if (c != null) {
            c.accepted(vm);
        }
        return c;
    }

    /** The request of a routed connection has ended and its VM is free again. */
    void finished(Connection c, RequestReport report) {
        c.report.complete(report);
        c.done();
    }

    /** The server is stopping: no routed request is admitted any more, and those waiting are refused. */
    void stopAdmitting() {
        List<CompletableFuture<Admission>> refused;
        synchronized (places) {
            closed = true;
            refused = List.copyOf(waiting);
            waiting.clear();
        }
        refused.forEach(place -> place.complete(null));
    }

    /** Ends every routed request still waiting for its report: the request VMs have stopped. */
    @Override
    public void close() {
        stopAdmitting();
        connections.values().forEach(c -> {
            c.report.completeExceptionally(new IllegalStateException("the server stopped"));
            c.done();
        });
    }

    /** A channel from {@link #newChannel()}, and what became of it. */
    final class Connection {
        private final String name;
        private final SocketChannel channel;
        private final CompletableFuture<RequestReport> report = new CompletableFuture<>();
        private volatile int vm = -1;
        private volatile Admission admission;

        Connection(String name, SocketChannel channel) {
            this.name = name;
            this.channel = channel;
        }

        /** A request VM took it: the VM holds it from now on, and the name is forgotten once the client is done too. */
        private synchronized void accepted(int id) {
            vm = id;
            Admission a = admission;
            if (a != null && a.clientDone) {
                connections.remove(name);
            }
        }

        /** The client is done with it: the name is forgotten once a VM has taken it too. */
        private synchronized void closedByClient() {
            if (vm >= 0) {
                connections.remove(name);
            }
        }

        /** The request is over and its VM free: the admission's place is freed once the client is done too. */
        private void done() {
            Admission a = admission;
            if (a != null) {
                a.reported();
            }
        }
    }

    /** One routed connection's place in a request VM. */
    public final class Admission implements AutoCloseable {

        private final AtomicBoolean released = new AtomicBoolean();
        private volatile Connection connection;
        private volatile boolean clientDone;
        private volatile boolean vmDone;

        private Admission() {
        }

        /**
         * Ties the channel made by {@link #newChannel()} whose local address is
         * {@code localAddress} (now connected to {@link #socket()}) to this admission.
         */
        public void follow(SocketAddress localAddress) {
            String name = localAddress instanceof UnixDomainSocketAddress unix ? unix.getPath().toString() : null;
            Connection c = name == null ? null : connections.get(name);
            if (c == null) {
                throw new IllegalArgumentException(localAddress + " is not a channel of this route");
            }
            c.admission = this;
            connection = c;
            if (c.report.isDone()) {
                reported();
            }
        }

        /** The request VM that took the connection, once one has. */
        public OptionalInt vm() {
            Connection c = connection;
            return c == null || c.vm < 0 ? OptionalInt.empty() : OptionalInt.of(c.vm);
        }

        /**
         * How the request went, once it has ended and its VM is free; completed exceptionally
         * when the server stops first. Never completes before {@link #follow}.
         */
        public CompletableFuture<RequestReport> report() {
            Connection c = connection;
            return c == null ? new CompletableFuture<>() : c.report;
        }

        /**
         * The client is done. The place is freed now if no connection was followed (the request
         * never reached a VM), else once the VM that took it has reported.
         */
        @Override
        public void close() {
            clientDone = true;
            Connection c = connection;
            if (c != null) {
                c.closedByClient();
            }
            if (c == null || vmDone) {
                release();
            }
        }

        private void reported() {
            vmDone = true;
            if (clientDone) {
                release();
            }
        }

        private void release() {
            if (released.compareAndSet(false, true)) {
                placeFreed();
            }
        }
    }
}
