package io.kvmserver.sample;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.autoconfigure.KvmServerLifecycle;
import io.kvmserver.testing.RequiresKvm;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.env.YamlPropertySourceLoader;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.core.env.PropertySource;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.env.SystemEnvironmentPropertySource;
import org.springframework.core.io.ClassPathResource;
import org.yaml.snakeyaml.Yaml;

/**
 * The Kubernetes manifest of docs/kubernetes.md, parsed and held against the sample application:
 * its ports are the sample's, its probes ask health groups the sample answers, its shutdown leaves
 * the sample's graceful phase time to finish, it asks for /dev/kvm, and its environment really
 * configures the sample (the test starts the sample with it).
 */
class KubernetesManifestTests {

    private static final Path DOC = Path.of("../docs/kubernetes.md");

    private static Map<String, Object> deployment;

    private static Map<String, Object> container;

    private static Map<String, Object> service;

    private static Map<String, Object> autoscaler;

    private static PropertySource<?> sampleConfiguration;

    @BeforeAll
    static void readManifestAndSampleConfiguration() throws IOException {
        List<String> blocks = ReadmeApplicationTests.yamlBlocks(DOC, "## The manifest");
        assertThat(blocks).hasSize(1);
        for (Object document : new Yaml().loadAll(blocks.get(0))) {
            Map<String, Object> resource = map(document);
            switch ((String) resource.get("kind")) {
                case "Deployment" -> deployment = resource;
                case "Service" -> service = resource;
                case "HorizontalPodAutoscaler" -> autoscaler = resource;
                default -> throw new AssertionError("unexpected " + resource.get("kind"));
            }
        }
        container = map(list(at(deployment, "spec", "template", "spec", "containers")).get(0));
        sampleConfiguration = new YamlPropertySourceLoader()
            .load("application.yml", new ClassPathResource("application.yml"))
            .get(0);
    }

    /** One port: the application's, where its routes reach the guest, which listens privately. */
    @Test
    void portsAreTheSamples() {
        assertThat(list(container.get("ports"))).singleElement()
            .satisfies((port) -> assertThat(map(port)).containsEntry("name", "http"));
        assertThat(containerPort("http")).isEqualTo(sampleConfiguration.getProperty("server.port"));
        assertThat(sampleConfiguration.getProperty("kvmserver.route.address")).isNotNull();
        assertThat(sampleConfiguration.getProperty("kvmserver.route.paths[0]")).isNotNull();
        assertThat(environment()).doesNotContainKeys("KVMSERVER_PERMISSIONS_ALLOWLISTEN");
        assertThat(list(at(service, "spec", "ports"))).singleElement()
            .satisfies((port) -> assertThat(map(port)).containsEntry("targetPort", "http"));
    }

    @Test
    void probesUseTheHealthGroupsAndCoverTheBoot() {
        assertThat(at(container, "livenessProbe", "httpGet", "path")).isEqualTo("/actuator/health/liveness");
        assertThat(at(container, "readinessProbe", "httpGet", "path")).isEqualTo("/actuator/health/readiness");
        assertThat(at(container, "startupProbe", "httpGet", "path")).isEqualTo("/actuator/health/liveness");
        for (String probe : List.of("livenessProbe", "readinessProbe", "startupProbe")) {
            assertThat(at(container, probe, "httpGet", "port")).as(probe).isEqualTo("http");
        }
        int startupSeconds = (Integer) at(container, "startupProbe", "periodSeconds")
                * (Integer) at(container, "startupProbe", "failureThreshold");
        Object configuredBoot = sampleConfiguration.getProperty("kvmserver.limits.max-boot-time");
        Duration boot = Duration.parse("PT" + ((configuredBoot != null) ? configuredBoot : "20s").toString()
            .toUpperCase());
        assertThat(Duration.ofSeconds(startupSeconds)).isGreaterThan(boot.plusSeconds(10));
        assertThat(String.valueOf(sampleConfiguration.getProperty(
                "management.endpoint.health.group.readiness.include"))).contains("kvmserver");
    }

