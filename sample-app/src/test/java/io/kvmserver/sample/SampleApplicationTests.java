package io.kvmserver.sample;

import static org.assertj.core.api.Assertions.assertThat;

import com.jayway.jsonpath.JsonPath;
import io.kvmserver.testing.Http;
import io.kvmserver.testing.RequiresKvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The sample application as a user runs it, with its own application.yml (only the ports are
 * moved, so that the test does not collide with anything else on the machine): it starts,
 * serves, answers its probes and stops, and a normal run logs no warning.
 */
@RequiresKvm
@ExtendWith(OutputCaptureExtension.class)
class SampleApplicationTests {

    @Test
    void theCServerServesIsolatedRequestsAndStopsCleanly(CapturedOutput output) throws Exception {
        int guest = Http.freePort();
        try (ConfigurableApplicationContext context = SpringApplication.run(SampleApplication.class,
                "--server.port=0", "--kvmserver.args=" + guest,
                "--kvmserver.permissions.allow-listen=127.0.0.1:" + guest)) {
            for (int i = 0; i < 3; i++) {
                assertThat(Http.get(guest, "/"))
                    .isEqualTo("Hello from a KVM-isolated C server! Requests this process has served: 1\n");
            }
            assertThat(JsonPath.<String>read(SampleRuns.get(context, "/actuator/health").body(),
                    "$.components.kvmserver.status")).isEqualTo("UP");
            assertThat(SampleRuns.get(context, "/actuator/health/readiness").statusCode()).isEqualTo(200);
            assertThat(SampleRuns.get(context, "/actuator/health/liveness").statusCode()).isEqualTo(200);
            assertThat(SampleRuns.get(context, "/actuator/kvmserver").body()).contains("\"state\":\"serving\"",
                    "\"args\":[\"******\"]");
        }
        SampleRuns.assertCleanLog(output);
    }

    @Test
    void thePythonProfileServesTheUnmodifiedInterpreterWithoutWarnings(CapturedOutput output) throws Exception {
        int guest = Http.freePort();
        try (ConfigurableApplicationContext context = SpringApplication.run(SampleApplication.class,
                "--spring.profiles.active=python", "--server.port=0",
                "--kvmserver.args=classpath:guest/hello_server.py," + guest,
                "--kvmserver.permissions.allow-listen=127.0.0.1:" + guest)) {
            for (int i = 0; i < 2; i++) {
                assertThat(Http.get(guest, "/"))
                    .isEqualTo("Hello from a KVM-isolated Python server! Requests this process has served: 1\n");
            }
            assertThat(SampleRuns.get(context, "/actuator/health/readiness").statusCode()).isEqualTo(200);
        }
        SampleRuns.assertCleanLog(output);
        assertThat(output.getAll()).contains("kvmserver.guest.stderr", "\"GET / HTTP/1.1\" 200");
    }

}
