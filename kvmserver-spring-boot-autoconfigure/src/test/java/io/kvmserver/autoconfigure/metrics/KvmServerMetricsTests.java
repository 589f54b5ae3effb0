package io.kvmserver.autoconfigure.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.autoconfigure.KvmServerAutoConfiguration;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.Http;
import io.kvmserver.testing.RequiresKvm;
import io.micrometer.core.instrument.MeterRegistry;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/** The meters of a real server, and what a scrape costs. */
@RequiresKvm
class KvmServerMetricsTests {

    private final ApplicationContextRunner runner = new ApplicationContextRunner().withConfiguration(
            AutoConfigurations.of(KvmServerAutoConfiguration.class, KvmServerMetricsAutoConfiguration.class,
                    MetricsAutoConfiguration.class, CompositeMeterRegistryAutoConfiguration.class,
                    SimpleMetricsExportAutoConfiguration.class));

    @Test
    void aScrapeReadsProcAtMostOnceForEveryResidentMemoryGauge() {
        int port = Http.freePort();
        this.runner
            .withPropertyValues("kvmserver.program=" + GuestPrograms.get("http_server"), "kvmserver.args=" + port,
                    "kvmserver.threads=2", "kvmserver.permissions.allow-listen=127.0.0.1:" + port,
                    "kvmserver.limits.max-main-memory=256MB")
            .run((context) -> {
                assertThat(Http.get(port, "/")).isEqualTo("hello");
                MeterRegistry registry = context.getBean(MeterRegistry.class);
                KvmServerMetrics metrics = context.getBean(KvmServerMetrics.class);
                int before = metrics.residentMemoryPasses();
                double template = registry.get("kvmserver.memory.resident").tag("vm", "template").gauge().value();
                double requests = registry.get("kvmserver.memory.resident").tag("vm", "request").gauge().value();
                registry.get("kvmserver.memory.resident").tag("vm", "template").gauge().value();

                assertThat(template).isPositive();
                assertThat(requests).isPositive();
                assertThat(metrics.residentMemoryPasses() - before).isLessThanOrEqualTo(1);
                Thread.sleep(ResidentMemorySampler.MAX_AGE.toMillis() + 100);
                registry.get("kvmserver.memory.resident").tag("vm", "request").gauge().value();
                assertThat(metrics.residentMemoryPasses()).isGreaterThan(before);
            });
    }

}