    @Test
    void shutdownLeavesTheGracefulPhaseItsTime() {
        Duration phase = Duration.parse("PT" + String.valueOf(
                sampleConfiguration.getProperty("spring.lifecycle.timeout-per-shutdown-phase")).toUpperCase());
        int preStop = (Integer) at(container, "lifecycle", "preStop", "sleep", "seconds");
        int grace = (Integer) at(deployment, "spec", "template", "spec", "terminationGracePeriodSeconds");
        assertThat(Duration.ofSeconds(grace)).isGreaterThan(phase.plusSeconds(preStop));
    }

    @Test
    void thePodAsksForKvm() {
        assertThat(map(at(container, "resources", "limits"))).containsEntry("devices.kubevirt.io/kvm", "1");
    }

    @Test
    void theAutoscalerScalesOnTheBusyVmsThatTheAdapterRuleNames() throws IOException {
        Map<String, Object> metric = map(list(at(autoscaler, "spec", "metrics")).get(0));
        String name = (String) at(metric, "pods", "metric", "name");
        List<String> rules = ReadmeApplicationTests.yamlBlocks(DOC, "## Scaling on a kvmserver meter");
        Map<String, Object> rule = map(list(map(new Yaml().load(rules.get(0))).get("rules")).get(0));
        assertThat(at(rule, "name", "as")).isEqualTo(name);
        assertThat((String) rule.get("seriesQuery")).isEqualTo("kvmserver_vms{state=\"busy\"}");
        assertThat(at(autoscaler, "spec", "scaleTargetRef", "name")).isEqualTo(at(deployment, "metadata", "name"));
    }

    /**
     * Starts the sample with the manifest's environment and asks it what the probes ask, and what
     * the Service sends it: a request for the guest, through the routes.
     */
    @Test
    @RequiresKvm
    void theManifestsEnvironmentConfiguresTheSampleAndItsProbesAnswer() throws Exception {
        Map<String, Object> variables = new HashMap<>(environment());
        // Named like the process environment, so that Spring maps the variables' names the same way.
        StandardEnvironment environment = new StandardEnvironment();
        environment.getPropertySources().addFirst(new SystemEnvironmentPropertySource("manifest-systemEnvironment", variables));
        try (ConfigurableApplicationContext context = new SpringApplicationBuilder(SampleApplication.class)
            .environment(environment)
            .web(WebApplicationType.SERVLET)
            .run("--server.port=0")) {
            assertThat(context.getBean(KvmServerLifecycle.class).getServer().threads())
                .isEqualTo(Integer.parseInt(environment().get("KVMSERVER_THREADS")));
            assertThat(SampleRuns.get(context, "/guest/").body()).startsWith("Hello from a KVM-isolated C server!");
            for (String probe : List.of("livenessProbe", "readinessProbe", "startupProbe")) {
                assertThat(SampleRuns.get(context, (String) at(container, probe, "httpGet", "path")).statusCode())
                    .as(probe)
                    .isEqualTo(200);
            }
            assertThat(context.getBean(MeterRegistry.class).find("kvmserver.vms").tag("state", "busy").gauge())
                .isNotNull();
        }
    }

    private static int containerPort(String name) {
        return list(container.get("ports")).stream()
            .map(KubernetesManifestTests::map)
            .filter((port) -> name.equals(port.get("name")))
            .map((port) -> (Integer) port.get("containerPort"))
            .findFirst()
            .orElseThrow();
    }

    private static Map<String, String> environment() {
        Map<String, String> variables = new HashMap<>();
        for (Object each : list(container.get("env"))) {
            variables.put((String) map(each).get("name"), String.valueOf(map(each).get("value")));
        }
        return variables;
    }

    private static Object at(Map<String, Object> root, String... path) {
        Object node = root;
        for (String key : path) {
            assertThat(node).as("%s in the manifest", String.join(".", path)).isInstanceOf(Map.class);
            node = map(node).get(key);
        }
        return node;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object node) {
        return (Map<String, Object>) node;
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object node) {
        return new ArrayList<>((List<Object>) node);
    }

}
