package io.kvmserver.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.Eventually;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The engine's own failures on a request VM's thread (no guest can cause them, so the test makes
 * them happen): the worker throws its VM away, forks a new one and serves on, never leaving the
 * server a VM short.
 */
@RequiresKvm
class EngineFailureTest {

    @AfterEach
    void noMoreFailures() {
        RequestWorker.beforeRun = id -> { };
    }

    @Test
    void aVmThreadThatMeetsAnOutOfMemoryErrorReplacesItsVmAndServesOn() {
        try (TestServer s = TestServer.start(GuestPrograms.get("http_server"), List.of(), b -> b.ephemeral(true)
                .threads(1))) {
            assertThat(s.get("/")).isNotEmpty();
            AtomicInteger failures = new AtomicInteger(3);
            RequestWorker.beforeRun = id -> {
                if (failures.getAndDecrement() > 0) {
                    throw new OutOfMemoryError("injected by the test");
                }
            };
            for (int i = 0; i < 5; i++) {
                assertThat(s.get("/")).as("request %d", i).contains("hello");
            }
            assertThat(failures.get()).isNegative();
            assertThat(s.server().aliveVms()).isEqualTo(1);
            assertThat(Eventually.reaches(() -> s.server().stats().failedResets(), 3)).isEqualTo(3);
        }
    }
}
