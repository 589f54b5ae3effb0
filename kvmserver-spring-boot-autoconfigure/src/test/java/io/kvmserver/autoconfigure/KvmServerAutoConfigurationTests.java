package io.kvmserver.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.autoconfigure.endpoint.KvmServerEndpoint;
import io.kvmserver.autoconfigure.endpoint.KvmServerEndpointAutoConfiguration;
import io.kvmserver.autoconfigure.health.KvmServerHealthContributorAutoConfiguration;
import io.kvmserver.autoconfigure.health.KvmServerHealthIndicator;
import io.kvmserver.autoconfigure.metrics.KvmServerMetrics;
import io.kvmserver.autoconfigure.metrics.KvmServerMetricsAutoConfiguration;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.Http;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.elf.ElfException;
import io.kvmserver.linux.GuestConsole;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.springframework.boot.actuate.endpoint.SanitizingFunction;
import org.springframework.boot.actuate.endpoint.SecurityContext;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.io.DefaultResourceLoader;

/** Conditions of the auto-configurations, and the beans they contribute. */
class KvmServerAutoConfigurationTests {

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(KvmServerAutoConfiguration.class,
                KvmServerHealthContributorAutoConfiguration.class, KvmServerMetricsAutoConfiguration.class,
                KvmServerEndpointAutoConfiguration.class, MetricsAutoConfiguration.class,
                CompositeMeterRegistryAutoConfiguration.class, SimpleMetricsExportAutoConfiguration.class));

    @Test
    void backsOffWithoutProgram() {
        this.runner.run((context) -> assertThat(context).hasNotFailed()
            .doesNotHaveBean(KvmServerLifecycle.class)
            .doesNotHaveBean(KvmServerProperties.class)
            .doesNotHaveBean(KvmServerHealthIndicator.class)
            .doesNotHaveBean(KvmServerMetrics.class));
    }

    @Test
    void backsOffWhenDisabledEvenWithProgram() {
        this.runner.withPropertyValues("kvmserver.enabled=false", "kvmserver.program=/srv/server")
            .run((context) -> assertThat(context).hasNotFailed().doesNotHaveBean(KvmServerLifecycle.class));
    }

    @Test
    void enabledWithoutProgramFailsNamingTheProperty() {
        this.runner.withPropertyValues("kvmserver.enabled=true")
            .run((context) -> assertThat(context.getStartupFailure()).rootCause()
                .hasMessage("kvmserver.program must be set to the executable to run"));
    }

    @Test
    @RequiresKvm
    void startsTheServerWithHealthMetricsAndEndpoint() {
        int port = Http.freePort();
        this.runner.withPropertyValues(serverProperties(port))
            .withPropertyValues("management.endpoints.web.exposure.include=kvmserver")
            .run((context) -> {
                assertThat(context).hasNotFailed()
                    .hasSingleBean(KvmServerLifecycle.class)
                    .hasSingleBean(Slf4jGuestConsole.class)
                    .hasSingleBean(KvmServerHealthIndicator.class)
                    .hasSingleBean(KvmServerMetrics.class)
                    .hasSingleBean(KvmServerEndpoint.class);
                assertThat(context.getBean(KvmServerLifecycle.class).isRunning()).isTrue();
                assertThat(Http.get(port, "/")).isEqualTo("hello");
                assertThat(context.getBean(KvmServerHealthIndicator.class).health().getStatus()).isEqualTo(Status.UP);
                assertThat(context.getBean(KvmServerEndpoint.class).server(SecurityContext.NONE, "default").vms())
                    .hasSize(1);
                // Arguments may hold secrets: hidden unless show-values says otherwise.
                assertThat(context.getBean(KvmServerEndpoint.class)
                    .kvmserver(SecurityContext.NONE)
                    .servers()
                    .get("default")
                    .options()
                    .args()).containsExactly("******");
            });
    }

    @Test
    @RequiresKvm
    void endpointShowsValuesWhenAllowedThroughTheSanitizingFunctions() {
        int port = Http.freePort();
        this.runner.withUserConfiguration(SanitizingConfiguration.class)
            .withPropertyValues(serverProperties(port))
            .withPropertyValues("kvmserver.args=" + port + ",--token=secret",
                    "management.endpoints.web.exposure.include=kvmserver",
                    "management.endpoint.kvmserver.show-values=always")
            .run((context) -> assertThat(
                    context.getBean(KvmServerEndpoint.class).server(SecurityContext.NONE, "default").options().args())
                .containsExactly(String.valueOf(port), "<token>"));
    }

    @Test
    @RequiresKvm
    void metricsBackOffWithoutAMeterRegistry() {
        new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(KvmServerAutoConfiguration.class,
                    KvmServerMetricsAutoConfiguration.class))
            .withPropertyValues(serverProperties(Http.freePort()))
            .run((context) -> assertThat(context).hasNotFailed()
                .hasSingleBean(KvmServerLifecycle.class)
                .doesNotHaveBean(KvmServerMetrics.class));
    }

    @Test
    void theServerIsNotStartedButEverythingIsCheckedWhenTheBeanIsCreated() {
        this.runner.withPropertyValues("kvmserver.program=/nonexistent/server")
            .run((context) -> assertThat(context.getStartupFailure()).rootCause()
                .isInstanceOf(ElfException.class)
                .hasMessage("program /nonexistent/server does not exist"));
    }

    @Test
    @RequiresKvm
    void endpointIsNotCreatedUnlessExposed() {
        this.runner.withPropertyValues(serverProperties(Http.freePort()))
            .run((context) -> assertThat(context).hasNotFailed().doesNotHaveBean(KvmServerEndpoint.class));
    }

    @Test
    @RequiresKvm
    void healthIndicatorCanBeDisabled() {
        this.runner.withPropertyValues(serverProperties(Http.freePort()))
            .withPropertyValues("management.health.kvmserver.enabled=false")
            .run((context) -> assertThat(context).hasNotFailed().doesNotHaveBean(KvmServerHealthIndicator.class));
    }

    @Test
    @RequiresKvm
    void userConsoleAndCustomizersAreUsed() {
        int port = Http.freePort();
        this.runner.withUserConfiguration(UserConsoleConfiguration.class)
            .withPropertyValues(serverProperties(port))
            .run((context) -> {
                assertThat(context).hasNotFailed().doesNotHaveBean(Slf4jGuestConsole.class);
                // The guest prints "listening on <port>" when it starts.
                assertThat(context.getBean(UserConsoleConfiguration.class).written.get()).isPositive();
                assertThat(context.getBean(KvmServerLifecycle.class).getServer().threads()).isEqualTo(2);
            });
    }

    @Test
    void userLifecycleWins() {
        this.runner.withUserConfiguration(UserLifecycleConfiguration.class)
            .withPropertyValues("kvmserver.program=/srv/server")
            .run((context) -> assertThat(context).hasNotFailed()
                .getBean(KvmServerLifecycle.class)
                .isSameAs(context.getBean(UserLifecycleConfiguration.class).lifecycle));
    }

    static String[] serverProperties(int port) {
        return new String[] { "kvmserver.program=" + GuestPrograms.get("http_server"), "kvmserver.args=" + port,
                "kvmserver.permissions.allow-listen=127.0.0.1:" + port, "kvmserver.limits.max-main-memory=256MB" };
    }

    @Configuration(proxyBeanMethods = false)
    static class SanitizingConfiguration {

        @Bean
        SanitizingFunction hideTokens() {
            return (data) -> String.valueOf(data.getValue()).startsWith("--token=") ? data.withValue("<token>") : data;
        }

    }

    @Configuration(proxyBeanMethods = false)
    static class UserConsoleConfiguration {

        final AtomicLong written = new AtomicLong();

        @Bean
        GuestConsole userConsole() {
            return (stream, address, length) -> {
                this.written.addAndGet(length);
                return length;
            };
        }

        @Bean
        KvmServerOptionsCustomizer twoThreads() {
            return (builder) -> builder.threads(2);
        }

    }

    @Configuration(proxyBeanMethods = false)
    static class UserLifecycleConfiguration {

        /** Never started: its start is a no-op because it is created as already stopped. */
        final KvmServerLifecycle lifecycle = new KvmServerLifecycle(
                new KvmServerProperties(false, null, List.of(), null, List.of(), 1, false, true, false, false, false,
                        new KvmServerProperties.Warmup(0, "/", java.time.Duration.ZERO),
                        new KvmServerProperties.Permissions(false, List.of(), List.of(), List.of(), false, List.of(),
                                List.of(), List.of()),
                        null, null, null, java.util.Map.of()),
                (stream, address, length) -> length, List.of(), new DefaultResourceLoader(), Duration.ofSeconds(1)) {

            @Override
            public boolean isAutoStartup() {
                return false;
            }

        };

        @Bean
        KvmServerLifecycle userLifecycle() {
            return this.lifecycle;
        }

    }

}
