package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.server.ServerStats;
import io.kvmserver.testing.CapturedConsole;
import io.kvmserver.testing.Eventually;
import io.kvmserver.testing.Fixtures;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Where requests begin and end, with the unmodified python3 and its asyncio server: a client that
 * connects and hangs up without a word (a TCP health probe) ends its request at once instead of
 * holding the VM until the time limit, and the template is frozen where the program waits for
 * connections, not at a zero-timeout poll inside its start-up.
 */
@RequiresKvm
class RequestBoundaryTest {

    private static final Path PYTHON = Path.of("/usr/bin/python3");
    private static final Path SCRIPTS = Fixtures.directory("python");

    private static TestServer python(String script, CapturedConsole console) throws Exception {
        Path stdlib = PYTHON.toRealPath().getParent().getParent().resolve("lib")
                .resolve(PYTHON.toRealPath().getFileName().toString());
        return TestServer.start(PYTHON, List.of(), b -> b.args(List.of(SCRIPTS.resolve(script).toString(), "PORT"))
                .allowRead(List.of(stdlib.toString(), SCRIPTS.toString())).ephemeral(true).threads(1)
                .maxRequestTime(Duration.ofSeconds(60)), console);
    }

    @Test
    void aClientThatConnectsAndHangsUpFreesTheVmAtOnce() throws Exception {
        try (TestServer s = python("asyncio_server.py", new CapturedConsole())) {
            ServerStats stats = s.server().stats();
            for (int i = 0; i < 3; i++) {
                try (Socket probe = new Socket()) {
                    probe.connect(new InetSocketAddress("127.0.0.1", s.port()));
                }
                // Bounded well below the 60 s request limit: the probe's request must end by itself.
                assertThat(Eventually.reaches(stats::resets, i * 2 + 1L)).as("reset after probe %d", i)
                        .isGreaterThanOrEqualTo(i * 2 + 1L);
                assertThat(s.get("/")).isEqualTo("python served=1");
                assertThat(Eventually.reaches(stats::resets, i * 2 + 2L)).isGreaterThanOrEqualTo(i * 2 + 2L);
            }
            assertThat(stats.requests(ServerStats.Outcome.TIMEOUT)).isZero();
        }
    }

    @Test
    void startUpAfterAZeroTimeoutPollRunsOnceInTheTemplate() throws Exception {
        CapturedConsole console = new CapturedConsole();
        try (TestServer s = python("asyncio_startup.py", console)) {
            for (int i = 0; i < 5; i++) {
                assertThat(s.get("/")).isEqualTo("served=1");
            }
        }
        assertThat(console.text().split("start-up finished", -1)).as(console.text()).hasSize(2);
    }

    /**
     * A client that shuts down its side after its request ({@code nc -N}, Go's {@code CloseWrite},
     * health checkers) while the program sleeps before answering ({@code hostile_server.c}
     * {@code /slow/300}). Found by the review of 2026-12-04 late: the hang-up watch took its FIN
     * for a client gone and ended the request, and the client got an empty response (natively:
     * the answer). A client that never sent a byte still ends its request at once (above).
     */
    @Test
    void aClientThatShutsDownItsSideAfterItsRequestGetsTheAnswer() throws Exception {
        try (TestServer s = TestServer.start(GuestPrograms.get("hostile_server"), List.of(),
                b -> b.ephemeral(true).threads(1).maxRequestTime(Duration.ofSeconds(10)))) {
            for (int i = 0; i < 3; i++) {
                try (Socket client = new Socket("127.0.0.1", s.port())) {
                    client.setSoTimeout(15_000);
                    client.getOutputStream().write("GET /slow/300 HTTP/1.1\r\nHost: x\r\n\r\n"
                            .getBytes(StandardCharsets.US_ASCII));
                    client.shutdownOutput();
                    String response = new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                    assertThat(response).as("response %d", i).endsWith("slept");
                }
            }
            assertThat(s.server().stats().requests(ServerStats.Outcome.TIMEOUT)).isZero();
        }
    }
}
