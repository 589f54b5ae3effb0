package io.kvmserver.sample;

import static org.assertj.core.api.Assertions.assertThat;

import com.jayway.jsonpath.JsonPath;
import io.kvmserver.autoconfigure.KvmServerLifecycle;
import io.kvmserver.server.KvmServer;
import io.kvmserver.testing.RequiresKvm;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The sample application as a user runs it, with its own application.yml (only the application's
 * port is moved; the guest listens privately, so it needs no free port): the guest answers
 * through the routes on the application's port beside a plain controller, Spring Security stops
 * an unauthenticated request to the private route before any VM runs, the probes answer, and a
 * normal run logs no warning.
 */
@RequiresKvm
@ExtendWith(OutputCaptureExtension.class)
class SampleApplicationTests {

    private static final String C_HELLO = "Hello from a KVM-isolated C server! Requests this process has served: 1\n";

    @Test
    void theCServerServesIsolatedRequestsThroughTheRoutesAndStopsCleanly(CapturedOutput output) throws Exception {
        try (ConfigurableApplicationContext context = SpringApplication.run(SampleApplication.class,
                "--server.port=0")) {
            for (int i = 0; i < 3; i++) {
                assertThat(SampleRuns.get(context, "/guest/hello").body()).as("request %d", i).isEqualTo(C_HELLO);
            }
            assertThat(SampleRuns.get(context, "/spring").body()).isEqualTo("Hello from Spring!\n");
            KvmServer server = context.getBean(KvmServerLifecycle.class).getServer();
            assertThat(server.listenAddress()).as("no TCP port").isNull();
            assertThat(server.route().address()).isEqualTo("127.0.0.1:8000");
            assertThat(JsonPath.<String>read(SampleRuns.get(context, "/actuator/health").body(),
                    "$.components.kvmserver.status")).isEqualTo("UP");
            assertThat(SampleRuns.get(context, "/actuator/health/readiness").statusCode()).isEqualTo(200);
            assertThat(SampleRuns.get(context, "/actuator/health/liveness").statusCode()).isEqualTo(200);
            assertThat(SampleRuns.get(context, "/actuator/kvmserver").body()).contains("\"state\":\"serving\"",
                    "\"args\":[\"******\"]", "\"routeAddress\":\"127.0.0.1:8000\"");
        }
        SampleRuns.assertCleanLog(output);
    }

    @Test
    void theSecurityFilterStopsAnUnauthenticatedRequestBeforeAnyVmRuns(CapturedOutput output) throws Exception {
        try (ConfigurableApplicationContext context = SpringApplication.run(SampleApplication.class,
                "--server.port=0")) {
            KvmServer server = context.getBean(KvmServerLifecycle.class).getServer();
            MeterRegistry meters = context.getBean(MeterRegistry.class);
            long exits = server.vms().stream().mapToLong(KvmServer.VmState::exits).sum();
            HttpResponse<String> refused = SampleRuns.get(context, "/private/report");
            assertThat(refused.statusCode()).isEqualTo(401);
            assertThat(refused.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(
                    (challenge) -> assertThat(challenge).startsWith("Basic"));
            assertThat(SampleRuns.get(context, "/private/report", "demo", "wrong").statusCode()).isEqualTo(401);
            Thread.sleep(200); // a VM that had been reached would have ended its request by now
            assertThat(server.stats().requests()).as("requests that reached a VM").isZero();
            assertThat(server.vms().stream().mapToLong(KvmServer.VmState::exits).sum()).as("exits of the request VMs")
                .isEqualTo(exits);
            assertThat(meters.find("kvmserver.route.requests").timers()).as("routed requests").isEmpty();

            HttpResponse<String> allowed = SampleRuns.get(context, "/private/report", "demo", "kvmserver");
            assertThat(allowed.statusCode()).isEqualTo(200);
            assertThat(allowed.body()).isEqualTo(C_HELLO);
        }
        SampleRuns.assertCleanLog(output);
    }

    @Test
    void thePythonProfileServesTheUnmodifiedInterpreterWithoutWarnings(CapturedOutput output) throws Exception {
        try (ConfigurableApplicationContext context = SpringApplication.run(SampleApplication.class,
                "--spring.profiles.active=python", "--server.port=0")) {
            for (int i = 0; i < 2; i++) {
                assertThat(SampleRuns.get(context, "/guest/").body())
                    .isEqualTo("Hello from a KVM-isolated Python server! Requests this process has served: 1\n");
            }
            assertThat(SampleRuns.get(context, "/actuator/health/readiness").statusCode()).isEqualTo(200);
        }
        SampleRuns.assertCleanLog(output);
        assertThat(output.getAll()).contains("kvmserver.guest.stderr", "\"GET /guest/ HTTP/1.1\" 200");
    }

}
