package io.kvmserver.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.Http;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.server.KvmServer;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/** Closing the application stops the server within Spring Boot's shutdown phase timeout. */
@RequiresKvm
class KvmServerShutdownTests {

    @Test
    void closingTheContextDrainsWithinTheShutdownPhaseTimeoutAndStopsEveryVm() throws Exception {
        int port = Http.freePort();
        ConfigurableApplicationContext context = new SpringApplicationBuilder(
                KvmServerApplicationTests.Application.class)
            .web(WebApplicationType.NONE)
            .properties("spring.main.banner-mode=off", "spring.lifecycle.timeout-per-shutdown-phase=1s",
                    "kvmserver.program=" + GuestPrograms.get("http_server"), "kvmserver.args=" + port,
                    "kvmserver.ephemeral=true", "kvmserver.threads=2",
                    "kvmserver.permissions.allow-listen=127.0.0.1:" + port, "kvmserver.limits.max-request-time=60s",
                    "kvmserver.limits.max-main-memory=256MB")
            .run();
        KvmServerLifecycle lifecycle = context.getBean(KvmServerLifecycle.class);
        KvmServer server = lifecycle.getServer();
        assertThat(Http.get(port, "/")).isEqualTo("hello");

        // A request that would spin until max-request-time (60 s): shutdown waits for it only
        // for the shutdown phase timeout, then cuts it.
        CompletableFuture<String> spinning = CompletableFuture.supplyAsync(() -> Http.get(port, "/loop"));
        KvmServerApplicationTests.waitFor(() -> server.busyVms() == 1);
        long start = System.nanoTime();
        context.close();
        long millis = (System.nanoTime() - start) / 1_000_000;

        // The request got most of the 1 s phase (drain time 800 ms) and was then cut.
        assertThat(millis).as("shutdown time").isBetween(700L, 10_000L);
        assertThat(spinning.get()).startsWith("NO-RESPONSE");
        assertThat(lifecycle.isRunning()).isFalse();
        assertThat(lifecycle.getServer()).isNull();
        assertThat(server.isRunning()).isFalse();
        assertThat(server.aliveVms()).isZero();
        assertThat(Http.get(port, "/")).startsWith("ERROR:");
    }

}
