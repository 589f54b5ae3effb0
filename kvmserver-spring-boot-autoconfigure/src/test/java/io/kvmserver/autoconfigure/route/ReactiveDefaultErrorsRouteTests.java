package io.kvmserver.autoconfigure.route;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.Http;
import io.kvmserver.testing.RequiresKvm;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * A WebFlux application with routes and no error handling of its own: Spring Boot's answers the
 * route's failures with their status. Found by the review of 2026-12-05: Boot's WebFlux error
 * handling knew only a {@code ResponseStatusException}, so every route failure was a 500, logged at
 * ERROR with its stack trace (the program decided how many), and a busy route lost its
 * {@code Retry-After}.
 */
@RequiresKvm
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT,
        properties = "spring.main.web-application-type=reactive")
@ExtendWith(OutputCaptureExtension.class)
class ReactiveDefaultErrorsRouteTests {

    private static final int GUEST_PORT = Http.freePort();

    @LocalServerPort
    private int port;

    @DynamicPropertySource
    static void guest(DynamicPropertyRegistry registry) {
        registry.add("kvmserver.ephemeral", () -> true);
        registry.add("kvmserver.limits.max-main-memory", () -> "256MB");
        registry.add("kvmserver.route.paths", () -> "/crash,/status/**");
        registry.add("kvmserver.program", () -> GuestPrograms.get("route_server").toString());
        registry.add("kvmserver.args", () -> GUEST_PORT);
        registry.add("kvmserver.route.address", () -> "127.0.0.1:" + GUEST_PORT);
    }

    @Test
    void routeFailuresAreAnsweredWithTheirStatusAndLoggedWithoutAStack(CapturedOutput output) throws Exception {
        RouteClient client = new RouteClient(this.port);
        HttpResponse<String> crash = client.get("/crash");
        assertThat(crash.statusCode()).as(crash.body()).isEqualTo(502);
        assertThat(crash.body()).doesNotContain("RIP", "segmentation");
        assertThat(client.get("/status/999").statusCode()).isEqualTo(502);
        assertThat(output.getAll()).doesNotContain("KvmServerRouteException").doesNotContain("ERROR");
    }

    @SpringBootConfiguration
    @EnableAutoConfiguration
    static class Application {

    }

}
