package io.kvmserver.serving;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.server.ServerStats;
import io.kvmserver.testing.Eventually;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.GuestPrograms.Linking;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** A C epoll HTTP server, static and dynamic, serving hundreds of connections in every mode. */
@RequiresKvm
class ServingTest {

    @ParameterizedTest(name = "{0} threads={1} ephemeral={2}")
    @CsvSource({
        "STATIC, 1, true", "STATIC, 2, true", "STATIC, 1, false", "STATIC, 2, false",
        "DYNAMIC, 1, true", "DYNAMIC, 2, true", "DYNAMIC, 1, false", "DYNAMIC, 2, false",
    })
    void servesHundredsOfConnections(Linking linking, int threads, boolean ephemeral) {
        int requests = 200;
        try (TestServer s = TestServer.start(GuestPrograms.get("http_server", linking), List.of(),
                b -> b.threads(threads).ephemeral(ephemeral))) {
            for (int i = 0; i < requests; i++) {
                assertThat(s.get("/")).as("request %d", i).isEqualTo("hello");
            }
            ServerStats stats = s.server().stats();
            assertThat(stats.failures()).isZero();
            if (ephemeral) {
                assertThat(Eventually.reaches(() -> stats.requests(ServerStats.Outcome.OK), requests))
                        .isEqualTo(requests);
                assertThat(Eventually.reaches(stats::resets, requests)).isEqualTo(requests);
            } else {
                assertThat(stats.resets()).isZero();
            }
            assertThat(s.server().aliveVms()).isEqualTo(threads);
        }
    }
}
