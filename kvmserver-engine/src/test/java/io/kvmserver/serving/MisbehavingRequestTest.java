package io.kvmserver.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.server.KvmServer;
import io.kvmserver.server.KvmServerException;
import io.kvmserver.server.ServerStats;
import io.kvmserver.testing.Eventually;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** A request that loops, crashes, exits or floods memory is cut off; the next one is served. */
@RequiresKvm
class MisbehavingRequestTest {

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({"/loop, TIMEOUT", "/sleep, TIMEOUT", "/crash, CRASH", "/exit, EXIT", "/alloc/64, MEMORY_LIMIT"})
    void aBadRequestIsStoppedAndTheServerGoesOn(String path, ServerStats.Outcome outcome) {
        try (TestServer s = TestServer.start(GuestPrograms.get("http_server"), List.of(),
                b -> b.ephemeral(true).threads(1).maxRequestTime(Duration.ofSeconds(1))
                        .maxRequestMemory(16L << 20))) {
            assertThat(s.get("/counter")).isEqualTo("global=1 heap=1");
            assertThat(s.get(path)).doesNotContain("allocated");
            ServerStats stats = s.server().stats();
            assertThat(Eventually.reaches(() -> stats.requests(outcome), 1)).isEqualTo(1);
            for (int i = 0; i < 5; i++) {
                assertThat(s.get("/counter")).isEqualTo("global=1 heap=1");
            }
            assertThat(stats.lastFailure()).isNotBlank();
        }
    }

    /**
     * Without ephemeral a request that spins or sleeps is stopped all the same: the VM is not
     * waiting for its clients (see {@code PythonServingTest} for one that is, and is left alone).
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"/loop, at RIP 0x", "/sleep, waiting in clock_nanosleep("})
    void withoutEphemeralARequestThatNeverWaitsForClientsIsStopped(String path, String where) {
        try (TestServer s = TestServer.start(GuestPrograms.get("http_server"), List.of(),
                b -> b.ephemeral(false).threads(1).maxRequestTime(Duration.ofSeconds(1)))) {
            assertThat(s.get("/counter")).isEqualTo("global=1 heap=1");
            s.get(path);
            ServerStats stats = s.server().stats();
            assertThat(Eventually.reaches(() -> stats.requests(ServerStats.Outcome.TIMEOUT), 1)).isEqualTo(1);
            assertThat(stats.lastFailure()).as("where the log says the program was").contains(where);
            assertThat(s.get("/counter")).as("served by the reset VM").isEqualTo("global=1 heap=1");
        }
    }

    @Test
    void aDeniedListenStopsStartupWithAClearError() {
        int port = TestServer.freePort();
        KvmServerOptions options = KvmServerOptions.builder()
                .program(GuestPrograms.get("http_server").toString())
                .args(List.of(Integer.toString(port)))
                .cwd(Path.of("").toAbsolutePath().toString())
                .allowListen(List.of("127.0.0.1:" + (port == 65535 ? 1 : port + 1)))
                .maxBootTime(Duration.ofSeconds(30)).maxMainMemory(1L << 30).build();
        assertThatThrownBy(() -> KvmServer.start(options, (stream, address, length) -> length, Map.of()))
                .isInstanceOf(KvmServerException.class)
                .hasMessageContaining("exited with status 1 before it waited for connections");
    }

    @Test
    void aDeniedConnectGetsEacces() {
        int port = TestServer.freePort();
        GuestRun.Outcome denied = GuestRun.run(GuestPrograms.get("net_client"), List.of(Integer.toString(port)));
        assertThat(denied.stdout()).isEqualTo("connect=-1 errno=13\n");
        GuestRun.Outcome allowed = GuestRun.run(GuestPrograms.get("net_client"), List.of(Integer.toString(port)),
                b -> b.allowConnect(List.of("127.0.0.1:" + port)));
        assertThat(allowed.stdout()).as("allowed, but nobody listens").isEqualTo("connect=-1 errno=111\n");
    }

    @Test
    void servesOnAUnixSocketInAWritableVolume(@TempDir Path dir) throws Exception {
        KvmServerOptions options = KvmServerOptions.builder()
                .program(GuestPrograms.get("unix_server").toString())
                .args(List.of("/run/app.sock"))
                .cwd("/")
                .volumes(List.of(new io.kvmserver.config.Volume(dir.toString(), "/run", true)))
                .ephemeral(true)
                .maxBootTime(Duration.ofSeconds(30)).maxMainMemory(1L << 30).build();
        try (KvmServer server = KvmServer.start(options, (stream, address, length) -> length, Map.of())) {
            for (int i = 0; i < 10; i++) {
                try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                    ch.connect(UnixDomainSocketAddress.of(dir.resolve("app.sock")));
                    InputStream in = Channels.newInputStream(ch);
                    assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8)).isEqualTo("unix hello");
                }
            }
            assertThat(Eventually.reaches(server.stats()::resets, 10)).isEqualTo(10);
        }
    }

    /**
     * The server's socket and the directories to it may not be moved (EBUSY), and their modes may
     * not be taken away either: a chmod to 0 by one request would persist and lock out every
     * client that is not root (review of 2026-12-04 night).
     */
    @Test
    void noRequestTakesTheModesOfTheServedSocketOrItsDirectoryAway(@TempDir Path dir) throws Exception {
        KvmServerOptions options = KvmServerOptions.builder()
                .program(GuestPrograms.get("unix_server").toString())
                .args(List.of("/run/app.sock", "chmod"))
                .cwd("/")
                .volumes(List.of(new io.kvmserver.config.Volume(dir.toString(), "/run", true)))
                .ephemeral(true)
                .maxBootTime(Duration.ofSeconds(30)).maxMainMemory(1L << 30).build();
        try (KvmServer server = KvmServer.start(options, (stream, address, length) -> length, Map.of())) {
            Path socket = dir.resolve("app.sock");
            var socketMode = Files.getPosixFilePermissions(socket);
            var dirMode = Files.getPosixFilePermissions(dir);
            for (int i = 0; i < 2; i++) {
                try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                    ch.connect(UnixDomainSocketAddress.of(socket));
                    InputStream in = Channels.newInputStream(ch);
                    assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8))
                            .isEqualTo("chmod socket=EPERM dir=EPERM fchmod dir=EPERM\nunix hello");
                }
            }
            assertThat(Files.getPosixFilePermissions(socket)).isEqualTo(socketMode);
            assertThat(Files.getPosixFilePermissions(dir)).isEqualTo(dirMode);
        }
    }
}
