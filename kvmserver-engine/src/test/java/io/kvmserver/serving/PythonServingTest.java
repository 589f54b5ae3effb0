package io.kvmserver.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.kvmserver.server.ServerStats;
import io.kvmserver.testing.Eventually;
import io.kvmserver.testing.Fixtures;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The distribution's python3 running an unmodified asyncio HTTP server, one VM per connection. */
@RequiresKvm
class PythonServingTest {

    private static final Path PYTHON = Path.of("/usr/bin/python3");
    private static final Path SCRIPT = Fixtures.file("python", "asyncio_server.py");

    @Test
    void servesEveryConnectionFromAPristinePythonProcess() throws Exception {
        assumeTrue(Files.isExecutable(PYTHON), "skipped: /usr/bin/python3 is not installed");
        Path stdlib = PYTHON.toRealPath().getParent().getParent().resolve("lib")
                .resolve(PYTHON.toRealPath().getFileName().toString());
        try (TestServer s = TestServer.start(PYTHON, List.of(), b -> b
                .args(List.of(SCRIPT.toString(), "PORT"))
                .allowRead(List.of(stdlib.toString(), SCRIPT.getParent().toString()))
                .ephemeral(true).threads(2))) {
            for (int i = 0; i < 30; i++) {
                assertThat(s.get("/")).as("request %d", i).isEqualTo("python served=1");
            }
            ServerStats stats = s.server().stats();
            assertThat(Eventually.reaches(() -> stats.requests(ServerStats.Outcome.OK), 30)).isEqualTo(30);
            assertThat(stats.failures()).isZero();
        }
    }
}
