package io.kvmserver.benchmarks;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.locks.LockSupport;

/**
 * The load generator: sequential HTTP/1.1 GETs on loopback, each on a new TCP connection, or a
 * new unix socket connection (connect, send the request, read the response to EOF), timed from
 * before {@code connect} to the end of the response (EOF). Bounded by a request count and a total
 * time, so it always stops by itself. Blocking sockets, one request in flight, no pipelining, no
 * connection reuse.
 */
final class LoadClient {

    /**
     * What a run measured: latencies of the successful requests, and how many failed.
     *
     * @param raw the successful requests' durations in nanoseconds, sorted (empty when not kept)
     */
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

    private static final long REQUEST_TIMEOUT_NANOS = 10_000_000_000L;

    private final SocketAddress address;
    private final byte[] expectedBody;
    private final byte[] buffer = new byte[4096];
    private final ByteBuffer request;
    private final ByteBuffer response = ByteBuffer.allocateDirect(4096);
    private volatile SocketChannel current;
    private volatile long currentDeadline;

    /** {@code GET /} on 127.0.0.1:{@code port}, expecting the body {@code hello}. */
    LoadClient(int port) {
        this(new InetSocketAddress("127.0.0.1", port), "/", "hello");
    }

    /**
     * {@code GET path} on {@code address} (an {@link InetSocketAddress} or a
     * {@link java.net.UnixDomainSocketAddress}), expecting a 200 whose body ends with {@code expectedBody}.
     */
    LoadClient(SocketAddress address, String path, String expectedBody) {
        this.address = address;
        this.expectedBody = expectedBody.getBytes(StandardCharsets.US_ASCII);
        byte[] line = ("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        this.request = ByteBuffer.allocateDirect(line.length).put(line);
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
        return new Result(Latencies.of(nanos, ok), ok, failed, (System.nanoTime() - start) / 1e9, firstFailure,
                java.util.Arrays.copyOf(nanos, ok));
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

    private String check(byte[] b, int length) {
        byte[] expected = expectedBody;
        String head = "HTTP/1.1 200 ";
        for (int i = 0; i < head.length(); i++) {
            if (i >= length || b[i] != head.charAt(i)) {
                return "unexpected response: " + new String(b, 0, Math.min(length, 80), StandardCharsets.US_ASCII);
            }
        }
        if (length < expected.length) {
            return "short response";
        }
        for (int i = 0; i < expected.length; i++) {
            if (b[length - expected.length + i] != expected[i]) {
                return "unexpected body: " + new String(b, 0, length, StandardCharsets.US_ASCII);
            }
        }
        return null;
    }
}
