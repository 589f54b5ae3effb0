package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.linux.SyscallTable;
import io.kvmserver.server.ServerStats;
import io.kvmserver.testing.Eventually;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import io.kvmserver.config.KvmServerOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Host objects the template and every request VM share ({@code hostile_isolation.c}): the
 * listening socket, and the pipe, socketpair, eventfd and timerfd the template made before it
 * was frozen, and a FIFO it opened and unlinked. No request may change them for another client or the next request.
 */
@RequiresKvm
class SharedHostObjectsTest {

    private static final String PRISTINE =
            "pipe=template-pipe pair=template-pair event=5 timer=armed fifo=template-fifo";

    /** The guest opens {@code template.fifo} twice, writes into it and unlinks it before the freeze. */
    private static TestServer start(Path dir, UnaryOperator<KvmServerOptions.Builder> options) {
        mkfifo(dir.resolve("template.fifo"));
        return TestServer.start(GuestPrograms.get("hostile_isolation"), List.of(dir.toString(), dir.toString()),
                b -> options.apply(b.allowWrite(List.of(dir.toString()))));
    }

    @Test
    void bytesWrittenIntoTheTemplatesPipesAndCountersNeverReachTheNextRequest(@TempDir Path dir) {
        long bugs = SyscallTable.emulationBugs();
        try (TestServer s = start(dir, b -> b.ephemeral(true).threads(1))) {
            assertThat(s.get("/shared/read")).isEqualTo(PRISTINE);
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/shared/write")).isEqualTo("wrote");
                assertThat(s.get("/shared/read")).as("after write number %d", i + 1).isEqualTo(PRISTINE);
            }
        }
        assertThat(SyscallTable.emulationBugs()).isEqualTo(bugs);
    }

    @Test
    void withoutEphemeralTheProgramSeesWhatItWroteItself(@TempDir Path dir) {
        try (TestServer s = start(dir, b -> b.ephemeral(false).threads(1))) {
            assertThat(s.get("/shared/read")).isEqualTo(PRISTINE);
            assertThat(s.get("/shared/write")).isEqualTo("wrote");
            assertThat(s.get("/shared/read")).isEqualTo("pipe=LEAK pair=LEAK event=100 timer=disarmed fifo=LEAK");
        }
    }

    @Test
    void noRequestCanBindTheServersAddressEvenWithReusePort(@TempDir Path dir) throws Exception {
        try (TestServer s = start(dir, b -> b.ephemeral(true).threads(2).allowNet(true).allowListen(List.of()))) {
            CompletableFuture<String> attack = CompletableFuture.supplyAsync(() -> s.get("/listener/hijack"));
            for (int i = 0; i < 20; i++) {
                assertThat(s.get("/normal/" + i)).as("a client while another request attacks").isEqualTo("ok " + i);
            }
            assertThat(attack.get(30, TimeUnit.SECONDS))
                    .isEqualTo("reuseport=0 bind=EADDRINUSE wildcard=EADDRINUSE v6any=EADDRINUSE");
        }
    }

    @Test
    void shuttingDownOrTuningTheListenerChangesNothingForOtherRequests(@TempDir Path dir) {
        try (TestServer s = start(dir, b -> b.ephemeral(true).threads(1))) {
            String options = s.get("/listener/options");
            assertThat(options).startsWith("rcvbuf=").contains("defer=0 linger=0");
            assertThat(s.get("/listener/break")).isEqualTo("broken shutdown=0 listen=0");
            for (int i = 0; i < 10; i++) {
                assertThat(s.get("/normal/" + i)).isEqualTo("ok " + i);
            }
            assertThat(s.get("/listener/options")).isEqualTo(options);
            ServerStats stats = s.server().stats();
            assertThat(Eventually.reaches(() -> stats.requests(ServerStats.Outcome.OK), 13)).isEqualTo(13);
            assertThat(stats.failures()).isZero();
        }
    }

    private static void mkfifo(Path path) {
        try {
            Process p = new ProcessBuilder("mkfifo", path.toString()).inheritIO().start();
            assertThat(p.waitFor()).as("mkfifo %s", path).isZero();
        } catch (Exception e) {
            throw new AssertionError("cannot make a FIFO for the test", e);
        }
    }
}
