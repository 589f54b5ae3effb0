package io.kvmserver.benchmarks;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.locks.LockSupport;

/**
 * The load generator: sequential requests on loopback, each on a new TCP or unix socket connection (connect,
 * send the guest's request, read the answer to EOF), timed from before {@code connect} to the end
 * of the answer (EOF). The request is an HTTP/1.1 GET (the status must be 200, the body is
 * checked) or raw bytes whose whole reply is checked (redis: {@code INCR}, {@code QUIT}). Bounded
 * by a request count and a total time, so it always stops by itself. Blocking sockets, one
 * request in flight, no pipelining, no connection reuse.
 */
final class LoadClient {

    /** What a run measured: latencies of the successful requests (summarized, and raw in the order sent), and how many failed. */
    record Result(Latencies latencies, int ok, int failed, double seconds, String firstFailure, long[] raw) {

        Result(Latencies latencies, int ok, int failed, double seconds, String firstFailure) {
            this(latencies, ok, failed, seconds, firstFailure, new long[0]);
        }
    }

    /** Called between two requests, outside the timed interval (the no-tail variant waits here). */
    @FunctionalInterface
    interface Pause {
        Pause NONE = completed -> { };

        void afterRequest(int completed);
    }

    /** The status line's start: any HTTP/1.x version (python's http.server answers 1.0), status 200. */
    private static final byte[] HEAD = "HTTP/1.? 200 ".getBytes(StandardCharsets.US_ASCII);

    private final SocketAddress address;
    /** Whether the answer is an HTTP response (else the whole reply is checked). */
    private final boolean http;
    /** What every body (or reply) starts with, and, when not null, what it must be exactly. */
    private final byte[] bodyPrefix;
    private final byte[] exactBody;
    private static final long REQUEST_TIMEOUT_NANOS = 10_000_000_000L;

    private final byte[] buffer = new byte[4096];
    private final ByteBuffer request;
    private final ByteBuffer response = ByteBuffer.allocateDirect(4096);
    private volatile SocketChannel current;
    private volatile long currentDeadline;

    /**
     * A client of {@code 127.0.0.1:port} that sends {@code exchange}'s request; every answer must
     * start with its prefix, or be {@code exactAnswer} when that is not null.
     */
    LoadClient(int port, Guest.Exchange exchange, String exactAnswer) {
        this(new InetSocketAddress("127.0.0.1", port), exchange, exactAnswer);
    }

    /**
     * A client of {@code address} (an {@link InetSocketAddress} or a
     * {@link java.net.UnixDomainSocketAddress}) that sends {@code exchange}'s request.
     */
    LoadClient(SocketAddress address, Guest.Exchange exchange, String exactAnswer) {
        this.address = address;
        byte[] bytes = exchange.request().getBytes(StandardCharsets.US_ASCII);
        this.request = ByteBuffer.allocateDirect(bytes.length).put(bytes);
        this.http = exchange.http();
        this.bodyPrefix = exchange.prefix().getBytes(StandardCharsets.US_ASCII);
        this.exactBody = exactAnswer == null ? null : exactAnswer.getBytes(StandardCharsets.US_ASCII);
        Thread watchdog = new Thread(this::watch, "load-client-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
    }

    /** Sends up to {@code requests} requests, stopping early after {@code maxSeconds}. */
    Result run(int requests, double maxSeconds, Pause pause) {
        long[] nanos = new long[requests];
        int ok = 0;
        int failed = 0;
        String firstFailure = null;
        long start = System.nanoTime();
        long deadline = start + (long) (maxSeconds * 1e9);
        for (int i = 0; i < requests && System.nanoTime() < deadline; i++) {
            long t0 = System.nanoTime();
            String failure = request();
            long t1 = System.nanoTime();
            if (failure == null) {
                nanos[ok++] = t1 - t0;
            } else {
                failed++;
                if (firstFailure == null) {
                    firstFailure = failure;
                }
            }
            pause.afterRequest(i + 1);
        }
        long[] inOrder = Arrays.copyOf(nanos, ok); // before the summary sorts them
        return new Result(Latencies.of(nanos, ok), ok, failed, (System.nanoTime() - start) / 1e9, firstFailure,
                inOrder);
    }

    /**
     * One request on a new connection; null when the response was the expected one. A blocking
     * {@link SocketChannel} issues plain connect/write/read system calls (a {@code java.net.Socket}
     * with timeouts adds a poll before each of them, which costs tens of µs on this host); a stuck
     * request is cut by the watchdog after {@link #REQUEST_TIMEOUT_NANOS}.
     */
    String request() {
        int total = 0;
        boolean tcp = address instanceof InetSocketAddress;
        try (SocketChannel ch = tcp ? SocketChannel.open() : SocketChannel.open(StandardProtocolFamily.UNIX)) {
            current = ch;
            currentDeadline = System.nanoTime() + REQUEST_TIMEOUT_NANOS;
            if (tcp) {
                ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
            }
            ch.connect(address);
            request.clear();
            while (request.hasRemaining()) {
                ch.write(request);
            }
            response.clear();
            int n;
            while ((n = ch.read(response)) > 0) {
                total += n;
                if (!response.hasRemaining()) {
                    return "response larger than " + response.capacity() + " bytes";
                }
            }
        } catch (IOException e) {
            return e.toString();
        } finally {
            current = null;
        }
        response.flip();
        response.get(buffer, 0, total);
        return check(buffer, total);
    }

    /** Closes a request's channel once it runs past its deadline, so that no request hangs forever. */
    private void watch() {
        while (true) {
            LockSupport.parkNanos(100_000_000L);
            SocketChannel ch = current;
            if (ch != null && System.nanoTime() - currentDeadline > 0) {
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // closing is all we can do
                }
            }
        }
    }

    /**
     * Null when {@code b[0, length)} is a 200 response with the expected body (or, not HTTP, the
     * expected reply); allocates only on failure.
     */
    private String check(byte[] b, int length) {
        if (!http) {
            return expected(b, 0, length) ? null
                    : "unexpected reply: " + new String(b, 0, Math.min(length, 80), StandardCharsets.US_ASCII);
        }
        for (int i = 0; i < HEAD.length; i++) {
            if (i >= length || b[i] != HEAD[i] && HEAD[i] != '?') {
                return "unexpected response: " + new String(b, 0, Math.min(length, 80), StandardCharsets.US_ASCII);
            }
        }
        int body = bodyStart(b, length);
        if (body < 0) {
            return "no end of headers: " + new String(b, 0, Math.min(length, 80), StandardCharsets.US_ASCII);
        }
        return expected(b, body, length) ? null
                : "unexpected body: " + new String(b, body, Math.min(length - body, 80), StandardCharsets.US_ASCII);
    }

    /** Whether {@code b[from, to)} is the exact answer, or starts with the prefix when none is exact. */
    private boolean expected(byte[] b, int from, int to) {
        return exactBody != null ? equalsAt(b, from, to, exactBody)
                : to - from >= bodyPrefix.length && equalsAt(b, from, from + bodyPrefix.length, bodyPrefix);
    }

    private static int bodyStart(byte[] b, int length) {
        for (int i = 3; i < length; i++) {
            if (b[i] == '\n' && b[i - 1] == '\r' && b[i - 2] == '\n' && b[i - 3] == '\r') {
                return i + 1;
            }
        }
        return -1;
    }

    private static boolean equalsAt(byte[] b, int from, int to, byte[] expected) {
        if (to - from != expected.length) {
            return false;
        }
        for (int i = 0; i < expected.length; i++) {
            if (b[from + i] != expected[i]) {
                return false;
            }
        }
        return true;
    }
}
