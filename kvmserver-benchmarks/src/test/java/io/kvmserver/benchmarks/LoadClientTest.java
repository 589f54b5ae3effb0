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

    private ServerSocket server;
    private Thread thread;

    private int serve(String response) throws IOException {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        thread = new Thread(() -> {
            while (!server.isClosed()) {
                try (Socket s = server.accept()) {
                    InputStream in = s.getInputStream();
                    byte[] request = new byte[4096];
                    int n = 0;
                    while (n < 4 || !new String(request, 0, n, StandardCharsets.US_ASCII).contains("\r\n\r\n")) {
                        int r = in.read(request, n, request.length - n);
                        if (r < 0) {
                            break;
                        }
                        n += r;
                    }
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

    @Test
    void anExpectedBodyIsCountedAsASuccess() throws Exception {
        LoadClient client = new LoadClient(serve(answer("python served=1")), "python served=", "python served=1");
        LoadClient.Result r = client.run(3, 10, LoadClient.Pause.NONE);
        assertThat(r.ok()).isEqualTo(3);
        assertThat(r.failed()).isZero();
    }

    @Test
    void aCounterAboveOneFailsInEphemeralModeButNotOtherwise() throws Exception {
        int port = serve(answer("python served=2"));
        LoadClient.Result ephemeral = new LoadClient(port, "python served=", "python served=1")
                .run(2, 10, LoadClient.Pause.NONE);
        assertThat(ephemeral.ok()).isZero();
        assertThat(ephemeral.firstFailure()).isEqualTo("unexpected body: python served=2");
        assertThat(new LoadClient(port, "python served=", null).run(2, 10, LoadClient.Pause.NONE).ok()).isEqualTo(2);
    }

    @Test
    void anotherStatusIsAFailure() throws Exception {
        LoadClient.Result r = new LoadClient(serve("HTTP/1.1 500 Oops\r\n\r\nhello"), "hello", "hello")
                .run(1, 10, LoadClient.Pause.NONE);
        assertThat(r.failed()).isEqualTo(1);
        assertThat(r.firstFailure()).startsWith("unexpected response: HTTP/1.1 500");
    }
}
