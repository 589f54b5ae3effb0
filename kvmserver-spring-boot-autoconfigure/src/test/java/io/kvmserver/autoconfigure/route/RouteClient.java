package io.kvmserver.autoconfigure.route;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/** What the route tests share: a client of the application, and checks of streamed bodies. */
final class RouteClient {

    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private final int port;

    RouteClient(int port) {
        this.port = port;
    }

    HttpResponse<String> get(String path) throws Exception {
        return get(path, Map.of());
    }

    HttpResponse<String> get(String path, Map<String, String> headers) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(60));
        headers.forEach(request::header);
        return CLIENT.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    URI uri(String path) {
        return URI.create("http://127.0.0.1:" + this.port + path);
    }

    /**
     * POSTs {@code bytes} of the pattern to {@code path}, generated as it is sent (never held
     * whole), and returns the answer's body.
     */
    String upload(String path, long bytes) throws Exception {
        HttpResponse<String> response = post(path, bytes);
        assertThat(response.statusCode()).as("status of %s (%s)", path, response.body()).isEqualTo(200);
        return response.body();
    }

    /** POSTs {@code bytes} of the fixture's pattern to {@code path} without a length (chunked); returns the answer. */
    /** Posts {@code bytes} of the pattern, with their length, and returns the answer whatever its status. */
    HttpResponse<String> post(String path, long bytes) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(uri(path))
            .timeout(Duration.ofSeconds(120))
            .POST(HttpRequest.BodyPublishers.fromPublisher(
                    HttpRequest.BodyPublishers.ofInputStream(() -> new PatternStream(bytes)), bytes))
            .build();
        return CLIENT.send(request, HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> uploadChunked(String path, long bytes) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(uri(path))
            .timeout(Duration.ofSeconds(120))
            .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new PatternStream(bytes)))
            .build();
        return CLIENT.send(request, HttpResponse.BodyHandlers.ofString());
    }

    /**
     * Sends the head of a POST to {@code path} ({@code framing}: its Content-Length or
     * Transfer-Encoding line), then body bytes for as long as the server reads them, and returns
     * the answer's head and the start of its body: a server that answers before the body is all
     * there is read while the client still sends.
     */
    String postWhileTheServerReads(String path, String framing, byte[] chunk) throws Exception {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", this.port), 5000);
            socket.setSoTimeout(20_000);
            OutputStream out = socket.getOutputStream();
            out.write(("POST " + path + " HTTP/1.1\r\nHost: localhost\r\n" + framing + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
            CompletableFuture<Void> sending = CompletableFuture.runAsync(() -> {
                try {
                    while (!socket.isClosed()) {
                        out.write(chunk);
                    }
                }
                catch (IOException ex) {
                    // the server stopped reading, or closed
                }
            });
            String head = readHead(socket.getInputStream());
            byte[] start = new byte[200];
            int n = socket.getInputStream().read(start);
            socket.close();
            sending.join();
            return head + new String(start, 0, Math.max(n, 0), StandardCharsets.UTF_8);
        }
    }

    /** GETs {@code path} and reads its body as a stream: its length and SHA-256, never holding it whole. */
    String[] download(String path) throws Exception {
        HttpResponse<InputStream> response = CLIENT.send(
                HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(120)).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertThat(response.statusCode()).isEqualTo(200);
        try (InputStream in = response.body()) {
            return digest(in);
        }
    }

    /** The length and SHA-256 of a stream, read in small pieces. */
    static String[] digest(InputStream in) throws Exception {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        byte[] buffer = new byte[65536];
        long total = 0;
        for (int n; (n = in.read(buffer)) >= 0;) {
            sha.update(buffer, 0, n);
            total += n;
        }
        return new String[] { Long.toString(total), HexFormat.of().formatHex(sha.digest()) };
    }

    /** The route_server fixture's pattern: byte i is (i * 7 + 3) & 0xff. */
    static final class PatternStream extends InputStream {

        private final long length;

        private final AtomicLong at = new AtomicLong();

        PatternStream(long length) {
            this.length = length;
        }

        /** The pattern's first {@code length} bytes. */
        static byte[] bytes(int length) {
            byte[] bytes = new byte[length];
            new PatternStream(length).read(bytes, 0, length);
            return bytes;
        }

        @Override
        public int read() {
            long i = this.at.get();
            if (i >= this.length) {
                return -1;
            }
            this.at.incrementAndGet();
            return (int) ((i * 7 + 3) & 0xff);
        }

        @Override
        public int read(byte[] b, int off, int len) {
            long i = this.at.get();
            if (i >= this.length) {
                return -1;
            }
            int n = (int) Math.min(len, this.length - i);
            for (int k = 0; k < n; k++) {
                b[off + k] = (byte) (((i + k) * 7 + 3) & 0xff);
            }
            this.at.addAndGet(n);
            return n;
        }

    }

    /** The sum of the pattern's first {@code length} bytes, as the fixture's /upload answers it. */
    static long patternSum(long length) {
        long sum = 0;
        for (long i = 0; i < length; i++) {
            sum += (i * 7 + 3) & 0xff;
        }
        return sum;
    }

    /**
     * The proof that both directions stream: the request's first half goes out, and its echo
     * must come back before the second half is sent, which a proxy holding either body whole
     * could never do. Returns the number of echoed bytes read before the second half was sent.
     */
    long echoBeforeTheRequestEnds(String path, int half) throws IOException {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", this.port), 5000);
            socket.setSoTimeout(20_000);
            OutputStream out = socket.getOutputStream();
            InputStream in = socket.getInputStream();
            out.write(("POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + (2L * half)
                    + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            byte[] first = new byte[half];
            java.util.Arrays.fill(first, (byte) 'a');
            // The first half is written while its echo is read: the echo of a large half fills the
            // sockets on the way back long before the half is written, as with any streaming client.
            CompletableFuture<Void> writing = CompletableFuture.runAsync(() -> {
                try {
                    out.write(first);
                    out.flush();
                }
                catch (IOException ex) {
                    throw new UncheckedIOException(ex);
                }
            });
            String head = readHead(in);
            assertThat(head).startsWith("HTTP/1.1 200");
            byte[] buffer = new byte[65536];
            long early = 0;
            while (early < half) {
                int n = in.read(buffer);
                assertThat(n).as("echo of the first half, before the second is sent").isPositive();
                for (int i = 0; i < n; i++) {
                    assertThat(buffer[i]).isEqualTo((byte) 'a');
                }
                early += n;
            }
            writing.join();
            byte[] second = new byte[half];
            java.util.Arrays.fill(second, (byte) 'b');
            out.write(second);
            out.flush();
            long late = 0;
            for (int n; (n = in.read(buffer)) >= 0;) {
                late += n;
            }
            assertThat(early + late).isEqualTo(2L * half);
            return early;
        }
    }

    /** Sends {@code request} as it is on a connection of its own; returns the whole answer, head and body. */
    String raw(String request) throws IOException {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", this.port), 5000);
            socket.setSoTimeout(20_000);
            socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
            return new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /**
     * Sends {@code request} (which asks to keep the connection) and reads until the server ends
     * the connection; fails if it is still open 10 s later.
     */
    String keptAlive(String request) throws IOException {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", this.port), 5000);
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
            java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
            byte[] buffer = new byte[4096];
            try {
                for (int n; (n = socket.getInputStream().read(buffer)) >= 0;) {
                    got.write(buffer, 0, n);
                }
            }
            catch (java.net.SocketTimeoutException ex) {
                throw new AssertionError("the connection was kept open after: " + got.toString(StandardCharsets.UTF_8));
            }
            catch (java.net.SocketException ex) {
                // reset by the server: ended too
            }
            return got.toString(StandardCharsets.UTF_8);
        }
    }

    private static String readHead(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int c = in.read();
            assertThat(c).as("the answer's head").isNotNegative();
            head.append((char) c);
        }
        return head.toString();
    }

    static void waitFor(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("condition not met within 10 s").isLessThan(deadline);
            Thread.sleep(5);
        }
    }

}
