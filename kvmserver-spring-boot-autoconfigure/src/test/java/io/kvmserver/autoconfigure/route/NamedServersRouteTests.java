package io.kvmserver.autoconfigure.route;

import static org.assertj.core.api.Assertions.assertThat;

import com.jayway.jsonpath.DocumentContext;
import com.jayway.jsonpath.JsonPath;
import io.kvmserver.autoconfigure.KvmServerLifecycle;
import io.kvmserver.testing.Fixtures;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.Http;
import io.kvmserver.testing.RequiresKvm;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Two named servers in one application, each with its own program, limits and route: the C
 * server and the unmodified python3 with an asyncio server, both behind routes of the same
 * application, each isolated per request, each with its own health component and meters.
 */
@RequiresKvm
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT,
        properties = { "management.endpoint.health.show-details=always",
                "management.endpoints.web.exposure.include=health,kvmserver" })
class NamedServersRouteTests {

    private static final int C_PORT = Http.freePort();

    private static final int PYTHON_PORT = Http.freePort();

    private static final int REQUESTS = 4;

    @LocalServerPort
    private int port;

    @Autowired
    private Map<String, KvmServerLifecycle> lifecycles;

    @Autowired
    private MeterRegistry meters;

    @DynamicPropertySource
    static void servers(DynamicPropertyRegistry registry) {
        registry.add("kvmserver.servers.c.program", () -> GuestPrograms.get("route_server").toString());
        registry.add("kvmserver.servers.c.args", () -> C_PORT);
        registry.add("kvmserver.servers.c.ephemeral", () -> true);
        registry.add("kvmserver.servers.c.limits.max-main-memory", () -> "256MB");
        registry.add("kvmserver.servers.c.route.address", () -> "127.0.0.1:" + C_PORT);
        registry.add("kvmserver.servers.c.route.paths", () -> "/counter");
        registry.add("kvmserver.servers.python.program", () -> "/usr/bin/python3");
        registry.add("kvmserver.servers.python.args",
                () -> Fixtures.file("python", "asyncio_server.py") + "," + PYTHON_PORT);
        registry.add("kvmserver.servers.python.ephemeral", () -> true);
        registry.add("kvmserver.servers.python.threads", () -> 2);
        registry.add("kvmserver.servers.python.permissions.allow-read",
                () -> "/usr," + Fixtures.directory("python"));
        registry.add("kvmserver.servers.python.limits.max-main-memory", () -> "1GB");
        registry.add("kvmserver.servers.python.limits.max-boot-time", () -> "60s");
        registry.add("kvmserver.servers.python.route.address", () -> "127.0.0.1:" + PYTHON_PORT);
        registry.add("kvmserver.servers.python.route.paths", () -> "/py/**");
    }

    @Test
    void eachServerServesItsRouteFromAPristineProcessWithHealthAndMetersOfItsOwn() throws Exception {
        assertThat(this.lifecycles).containsOnlyKeys("kvmServerLifecycle-c", "kvmServerLifecycle-python");
        RouteClient client = new RouteClient(this.port);
        for (int i = 0; i < REQUESTS; i++) {
            assertThat(client.get("/counter").body()).as("C request %d", i).isEqualTo("counter=1");
            assertThat(client.get("/py/anything?x=" + i).body()).as("python request %d", i)
                .isEqualTo("python served=1");
        }
        RouteClient.waitFor(() -> this.lifecycles.values().stream()
            .allMatch((lifecycle) -> lifecycle.getServer().stats().resets() >= REQUESTS));
        for (String server : new String[] { "c", "python" }) {
            assertThat(this.meters.get("kvmserver.requests").tag("server", server).tag("outcome", "ok")
                .functionTimer()
                .count()).as("requests of %s", server).isEqualTo(REQUESTS);
            RouteClient.waitFor(() -> this.meters.find("kvmserver.route.requests")
                .tag("server", server)
                .tag("outcome", "ok")
                .timers()
                .stream()
                .mapToLong((timer) -> timer.count())
                .sum() == REQUESTS);
        }

        DocumentContext health = JsonPath.parse(client.get("/actuator/health").body());
        assertThat(health.<String>read("$.components.kvmserver.status")).isEqualTo("UP");
        for (String server : new String[] { "c", "python" }) {
            assertThat(health.<String>read("$.components.kvmserver.components." + server + ".status")).isEqualTo("UP");
            assertThat(health.<String>read("$.components.kvmserver.components." + server + ".details.server"))
                .isEqualTo(server);
            assertThat(health.<String>read("$.components.kvmserver.components." + server + ".details.routeAddress"))
                .isEqualTo("127.0.0.1:" + (server.equals("c") ? C_PORT : PYTHON_PORT));
        }
        assertThat(client.get("/actuator/health/kvmserver/python").statusCode()).isEqualTo(200);

        DocumentContext endpoint = JsonPath.parse(client.get("/actuator/kvmserver").body());
        assertThat(endpoint.<Map<String, Object>>read("$.servers")).containsOnlyKeys("c", "python");
        assertThat(JsonPath.parse(client.get("/actuator/kvmserver/python").body()).<Integer>read("$.vms.length()"))
            .isEqualTo(2);
        assertThat(client.get("/actuator/kvmserver/nope").statusCode()).isEqualTo(404);
    }

    @SpringBootConfiguration
    @EnableAutoConfiguration
    static class Application {

    }

}
