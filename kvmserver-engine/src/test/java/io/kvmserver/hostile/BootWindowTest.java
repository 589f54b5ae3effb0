package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Clients that connect while the template boots, between the program's {@code listen} and the
 * template's freeze (its warmup included): the template's state is every request VM's starting
 * point, so a request the template served would reach every later client ({@code http_server.c}'s
 * {@code /secret/X} stores X, {@code /peek} answers it). None of them may be served by the
 * template: a connection made before the freeze is served by a request VM (during the warmup the
 * template accepts it, and keeps it for them).
 */
@RequiresKvm
class BootWindowTest {

    /**
     * The program pauses between {@code listen} and its first wait, so the attacker's connection
     * is waiting there; then it waits ({@code epoll_wait}), or first accepts until none is left
     * (non-blocking), as servers that drain their backlog at start do.
     */
    @ParameterizedTest
    @ValueSource(strings = {"LISTEN_PAUSE_MS=400", "ACCEPT_FIRST=1"})
    void aClientThatConnectsBeforeTheFirstWaitIsServedByARequestVmNotTheTemplate(String how) throws Exception {
        int port = TestServer.freePort();
        Attacker attacker = Attacker.start(port);
        List<String> env = how.equals("LISTEN_PAUSE_MS=400") ? List.of(how) : List.of("LISTEN_PAUSE_MS=400", how);
        try (TestServer s = TestServer.start(port, GuestPrograms.get("http_server"), List.of(),
                b -> b.ephemeral(true).env(env), (stream, address, length) -> length)) {
            assertServedByRequestVmsOnly(attacker, s);
        } finally {
            attacker.stop();
        }
    }

    @Test
    void aClientThatConnectsDuringTheWarmupIsNeverServedByTheTemplate() throws Exception {
        int port = TestServer.freePort();
        Attacker attacker = Attacker.start(port);
        try (TestServer s = TestServer.start(port, GuestPrograms.get("http_server"), List.of(),
                b -> b.ephemeral(true).warmup(300).warmupPath("/counter"), (stream, address, length) -> length)) {
            assertServedByRequestVmsOnly(attacker, s);
            // The warmup itself reached the template: 300 requests, counted in its memory.
            assertThat(s.get("/counter")).isEqualTo("global=301 heap=301");
        } finally {
            attacker.stop();
        }
    }

    /**
     * The attacker connected before the server started; request VMs answered every early
     * connection (its secret stored in their memory only); later requests see the pristine state.
     */
    private static void assertServedByRequestVmsOnly(Attacker attacker, TestServer s) throws InterruptedException {
        attacker.stop();
        assertThat(attacker.connectedBeforeStart()).as("connections made before the server started").isPositive();
        assertThat(attacker.answers()).as("what the early connections were answered").isNotEmpty()
                .allMatch("stored"::equals);
        for (int i = 0; i < 5; i++) {
            assertThat(s.get("/peek")).as("request %d after the boot", i + 1).isEqualTo("pristine");
        }
    }

    /**
     * Connects to the port over and over from before the program listens, each connection sending
     * {@code /secret/pwned} at once, until stopped; records what each connection made before the
     * server started was answered.
     */
    private static final class Attacker implements Runnable {

        private final int port;
        private final Thread thread;
        private final AtomicInteger connected = new AtomicInteger();
        private final List<String> answers = new CopyOnWriteArrayList<>();
        private volatile boolean started;
        private volatile boolean stopped;
        private int connectedBeforeStart = -1;

        private Attacker(int port) {
            this.port = port;
            this.thread = new Thread(this, "boot-window-attacker");
            thread.setDaemon(true);
        }

        static Attacker start(int port) {
            Attacker a = new Attacker(port);
            a.thread.start();
            return a;
        }

        @Override
        public void run() {
            while (!started) {
                try (Socket socket = new Socket()) {
                    socket.connect(new InetSocketAddress("127.0.0.1", port), 1_000);
                    connected.incrementAndGet();
                    socket.setSoTimeout(30_000);
                    OutputStream out = socket.getOutputStream();
                    out.write("GET /secret/pwned HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                            .getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    InputStream in = socket.getInputStream();
                    String response = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                    int body = response.indexOf("\r\n\r\n");
                    answers.add(body < 0 ? "closed unanswered" : response.substring(body + 4));
                } catch (IOException e) {
                    if (connected.get() > 0) {
                        answers.add("closed unanswered");
                    }
                    sleepBriefly();
                }
            }
            stopped = true;
        }

        private static void sleepBriefly() {
            try {
                TimeUnit.MICROSECONDS.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        /** Stops after the connection in progress (served by a request VM now) is answered. */
        void stop() throws InterruptedException {
            if (connectedBeforeStart < 0) {
                connectedBeforeStart = connected.get();
            }
            started = true;
            thread.join(30_000);
            assertThat(stopped).as("the attacker's last connection ended").isTrue();
        }

        int connectedBeforeStart() {
            return connectedBeforeStart;
        }

        List<String> answers() {
            return answers;
        }
    }
}
