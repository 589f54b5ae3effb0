package io.kvmserver.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The client against a real loopback server that answers one fixed response per connection. */
class LoadClientTest {

    private static final String INCR = "INCR counter\r\nQUIT\r\n";

    private ServerSocket server;
    private Thread thread;
    /** The last request the server read. */
    private volatile String received;

    private int serve(String response) throws IOException {
        return serve("\r\n\r\n", response);
    }

    /** Answers {@code response} to every request once it has read up to {@code end}. */
    private int serve(String end, String response) throws IOException {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        thread = new Thread(() -> {
            while (!server.isClosed()) {
                try (Socket s = server.accept()) {
                    InputStream in = s.getInputStream();
                    byte[] request = new byte[4096];
                    int n = 0;
                    while (!new String(request, 0, n, StandardCharsets.US_ASCII).endsWith(end)) {
                        int r = in.read(request, n, request.length - n);
                        if (r < 0) {
                            break;
                        }
                        n += r;
                    }
                    received = new String(request, 0, n, StandardCharsets.US_ASCII);
                    s.getOutputStream().write(response.getBytes(StandardCharsets.US_ASCII));
                } catch (IOException e) {
                    return; // closed
                }
            }
        });
        thread.setDaemon(true);
        thread.start();
        return server.getLocalPort();
    }

    @AfterEach
    void stop() throws Exception {
        server.close();
        thread.join(5000);
    }

    private static String answer(String body) {
        return "HTTP/1.1 200 OK\r\nContent-Length: " + body.length() + "\r\nConnection: close\r\n\r\n" + body;
    }

    /** {@code GET /} whose body starts with {@code prefix}. */
    private static Guest.Exchange get(String prefix) {
        return Guest.Exchange.get("/", prefix, warmup -> null);
    }

    private static Guest.Exchange redis() {
        return new Guest.Exchange(INCR, false, "/", ":", warmup -> ":1\r\n+OK\r\n");
    }

    @Test
    void anExpectedBodyIsCountedAsASuccess() throws Exception {
        LoadClient client = new LoadClient(serve(answer("python served=1")), get("python served="), "python served=1");
        LoadClient.Result r = client.run(3, 10, LoadClient.Pause.NONE);
        assertThat(r.ok()).isEqualTo(3);
        assertThat(r.failed()).isZero();
    }

    @Test
    void aCounterAboveOneFailsInEphemeralModeButNotOtherwise() throws Exception {
        int port = serve(answer("python served=2"));
        LoadClient.Result ephemeral = new LoadClient(port, get("python served="), "python served=1")
                .run(2, 10, LoadClient.Pause.NONE);
        assertThat(ephemeral.ok()).isZero();
        assertThat(ephemeral.firstFailure()).isEqualTo("unexpected body: python served=2");
        assertThat(new LoadClient(port, get("python served="), null).run(2, 10, LoadClient.Pause.NONE).ok()).isEqualTo(2);
    }

    @Test
    void anHttp10AnswerCounts() throws Exception {
        LoadClient.Result r = new LoadClient(serve("HTTP/1.0 200 OK\r\n\r\nhello"), get("hello"), "hello")
                .run(1, 10, LoadClient.Pause.NONE);
        assertThat(r.ok()).isEqualTo(1);
    }

    @Test
    void anotherStatusIsAFailure() throws Exception {
        LoadClient.Result r = new LoadClient(serve("HTTP/1.1 500 Oops\r\n\r\nhello"), get("hello"), "hello")
                .run(1, 10, LoadClient.Pause.NONE);
        assertThat(r.failed()).isEqualTo(1);
        assertThat(r.firstFailure()).startsWith("unexpected response: HTTP/1.1 500");
    }

    @Test
    void theGuestsPathIsWhatItAsksFor() throws Exception {
        LoadClient client = new LoadClient(serve(answer("served")),
                Guest.Exchange.get("/hello.txt", "served", warmup -> null), null);
        assertThat(client.run(1, 10, LoadClient.Pause.NONE).ok()).isEqualTo(1);
        assertThat(received).startsWith("GET /hello.txt HTTP/1.1\r\n");
    }

    /** Not HTTP: the raw request goes out as it is, and the whole reply is the answer. */
    @Test
    void aRawExchangeSendsItsBytesAndChecksTheWholeReply() throws Exception {
        int port = serve("QUIT\r\n", ":1\r\n+OK\r\n");
        LoadClient.Result r = new LoadClient(port, redis(), ":1\r\n+OK\r\n").run(2, 10, LoadClient.Pause.NONE);
        assertThat(r.ok()).isEqualTo(2);
        assertThat(received).isEqualTo(INCR);
    }

    @Test
    void aRawReplyOtherThanTheExactOneFailsInEphemeralModeButNotOtherwise() throws Exception {
        int port = serve("QUIT\r\n", ":2\r\n+OK\r\n");
        LoadClient.Result ephemeral = new LoadClient(port, redis(), ":1\r\n+OK\r\n").run(1, 10, LoadClient.Pause.NONE);
        assertThat(ephemeral.failed()).isEqualTo(1);
        assertThat(ephemeral.firstFailure()).isEqualTo("unexpected reply: :2\r\n+OK\r\n");
        assertThat(new LoadClient(port, redis(), null).run(1, 10, LoadClient.Pause.NONE).ok()).isEqualTo(1);
    }

    @Test
    void aRawReplyWithoutThePrefixIsAFailure() throws Exception {
        LoadClient.Result r = new LoadClient(serve("QUIT\r\n", "-ERR unknown command\r\n"), redis(), null)
                .run(1, 10, LoadClient.Pause.NONE);
        assertThat(r.failed()).isEqualTo(1);
        assertThat(r.firstFailure()).startsWith("unexpected reply: -ERR");
    }
}
