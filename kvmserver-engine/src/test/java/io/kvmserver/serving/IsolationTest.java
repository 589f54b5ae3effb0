package io.kvmserver.serving;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.config.Volume;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What one request leaves behind: in ephemeral mode nothing (memory, heap, fds; files are the
 * one thing that persists, because they are outside the VM), without it the state carries over.
 */
@RequiresKvm
class IsolationTest {

    @Test
    void ephemeralRequestsAlwaysSeePristineMemoryAndFds(@TempDir Path state) {
        try (TestServer s = start(state, true, 2)) {
            for (int i = 0; i < 20; i++) {
                assertThat(s.get("/counter")).isEqualTo("global=1 heap=1");
                assertThat(s.get("/fd")).as("fd numbering starts over").isEqualTo("fd=6");
            }
        }
    }

    @Test
    void aSecretWrittenByOneRequestIsNeverVisibleToTheNext(@TempDir Path state) {
        try (TestServer s = start(state, true, 2)) {
            for (int i = 0; i < 20; i++) {
                assertThat(s.get("/secret/token" + i)).isEqualTo("stored");
                assertThat(s.get("/peek")).isEqualTo("pristine");
            }
        }
    }

    @Test
    void withoutEphemeralStateCarriesOver(@TempDir Path state) {
        try (TestServer s = start(state, false, 1)) {
            for (int i = 1; i <= 10; i++) {
                assertThat(s.get("/counter")).isEqualTo("global=" + i + " heap=" + i);
            }
            assertThat(s.get("/secret/kept")).isEqualTo("stored");
            assertThat(s.get("/peek")).isEqualTo("kept");
            assertThat(s.get("/fd")).isEqualTo("fd=6");
            assertThat(s.get("/fd")).isEqualTo("fd=7");
        }
    }

    @Test
    void filesInAWritableVolumeOutliveTheRequestButItsFdsDoNot(@TempDir Path state) throws Exception {
        try (TestServer s = start(state, true, 1)) {
            assertThat(s.get("/file")).isEqualTo("lines=1");
            assertThat(s.get("/file")).isEqualTo("lines=2");
            assertThat(Files.readAllLines(state.resolve("state.txt"))).hasSize(2);
            assertThat(s.get("/fd")).isEqualTo("fd=6");
        }
    }

    private static TestServer start(Path state, boolean ephemeral, int threads) {
        return TestServer.start(GuestPrograms.get("http_server"), List.of("/state"),
                b -> b.ephemeral(ephemeral).threads(threads)
                        .volumes(List.of(new Volume(state.toString(), "/state", true))));
    }
}
