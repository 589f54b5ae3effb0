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

    /**
     * A SIGTERM while the program boots ends the boot at once, and the application with it: a
     * platform gives a terminated application seconds (Kubernetes: 30), and a boot may take up
     * to max-boot-time, while Spring Boot's shutdown waits for the context's start. Found by the
     * review of 2026-12-05 (later): a SIGTERM two seconds into a boot of 40 s was acted on 38.9 s
     * later. Here the application runs in a JVM of its own, booting a program that never waits
     * for connections, with 60 s to do it; 20 s is the margin for a loaded machine.
     */
    @Test
    void aSigtermWhileTheProgramBootsEndsTheApplicationAtOnce() throws Exception {
        java.nio.file.Path log = java.nio.file.Files.createTempFile("kvmserver-boot-abort", ".log");
        Process application = new ProcessBuilder(
                java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), BootingApplication.class.getName(),
                "--spring.main.banner-mode=off", "--kvmserver.program=" + GuestPrograms.get("boot_loop"),
                "--kvmserver.limits.max-boot-time=60s", "--kvmserver.limits.max-main-memory=256MB")
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
        try {
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
            while (!java.nio.file.Files.readString(log).contains("kvmserver: starting") && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            Thread.sleep(500); // well into the boot
            assertThat(application.isAlive()).as(java.nio.file.Files.readString(log)).isTrue();
            application.destroy(); // SIGTERM
            assertThat(application.waitFor(20, java.util.concurrent.TimeUnit.SECONDS))
                .as("ended by the SIGTERM: %s", java.nio.file.Files.readString(log))
                .isTrue();
        }
        finally {
            application.destroyForcibly();
            java.nio.file.Files.deleteIfExists(log);
        }
    }

    /** The application of {@link #aSigtermWhileTheProgramBootsEndsTheApplicationAtOnce}, in a JVM of its own. */
    @org.springframework.context.annotation.Configuration(proxyBeanMethods = false)
    @org.springframework.boot.autoconfigure.EnableAutoConfiguration
    static class BootingApplication {

        public static void main(String[] args) {
            new SpringApplicationBuilder(BootingApplication.class).web(WebApplicationType.NONE).run(args);
        }

    }

}
