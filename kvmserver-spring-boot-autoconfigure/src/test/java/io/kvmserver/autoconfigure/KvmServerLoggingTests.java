package io.kvmserver.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.autoconfigure.KvmServerLifecycle.State;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.Http;
import io.kvmserver.testing.RequiresKvm;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * What a Spring user reads in the log: guest output at INFO on one logger per stream, denials on
 * {@code kvmserver.denials} in property names (expected probes quiet, everything with
 * {@code kvmserver.verbose}), request limits in property names, and a line when the server has
 * stopped.
 */
@ExtendWith(OutputCaptureExtension.class)
@RequiresKvm
class KvmServerLoggingTests {

    @Test
    void probesEveryProgramMakesDoNotWarnAndRealDenialsDoInPropertyNames(CapturedOutput output) {
        int port = Http.freePort();
        int other = Http.freePort();
        try (ConfigurableApplicationContext context = run(GuestPrograms.get("probing_server"), port + ",0," + other,
                "--kvmserver.permissions.allow-listen=127.0.0.1:" + port)) {
            assertThat(context.getBean(KvmServerLifecycle.class).getState()).isEqualTo(State.SERVING);
            assertThat(Http.get(port, "/")).isEqualTo("hello");
        }
        List<String> warnings = lines(output, " WARN ");
        assertThat(warnings).singleElement().asString()
            .contains("kvmserver.denials", "denied connect 127.0.0.1:" + other
                    + ": allow it with kvmserver.permissions.allow-connect=127.0.0.1:" + other
                    + " or kvmserver.permissions.allow-net");
        assertThat(output.getAll()).doesNotContain("nscd", "127.0.0.53", "/etc/hostname", "--allow");
        assertThat(lines(output, "kvmserver.guest.stdout")).singleElement().asString()
            .contains(" INFO ", "listening on " + port);
        assertThat(lines(output, "KvmServerLifecycle")).anySatisfy((line) -> assertThat(line)
            .contains("kvmserver: stopped " + GuestPrograms.get("probing_server") + " after 1 request"));
    }

    @Test
    void verboseShowsEveryDenialOnce(CapturedOutput output) {
        serveOneRequest("--kvmserver.verbose=true");
        List<String> denials = lines(output, "kvmserver.denials");
        assertThat(denials).allSatisfy((line) -> assertThat(line).contains(" INFO "));
        assertThat(denials).anySatisfy((line) -> assertThat(line).contains(
                "denied read /etc/hostname: allow it with kvmserver.permissions.allow-read"));
        assertThat(denials).anySatisfy((line) -> assertThat(line).contains("denied connect 127.0.0.53:53",
                "(a probe most programs make and do without)"));
        assertThat(denials).anySatisfy((line) -> assertThat(line).contains("denied unix-socket /var/run/nscd/socket"));
    }

    @Test
    void traceLogsEverySystemCallOfTheTemplateAndTheRequestVms(CapturedOutput output) {
        serveOneRequest("--kvmserver.trace=true");
        List<String> trace = lines(output, "io.kvmserver.trace");
        assertThat(trace).allSatisfy((line) -> assertThat(line).contains(" INFO "));
        assertThat(trace).anySatisfy((line) -> assertThat(line).contains("template tid 1: openat(AT_FDCWD,"
                + " \"/etc/hostname\"", "[denied read /etc/hostname: allow it with kvmserver.permissions.allow-read"));
        assertThat(trace).anySatisfy((line) -> assertThat(line).contains("template tid 1: listen(")
            .endsWith(") = 0"));
        assertThat(trace).anySatisfy((line) -> assertThat(line).contains("request VM 0 tid 1: accept"));
    }

    @Test
    void guestOutputLevelsAreConfigurablePerStream(CapturedOutput output) {
        int port = serveOneRequest("--kvmserver.output.stdout-level=warn");
        assertThat(lines(output, "kvmserver.guest.stdout")).singleElement().asString()
            .contains(" WARN ", "listening on " + port);
    }

    /** Runs probing_server with {@code property}, sends it one request, stops it; returns its port. */
    private static int serveOneRequest(String property) {
        int port = Http.freePort();
        try (ConfigurableApplicationContext context = run(GuestPrograms.get("probing_server"), String.valueOf(port),
                "--kvmserver.permissions.allow-listen=127.0.0.1:" + port, property)) {
            assertThat(context.getBean(KvmServerLifecycle.class).getState()).isEqualTo(State.SERVING);
            assertThat(Http.get(port, "/")).isEqualTo("hello");
        }
        return port;
    }

    @Test
    void aRequestPastItsTimeLimitIsReportedWithThePropertyName(CapturedOutput output) throws Exception {
        int port = Http.freePort();
        try (ConfigurableApplicationContext context = run(GuestPrograms.get("http_server"), String.valueOf(port),
                "--kvmserver.permissions.allow-listen=127.0.0.1:" + port, "--kvmserver.ephemeral=true",
                "--kvmserver.limits.max-request-time=1s")) {
            assertThat(context.getBean(KvmServerLifecycle.class).getState()).isEqualTo(State.SERVING);
            assertThat(Http.get(port, "/loop")).startsWith("NO-RESPONSE");
            KvmServerApplicationTests.waitFor(() -> output.getAll().contains("resetting the VM"));
        }
        assertThat(output.getAll()).contains("request ran past kvmserver.limits.max-request-time 1.0 s")
            .doesNotContain("--max-request-time");
    }

    private static ConfigurableApplicationContext run(Object program, String args, String... properties) {
        List<String> all = new ArrayList<>(List.of("--spring.main.banner-mode=off",
                "--spring.lifecycle.timeout-per-shutdown-phase=2s", "--kvmserver.program=" + program,
                "--kvmserver.args=" + args, "--kvmserver.limits.max-main-memory=256MB"));
        all.addAll(List.of(properties));
        return new SpringApplicationBuilder(KvmServerApplicationTests.Application.class).web(WebApplicationType.NONE)
            .run(all.toArray(String[]::new));
    }

    private static List<String> lines(CapturedOutput output, String containing) {
        return output.getAll().lines().filter((line) -> line.contains(containing)).toList();
    }

}
