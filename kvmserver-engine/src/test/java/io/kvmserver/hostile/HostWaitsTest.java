package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.linux.GuestConsole;
import io.kvmserver.server.ServerStats;
import io.kvmserver.testing.Eventually;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No host call made for a guest outlasts the request's time limit or the server's shutdown: a
 * FIFO without a peer, a blocking read on it, a console that does not take output, a timeout
 * too large to add to a clock. The server keeps serving with a single VM.
 */
@RequiresKvm
class HostWaitsTest {

    private static final Duration LIMIT = Duration.ofMillis(1500);

    private static TestServer start(Path dir, GuestConsole console, UnaryOperator<KvmServerOptions.Builder> more)
            throws Exception {
        Files.deleteIfExists(dir.resolve("fifo"));
        new ProcessBuilder("mkfifo", dir.resolve("fifo").toString()).start().waitFor();
        return TestServer.start(GuestPrograms.get("hostile_isolation"), List.of(dir.toString(), dir.toString()),
                b -> more.apply(b.allowWrite(List.of(dir.toString())).ephemeral(true).threads(1)
                        .maxRequestTime(LIMIT)), console);
    }

    @Test
    void blockingFifoCallsEndAtTheRequestTimeLimitAndTheOnlyVmServesOn(@TempDir Path dir) throws Exception {
        try (TestServer s = start(dir, (stream, address, length) -> length, b -> b)) {
            assertThat(s.get("/fifo/read")).as("open for reading with no writer: at once, then EOF")
                    .isEqualTo("read=0");
            for (String blocking : List.of("/fifo/write", "/fifo/block", "/ppoll")) {
                assertThat(s.get(blocking)).as(blocking).doesNotContain("open=").doesNotContain("returned=");
                assertThat(s.get("/normal/1")).as("served after " + blocking).isEqualTo("ok 1");
            }
            ServerStats stats = s.server().stats();
            assertThat(Eventually.reaches(() -> stats.requests(ServerStats.Outcome.TIMEOUT), 3)).isEqualTo(3);
        }
    }

    /**
     * One readv of a 1 TiB sparse file into 1,024 buffers of 16 MiB: a regular file's read that no
     * kick interrupts. Found by the review of 2026-12-04 late: the vector was never cut (Linux cuts
     * it at 0x7ffff000 bytes) and each buffer was read whatever the time limit, so one call held
     * the only VM for most of a minute past it. Now it is cut, and the time limit stops it between
     * buffers: the VM serves on within a buffer's read of its limit.
     */
    @Test
    void aHugeVectorReadOfARegularFileEndsAtTheRequestTimeLimit(@TempDir Path dir) throws Exception {
        try (java.io.RandomAccessFile sparse = new java.io.RandomAccessFile(dir.resolve("sparse").toFile(), "rw")) {
            sparse.setLength(1L << 40);
        }
        try (TestServer s = start(dir, (stream, address, length) -> length, b -> b)) {
            long started = System.nanoTime();
            assertThat(s.get("/readv/sparse")).as("answered by nobody: the time limit ends it").doesNotContain("readv=");
            Duration took = Duration.ofNanos(System.nanoTime() - started);
            assertThat(s.get("/normal/4")).isEqualTo("ok 4");
            assertThat(took).as("the request past its %s limit", LIMIT).isLessThan(LIMIT.plusSeconds(2));
            ServerStats stats = s.server().stats();
            assertThat(Eventually.reaches(() -> stats.requests(ServerStats.Outcome.TIMEOUT), 1)).isEqualTo(1);
        }
    }

    /**
     * A lingering close waits for the peer to take the data: set on the host socket, the reset
     * that closes a connection whose client reads nothing would hold the only VM for a minute.
     */
    @Test
    void aLingeringCloseNeverHoldsTheVm(@TempDir Path dir) throws Exception {
        try (TestServer s = start(dir, (stream, address, length) -> length, b -> b)) {
            assertThat(s.get("/linger/set")).as("the program sees the option it set").isEqualTo("linger=1,60");
            try (Socket unread = new Socket("127.0.0.1", s.port())) {
                unread.getOutputStream().write("GET /linger/flood HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                assertThat(s.get("/normal/3")).as("served while the first client still reads nothing")
                        .isEqualTo("ok 3");
            }
            ServerStats stats = s.server().stats();
            assertThat(Eventually.reaches(() -> stats.requests(ServerStats.Outcome.TIMEOUT), 1)).isEqualTo(1);
        }
    }

    @Test
    void aConsoleThatTakesNothingNeverHoldsAVmPastItsLimit(@TempDir Path dir) throws Exception {
        CountDownLatch never = new CountDownLatch(1);
        GuestConsole stuck = (stream, address, length) -> {
            try {
                never.await(); // a stdout pipe nobody reads
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return length;
        };
        TestServer s = start(dir, stuck, b -> b);
        try {
            s.get("/stdout/flood");
            assertThat(s.get("/normal/2")).isEqualTo("ok 2");
            ServerStats stats = s.server().stats();
            assertThat(Eventually.reaches(() -> stats.requests(ServerStats.Outcome.TIMEOUT), 1)).isEqualTo(1);
        } finally {
            never.countDown();
            s.close();
        }
    }

    @Test
    void shutdownDoesNotWaitForAVmBlockedInTheHost(@TempDir Path dir) throws Exception {
        TestServer s = start(dir, (stream, address, length) -> length, b -> b.maxRequestTime(Duration.ofMinutes(10)));
        CompletableFuture<String> blocked = CompletableFuture.supplyAsync(() -> s.get("/fifo/write"));
        assertThat(Eventually.reaches(() -> s.server().busyVms(), 1)).isEqualTo(1);
        CompletableFuture<Void> closing = CompletableFuture.runAsync(() -> s.server().close(Duration.ofMillis(500)));
        closing.get(30, TimeUnit.SECONDS); // a host wait that ignored shutdown would hang here
        assertThat(s.server().aliveVms()).isZero();
        blocked.get(30, TimeUnit.SECONDS);
    }
}
