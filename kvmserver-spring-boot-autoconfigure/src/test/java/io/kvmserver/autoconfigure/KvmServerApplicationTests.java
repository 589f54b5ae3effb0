package io.kvmserver.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;

import com.jayway.jsonpath.DocumentContext;
import com.jayway.jsonpath.JsonPath;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.Http;
import io.kvmserver.testing.RequiresKvm;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * A whole application with the real engine: the guest serves over loopback while the
 * application serves Actuator, and health, meters and the endpoint report what happened. The
 * tests share the context and run in order: the counts of the second include the first.
 */
@RequiresKvm
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT,
        properties = { "management.endpoint.health.show-details=always",
                "management.endpoints.web.exposure.include=health,kvmserver,metrics",
                "management.endpoint.kvmserver.show-values=always" })
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KvmServerApplicationTests {

    private static final int GUEST_PORT = Http.freePort();

    private static final int REQUESTS = 25;

    @LocalServerPort
    private int port;

    @Autowired
    private MeterRegistry registry;

    @Autowired
    private KvmServerLifecycle lifecycle;

    @DynamicPropertySource
    static void guest(DynamicPropertyRegistry registry) {
        registry.add("kvmserver.program", () -> GuestPrograms.get("http_server").toString());
        registry.add("kvmserver.args", () -> GUEST_PORT);
        registry.add("kvmserver.ephemeral", () -> true);
        registry.add("kvmserver.threads", () -> 2);
        registry.add("kvmserver.permissions.allow-listen", () -> "127.0.0.1:" + GUEST_PORT);
        registry.add("kvmserver.limits.max-main-memory", () -> "256MB");
    }

    @Test
    @Order(1)
    void servesIsolatedRequestsAndReportsThem() throws Exception {
        for (int i = 0; i < REQUESTS; i++) {
            // Ephemeral: every connection sees the template's pristine counters.
            assertThat(Http.get(GUEST_PORT, "/counter")).as("request %d", i).isEqualTo("global=1 heap=1");
        }
        waitFor(() -> this.lifecycle.getServer().stats().resets() == REQUESTS);

        FunctionTimer ok = this.registry.get("kvmserver.requests")
            .tag("outcome", "ok")
            .tag("server", "default")
            .functionTimer();
        assertThat(ok.count()).isEqualTo(REQUESTS);
        assertThat(ok.totalTime(TimeUnit.NANOSECONDS)).isPositive();
        assertThat(this.registry.get("kvmserver.requests").tag("outcome", "crash").functionTimer().count()).isZero();
        assertThat(this.registry.get("kvmserver.resets").functionTimer().count()).isEqualTo(REQUESTS);
        assertThat(this.registry.get("kvmserver.reset.pages").functionCounter().count()).isPositive();
        assertThat(this.registry.get("kvmserver.vm.exits").functionCounter().count()).isPositive();
        assertThat(this.registry.get("kvmserver.vm.run.time").functionCounter().count()).isPositive()
            .isLessThan(ok.totalTime(TimeUnit.NANOSECONDS));
        assertThat(this.registry.get("kvmserver.vms").tag("state", "idle").gauge().value()).isEqualTo(2);
        assertThat(this.registry.get("kvmserver.vms").tag("state", "busy").gauge().value()).isZero();
        assertThat(this.registry.get("kvmserver.template.memory").gauge().value()).isPositive();
        assertThat(this.registry.get("kvmserver.memory.resident").tag("vm", "template").gauge().value()).isPositive();
        // Each request VM keeps the pages its requests dirtied as private copies (working memory).
        assertThat(this.registry.get("kvmserver.memory.resident").tag("vm", "request").gauge().value()).isPositive();
        assertThat(this.registry.get("kvmserver.denials").tag("kind", "listen").functionCounter().count()).isZero();
        // Each ephemeral request accepts, writes and closes exactly once, and reads at least once.
        for (String call : new String[] {"accept4", "write", "close"}) {
            assertThat(this.registry.get("kvmserver.syscalls").tag("name", call).functionCounter().count())
                .as(call).isEqualTo(REQUESTS);
        }
        assertThat(this.registry.get("kvmserver.syscalls").tag("name", "read").functionCounter().count())
            .isGreaterThanOrEqualTo(REQUESTS);

        DocumentContext health = JsonPath.parse(actuator("/actuator/health"));
        assertThat(health.<String>read("$.status")).isEqualTo("UP");
        Map<String, Object> kvmserver = health.read("$.components.kvmserver");
        assertThat(kvmserver).containsEntry("status", "UP");
        assertThat(health.<Map<String, Object>>read("$.components.kvmserver.details"))
            .containsEntry("program", GuestPrograms.get("http_server").toString())
            .containsEntry("threads", 2)
            .containsEntry("ready", 2)
            .containsEntry("busy", 0)
            .containsEntry("ephemeral", true)
            .containsEntry("requests", REQUESTS)
            .containsEntry("resets", REQUESTS)
            .containsEntry("failures", 0)
            .containsEntry("listenAddress", "127.0.0.1:" + GUEST_PORT)
            .containsEntry("state", "serving")
            .containsEntry("stuck", 0);

        assertThat(JsonPath.parse(actuator("/actuator/kvmserver")).<Map<String, Object>>read("$.servers"))
            .containsOnlyKeys("default");
        DocumentContext endpoint = JsonPath.parse(actuator("/actuator/kvmserver/default"));
        assertThat(endpoint.<Boolean>read("$.running")).isTrue();
        assertThat(endpoint.<Integer>read("$.vms.length()")).isEqualTo(2);
        assertThat(endpoint.<Integer>read("$.stats.requests")).isEqualTo(REQUESTS);
        assertThat(endpoint.<Integer>read("$.syscalls.accept4")).isGreaterThanOrEqualTo(REQUESTS);
        assertThat(endpoint.<String>read("$.state")).isEqualTo("serving");
        assertThat(endpoint.<Integer>read("$.options.settleTimeMillis")).isZero();
        assertThat(endpoint.<Object>read("$.timerDueAtFreezeMillis")).as("the C server waits without a timer").isNull();
        assertThat(endpoint.<List<String>>read("$.options.args")).containsExactly(String.valueOf(GUEST_PORT));
        assertThat(endpoint.<Integer>read("$.vms[0].requestMillis")).isZero();
    }

    @Test
    @Order(2)
    void failedRequestsAreCountedByOutcomeAndReportedInHealth() throws Exception {
        assertThat(Http.get(GUEST_PORT, "/crash")).startsWith("NO-RESPONSE");
        waitFor(() -> this.lifecycle.getServer().stats().resets() == REQUESTS + 1);
        assertThat(this.registry.get("kvmserver.requests").tag("outcome", "crash").functionTimer().count())
            .isEqualTo(1);
        DocumentContext health = JsonPath.parse(actuator("/actuator/health"));
        assertThat(health.<String>read("$.components.kvmserver.status")).isEqualTo("UP");
        DocumentContext endpoint = JsonPath.parse(actuator("/actuator/kvmserver"));
        assertThat(endpoint.<String>read("$.servers.default.stats.lastFailure")).startsWith("CRASH");
        assertThat(Http.get(GUEST_PORT, "/")).isEqualTo("hello");
    }

    private String actuator(String path) throws Exception {
        HttpResponse<String> response = HttpClient.newHttpClient()
            .send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + this.port + path)).build(),
                    HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as("status of %s", path).isEqualTo(200);
        return response.body();
    }

    static void waitFor(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("condition not met within 10 s").isLessThan(deadline);
            Thread.sleep(10);
        }
    }

    @SpringBootConfiguration
    @EnableAutoConfiguration
    static class Application {

    }

}
