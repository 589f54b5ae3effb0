package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.config.Volume;
import io.kvmserver.linux.SyscallTable;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two request VMs share a writable volume holding a directory {@code d} and a symlink {@code s}
 * to a directory outside the volume. One keeps swapping them ({@code renameat2(RENAME_EXCHANGE)});
 * the other reads, creates, makes directories and connects to unix sockets under {@code d}. Not
 * once may it reach the outside directory: its secret, a file created there, or the unix socket
 * listening there.
 */
@RequiresKvm
class VolumeRaceTest {

    private static final long RACE_MILLIS = Long.getLong("race.millis", 3000);

    @Test
    void swappingADirectoryAndASymlinkNeverLetsAnotherVmOutOfTheVolume(@TempDir Path tmp) throws Exception {
        Path volume = Files.createDirectories(tmp.resolve("volume"));
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        Files.writeString(outside.resolve("secret"), "outside-secret");
        Files.createDirectories(volume.resolve("d"));
        Files.writeString(volume.resolve("d/secret"), "inside");
        Files.createSymbolicLink(volume.resolve("s"), outside);
        AtomicInteger outsideConnections = new AtomicInteger();
        long bugs = SyscallTable.emulationBugs();
        try (ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            listener.bind(UnixDomainSocketAddress.of(outside.resolve("sock")));
            Thread acceptor = new Thread(() -> {
                try {
                    while (true) {
                        SocketChannel c = listener.accept();
                        outsideConnections.incrementAndGet();
                        c.close();
                    }
                } catch (Exception closed) {
                    // the test is over
                }
            });
            acceptor.setDaemon(true);
            acceptor.start();
            try (TestServer s = TestServer.start(GuestPrograms.get("hostile_isolation"), List.of("/data", "/data"),
                    b -> b.volumes(List.of(new Volume(volume.toString(), "/data", true))).ephemeral(true).threads(2))) {
                CompletableFuture<String> swapper = CompletableFuture.supplyAsync(
                        () -> s.get("/race/swap/" + RACE_MILLIS));
                CompletableFuture<String> prober = CompletableFuture.supplyAsync(
                        () -> s.get("/race/probe/" + RACE_MILLIS));
                String swaps = swapper.get(60, TimeUnit.SECONDS);
                String probes = prober.get(60, TimeUnit.SECONDS);
                assertThat(swaps).matches("swaps=\\d+");
                assertThat(Long.parseLong(swaps.substring(6))).as("the race must really run").isGreaterThan(10);
                assertThat(probes).as("probe results").matches("reads=\\d+ escapes=0 created=\\d+ dirs=\\d+ connects=0");
                assertThat(Long.parseLong(probes.replaceAll("reads=(\\d+).*", "$1")))
                        .as("reads inside the volume while it raced").isGreaterThan(0);
            }
        }
        assertThat(outsideConnections.get()).as("connections reaching the outside socket").isZero();
        try (Stream<Path> files = Files.list(outside)) {
            assertThat(files.map(p -> p.getFileName().toString())).as("what the race left outside")
                    .containsExactlyInAnyOrder("secret", "sock");
        }
        assertThat(Files.readString(outside.resolve("secret"))).isEqualTo("outside-secret");
        assertThat(SyscallTable.emulationBugs()).isEqualTo(bugs);
    }

    @Test
    void aDirfdFollowsItsDirectoryWhenItIsRenamed(@TempDir Path tmp) {
        try (TestServer s = TestServer.start(GuestPrograms.get("hostile_isolation"), List.of(tmp.toString(), "/"),
                b -> b.allowWrite(List.of(tmp.toString())).ephemeral(true))) {
            assertThat(s.get("/dirfd")).isEqualTo("rename=0 content=in dd");
            assertThat(s.get("/whiteout")).isEqualTo("whiteout=EPERM");
        }
    }
}
