package io.kvmserver.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.server.ServerStats;
import io.kvmserver.testing.Eventually;
import io.kvmserver.testing.Fixtures;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/** The distribution's python3 running an unmodified asyncio HTTP server, one VM per connection. */
@RequiresKvm
class PythonServingTest {

    private static final Path PYTHON = Path.of("/usr/bin/python3");
    private static final Path SCRIPT = Fixtures.file("python", "asyncio_server.py");

    /** The asyncio server, allowed to read its script and the standard library, configured by {@code options}. */
    private static TestServer start(UnaryOperator<KvmServerOptions.Builder> options) throws Exception {
        return start(List.of(), List.of(), options);
    }

    /** As {@link #start(UnaryOperator)}, with more arguments for the script and more paths to read. */
    private static TestServer start(List<String> moreArgs, List<String> moreReads,
            UnaryOperator<KvmServerOptions.Builder> options) throws Exception {
        assumeTrue(Files.isExecutable(PYTHON), "skipped: /usr/bin/python3 is not installed");
        Path stdlib = PYTHON.toRealPath().getParent().getParent().resolve("lib")
                .resolve(PYTHON.toRealPath().getFileName().toString());
        List<String> args = new ArrayList<>(List.of(SCRIPT.toString(), "PORT"));
        args.addAll(moreArgs);
        List<String> reads = new ArrayList<>(List.of(stdlib.toString(), SCRIPT.getParent().toString()));
        reads.addAll(moreReads);
        return TestServer.start(PYTHON, List.of(), b -> options.apply(b.args(args).allowRead(reads)));
    }

    /**
     * A request VM is a fork of the template: libraries that must not share their state with a
     * child notice a fork by {@code getpid()} alone (OpenSSL 3's random generator, Python's
     * tempfile names). With the template's pid in every VM, every request drew the same OpenSSL
     * bytes (node's crypto, TLS server randoms and key shares alike: review of 2026-12-04 night).
     */
    @Test
    void everyRequestDrawsFreshRandomnessFromTheLibrariesOwnGenerators() throws Exception {
        // OpenSSL's library and configuration, which the ssl module loads at run time.
        try (TestServer s = start(List.of("random"), List.of("/usr/lib", "/etc/ssl"),
                b -> b.ephemeral(true).threads(2))) {
            Set<String> randoms = new HashSet<>();
            Set<String> names = new HashSet<>();
            for (int i = 0; i < 6; i++) {
                String[] answer = s.get("/").split(" ");
                randoms.add(answer[0]);
                names.add(answer[1]);
            }
            assertThat(randoms).as("OpenSSL's random bytes, one per request").hasSize(6);
            assertThat(names).as("tempfile names, one per request").hasSize(6);
        }
    }

    @Test
    void servesEveryConnectionFromAPristinePythonProcess() throws Exception {
        try (TestServer s = start(b -> b.ephemeral(true).threads(2))) {
            for (int i = 0; i < 30; i++) {
                assertThat(s.get("/")).as("request %d", i).isEqualTo("python served=1");
            }
            ServerStats stats = s.server().stats();
            assertThat(Eventually.reaches(() -> stats.requests(ServerStats.Outcome.OK), 30)).isEqualTo(30);
            assertThat(stats.failures()).isZero();
        }
    }

    /**
     * Without ephemeral the VM is a long-lived server process: a client that keeps a connection
     * open and silent for longer than {@code max-request-time}, while other clients come and go,
     * is no runaway request. The VM is waiting for its clients the whole time; it is neither
     * stopped nor reset (the process's count goes on), and the silent client is answered at last.
     */
    @Test
    void withoutEphemeralAnIdleConnectionOutlivesTheRequestTimeLimit() throws Exception {
        try (TestServer s = start(b -> b.ephemeral(false).threads(1).maxRequestTime(Duration.ofSeconds(1)));
                Socket silent = new Socket()) {
            silent.connect(new InetSocketAddress("127.0.0.1", s.port()), 5_000);
            silent.setSoTimeout(10_000);
            OutputStream out = silent.getOutputStream();
            out.write("GET / HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            int served = 0;
            long end = System.nanoTime() + Duration.ofMillis(2500).toNanos();
            while (System.nanoTime() < end) {
                String body = s.get("/");
                assertThat(body).as("a request while the silent connection is open").startsWith("python served=");
                served = Integer.parseInt(body.substring("python served=".length()));
                Thread.sleep(200);
            }
            out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = silent.getInputStream();
            String answer = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
            assertThat(answer).as("the silent client's answer").endsWith("python served=" + (served + 1));
            ServerStats stats = s.server().stats();
            assertThat(stats.requests(ServerStats.Outcome.TIMEOUT)).isZero();
            assertThat(stats.resets()).isZero();
        }
    }
}
