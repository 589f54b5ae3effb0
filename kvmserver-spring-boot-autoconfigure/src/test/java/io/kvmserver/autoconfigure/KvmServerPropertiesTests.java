package io.kvmserver.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.config.InvalidOptionException;
import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.config.Option;
import io.kvmserver.config.OptionNaming;
import io.kvmserver.config.Volume;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.springframework.boot.context.properties.bind.UnboundConfigurationPropertiesException;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Configuration;
import org.springframework.util.unit.DataSize;

/**
 * Binding and validation of {@code kvmserver.*}: every property, its default, and messages that
 * name the property. Binding happens without starting a server.
 */
class KvmServerPropertiesTests {

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
        .withUserConfiguration(PropertiesConfiguration.class);

    @Test
    void defaultsAreThoseOfTheCppKvmserver() {
        this.runner.withPropertyValues("kvmserver.program=/srv/server").run((context) -> {
            KvmServerProperties properties = context.getBean(KvmServerProperties.class);
            assertThat(properties.isEnabled()).isTrue();
            assertThat(properties.getThreads()).isOne();
            assertThat(properties.getLimits().getMaxBootTime()).isEqualTo(Duration.ofSeconds(20));
            assertThat(properties.getLimits().getMaxMainMemory()).isEqualTo(DataSize.ofMegabytes(8192));
            KvmServerOptions options = properties.toOptions("/srv/server", List.of(), List.of()).build();
            assertThat(options).isEqualTo(
                    KvmServerOptions.builder().program("/srv/server").naming(OptionNaming.SPRING_BOOT).build());
        });
    }

    @Test
    void bindsEveryProperty() {
        this.runner.withPropertyValues("kvmserver.program=/srv/server", "kvmserver.args[0]=8000",
                "kvmserver.args[1]=--quiet", "kvmserver.cwd=/srv", "kvmserver.env=A=1,B=two",
                "kvmserver.threads=4", "kvmserver.ephemeral=true", "kvmserver.ephemeral-keep-working-memory=false",
                "kvmserver.verbose=true", "kvmserver.trace=true", "kvmserver.warmup.count=100",
                "kvmserver.warmup.path=/ping",
                "kvmserver.permissions.allow-read=/usr,/lib", "kvmserver.permissions.allow-write=/tmp",
                "kvmserver.permissions.allow-env=PATH,API_*", "kvmserver.permissions.allow-net=true",
                "kvmserver.permissions.allow-connect=example.org:443", "kvmserver.permissions.allow-listen=127.0.0.1:8000",
                "kvmserver.permissions.volumes[0].host=/data", "kvmserver.permissions.volumes[0].guest=/mnt/data",
                "kvmserver.permissions.volumes[0].mode=rw", "kvmserver.permissions.volumes[1].host=/etc/app",
                "kvmserver.permissions.volumes[1].guest=/config", "kvmserver.limits.max-boot-time=1m",
                "kvmserver.limits.max-request-time=250ms", "kvmserver.limits.max-main-memory=1GB",
                "kvmserver.limits.max-address-space=4096", "kvmserver.limits.max-request-memory=64MB",
                "kvmserver.limits.limit-request-memory=0")
            .run((context) -> {
                KvmServerProperties properties = context.getBean(KvmServerProperties.class);
                assertThat(properties.getArgs()).containsExactly("8000", "--quiet");
                assertThat(properties.getPermissions().getVolumes()).hasSize(2);
                KvmServerOptions options = properties.toOptions("/srv/server", properties.getArgs(), List.of())
                    .build();
                assertThat(options).isEqualTo(KvmServerOptions.builder()
                    .program("/srv/server")
                    .args(List.of("8000", "--quiet"))
                    .cwd("/srv")
                    .env(List.of("A=1", "B=two"))
                    .threads(4)
                    .ephemeral(true)
                    .ephemeralKeepWorkingMemory(false)
                    .verbose(true)
                    .trace(true)
                    .warmup(100)
                    .warmupPath("/ping")
                    .allowRead(List.of("/usr", "/lib"))
                    .allowWrite(List.of("/tmp"))
                    .allowEnv(List.of("PATH", "API_*"))
                    .allowNet(true)
                    .allowConnect(List.of("example.org:443"))
                    .allowListen(List.of("127.0.0.1:8000"))
                    .volumes(List.of(new Volume("/data", "/mnt/data", true), new Volume("/etc/app", "/config", false)))
                    .maxBootTime(Duration.ofMinutes(1))
                    .maxRequestTime(Duration.ofMillis(250))
                    .maxMainMemory(1024 * KvmServerOptions.MIB)
                    .maxAddressSpace(4096 * KvmServerOptions.MIB)
                    .maxRequestMemory(64 * KvmServerOptions.MIB)
                    .limitRequestMemory(0)
                    .naming(OptionNaming.SPRING_BOOT)
                    .build());
            });
    }

    /**
     * Each setting's property, set to the catalog's example, reaches that setting: a property
     * that toOptions forgets, or maps to the wrong setting, fails here.
     */
    @ParameterizedTest
    @MethodSource("io.kvmserver.autoconfigure.ConfigurationMetadataTests#springSettings")
    void eachPropertyReachesItsSetting(Option option) {
        if (option.isPositional()) {
            this.runner.withPropertyValues("kvmserver.program=/srv/p", "kvmserver.args=a").run((context) -> {
                KvmServerProperties properties = context.getBean(KvmServerProperties.class);
                assertThat((option == Option.PROGRAM) ? properties.getProgram() : properties.getArgs())
                    .isEqualTo((option == Option.PROGRAM) ? "/srv/p" : List.of("a"));
            });
            return; // the lifecycle resolves the program and its arguments before they reach toOptions
        }
        String name = option.springProperty().get();
        Object expected = (option.example() != null)
                ? option.type().fromArgument(name, option.example(), option.implicitValue())
                : !(Boolean) option.defaultValue();
        List<String> values = new ArrayList<>(List.of("kvmserver.program=/srv/server"));
        if (option == Option.VOLUME) {
            String[] spec = option.example().split(":");
            values.addAll(List.of(name + "[0].host=" + spec[0], name + "[0].guest=" + spec[1],
                    name + "[0].mode=" + spec[2]));
        }
        else {
            Object value = (expected instanceof List<?> list) ? String.join(",", list.stream().map(String::valueOf).toList())
                    : (expected instanceof Boolean flag) ? option.isInverted() != flag : option.example();
            values.add(name + "=" + value);
        }
        this.runner.withPropertyValues(values.toArray(String[]::new)).run((context) -> {
            KvmServerOptions options = context.getBean(KvmServerProperties.class)
                .toOptions("/srv/server", List.of(), List.of())
                .build();
            assertThat(option.valueIn(options)).isEqualTo(expected).isNotEqualTo(option.defaultValue());
        });
    }

    @Test
    void namedServersHaveEverySettingOfTheDefaultServerAndTheirOwnNames() {
        this.runner.withPropertyValues("kvmserver.servers.render.program=/srv/render",
                "kvmserver.servers.render.threads=3", "kvmserver.servers.render.route.address=127.0.0.1:9000",
                "kvmserver.servers.render.route.paths=/render/**", "kvmserver.servers.render.route.max-wait=2",
                "kvmserver.servers.off.program=/srv/off", "kvmserver.servers.off.enabled=false")
            .run((context) -> {
                KvmServerProperties properties = context.getBean(KvmServerProperties.class);
                assertThat(properties.hasDefaultServer()).isFalse();
                assertThat(properties.enabledServers()).containsOnlyKeys("render");
                KvmServerProperties.Server render = properties.getServers().get("render");
                assertThat(render.getRoute().getPaths()).containsExactly("/render/**");
                assertThat(render.getRoute().getMaxWait()).isEqualTo(Duration.ofSeconds(2));
                KvmServerOptions options = render.toOptions("/srv/render", List.of(), List.of(),
                        ServerNaming.of("render")).build();
                assertThat(options.threads()).isEqualTo(3);
                assertThat(options.routeAddress()).isEqualTo("127.0.0.1:9000");
                assertThat(options.nameOf(Option.THREADS)).isEqualTo("kvmserver.servers.render.threads");
            });
    }

    @Test
    void theDefaultServerAndNamedServersRunSideBySide() {
        this.runner.withPropertyValues("kvmserver.program=/srv/main", "kvmserver.servers.side.program=/srv/side")
            .run((context) -> assertThat(context.getBean(KvmServerProperties.class).enabledServers())
                .containsOnlyKeys("default", "side"));
        this.runner.withPropertyValues("kvmserver.program=/srv/main", "kvmserver.servers.default.program=/srv/x")
            .run((context) -> assertThat(context.getStartupFailure()).rootCause()
                .hasMessageContaining("and not 'default', which is the name of the server configured at kvmserver.*"));
    }

    @Test
    void routePathsArePathPatterns() {
        this.runner.withPropertyValues("kvmserver.program=/srv/server", "kvmserver.route.address=127.0.0.1:8000",
                "kvmserver.route.paths=render/**")
            .run((context) -> assertThat(context.getStartupFailure()).rootCause()
                .hasMessage("kvmserver.route.paths 'render/**' must start with '/', as in '/render/**'"));
    }

    @Test
    void unknownKeysAreRefusedWithTheKeyNamed() {
        this.runner.withPropertyValues("kvmserver.program=/srv/server", "kvmserver.treads=4")
            .run((context) -> assertThat(context.getStartupFailure())
                .hasRootCauseInstanceOf(UnboundConfigurationPropertiesException.class)
                .rootCause()
                .hasMessageContaining("kvmserver.treads"));
    }

    @Test
    void systemPropertiesAndEnvironmentVariablesAreNotCheckedForUnknownKeys() {
        // KVMSERVER_REQUIRE_KVM in the environment is kvmserver.require.kvm to Spring: not a typo.
        this.runner.withPropertyValues("kvmserver.program=/srv/server")
            .withSystemProperties("kvmserver.something-else=1")
            .run((context) -> assertThat(context).hasNotFailed());
    }

    @Test
    void unitlessDurationsAreSecondsAndUnitlessSizesAreMegabytes() {
        this.runner.withPropertyValues("kvmserver.program=/srv/server", "kvmserver.limits.max-request-time=3",
                "kvmserver.limits.max-request-memory=256").run((context) -> {
                    KvmServerProperties.Limits limits = context.getBean(KvmServerProperties.class).getLimits();
                    assertThat(limits.getMaxRequestTime()).isEqualTo(Duration.ofSeconds(3));
                    assertThat(limits.getMaxRequestMemory()).isEqualTo(DataSize.ofMegabytes(256));
                });
    }

    @Test
    void extractedResourcesBecomeReadableUnlessEverythingIs() {
        this.runner.withPropertyValues("kvmserver.program=/srv/server", "kvmserver.permissions.allow-read=/usr")
            .run((context) -> assertThat(context.getBean(KvmServerProperties.class)
                .toOptions("/tmp/x/server", List.of(), List.of("/tmp/x"))
                .build()
                .allowRead()).containsExactly("/usr", "/tmp/x"));
        this.runner.withPropertyValues("kvmserver.program=/srv/server", "kvmserver.permissions.allow-all=true")
            .run((context) -> assertThat(context.getBean(KvmServerProperties.class)
                .toOptions("/tmp/x/server", List.of(), List.of("/tmp/x"))
                .build()
                .allowRead()).isEmpty());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "kvmserver.enabled=true | kvmserver.program must be set",
            "kvmserver.threads=-1 | kvmserver.threads must be at least 0",
            "kvmserver.warmup.count=-5 | kvmserver.warmup.count must be at least 0",
            "kvmserver.warmup.path=ping | kvmserver.warmup.path must start with '/'",
            "kvmserver.cwd=relative | kvmserver.cwd path 'relative' must be absolute",
            "kvmserver.env=NOEQUALS | kvmserver.env 'NOEQUALS' must be NAME=VALUE",
            "kvmserver.permissions.allow-read=usr | kvmserver.permissions.allow-read path 'usr' must be absolute",
            "kvmserver.permissions.allow-env=A*B | kvmserver.permissions.allow-env 'A*B'",
            "kvmserver.permissions.allow-listen=::1 | kvmserver.permissions.allow-listen: '::1'",
            "kvmserver.permissions.allow-listen=not-an-address | kvmserver.permissions.allow-listen: 'not-an-address' names a host; a listen rule names a local address",
            "kvmserver.permissions.allow-connect=exa_mple.com:80 | kvmserver.permissions.allow-connect: 'exa_mple.com:80': 'exa_mple.com' is neither an address nor a host name",
            "kvmserver.permissions.volumes[0].guest=/a | kvmserver.permissions.volumes maps guest path /a twice",
            "kvmserver.permissions.volumes[0].host=data | kvmserver.permissions.volumes[0]: volume host path 'data' must be absolute",
            "kvmserver.permissions.volumes[0].host=/srv/no-guest | kvmserver.permissions.volumes[0].guest must be set: the guest path of the volume",
            "kvmserver.limits.max-boot-time=0s | kvmserver.limits.max-boot-time must be more than 0 seconds",
            "kvmserver.limits.max-request-time=-1s | kvmserver.limits.max-request-time must be more than 0 seconds",
            "kvmserver.limits.max-main-memory=1500KB | kvmserver.limits.max-main-memory must be a whole number of MiB",
            "kvmserver.limits.max-main-memory=200GB | kvmserver.limits.max-main-memory (204800 MiB) must not exceed kvmserver.limits.max-address-space",
            "kvmserver.limits.max-request-memory=0 | kvmserver.limits.max-request-memory must be at least 1 MiB",
            "kvmserver.route.address=example.com:80 | kvmserver.route.address: 'example.com:80' must be the local address",
            "kvmserver.route.max-wait=-1s | kvmserver.route.max-wait must not be negative",
            "kvmserver.route.max-wait=999999999d | kvmserver.route.max-wait must be at most 100 years",
            "kvmserver.route.max-waiting=-1 | kvmserver.route.max-waiting must not be negative, got -1",
            "kvmserver.route.max-body-size=-1 | kvmserver.route.max-body-size must not be negative, got -1048576B",
            "kvmserver.route.max-buffered-size=-1 | kvmserver.route.max-buffered-size must not be negative, got -1048576B",
            "kvmserver.route.max-buffered-size=5 | kvmserver.route.max-buffered-size must be at least kvmserver.route.max-body-size (10485760B) while request bodies are read whole, got 5242880B",
            "kvmserver.route.sensitive-headers=Cookie;Authorization | kvmserver.route.sensitive-headers: 'Cookie;Authorization' is not a header name",
            "kvmserver.limits.max-request-time=200000d | kvmserver.limits.max-request-time must be at most 100 years",
            "kvmserver.limits.max-boot-time=999999999d | kvmserver.limits.max-boot-time must be at most 100 years" })
    void invalidValuesAreReportedWithThePropertyName(String property, String message) {
        List<String> values = new java.util.ArrayList<>(List.of(property));
        if (!property.startsWith("kvmserver.enabled")) {
            values.add("kvmserver.program=/srv/server");
        }
        if (property.contains("volumes[0].host") && !property.contains("no-guest")) {
            values.add("kvmserver.permissions.volumes[0].guest=/data");
        }
        if (property.contains("volumes[0].guest")) {
            values.addAll(List.of("kvmserver.permissions.volumes[0].host=/h0", "kvmserver.permissions.volumes[1].host=/h1",
                    "kvmserver.permissions.volumes[1].guest=/a"));
        }
        this.runner.withPropertyValues(values.toArray(String[]::new)).run((context) -> {
            assertThat(context).hasFailed();
            assertThat(KvmServerConfigurationFailureAnalyzer.findCause(context.getStartupFailure(),
                    InvalidOptionException.class))
                .as("the engine's judgement of %s", property)
                .hasMessageContaining(message);
        });
    }

    @Test
    void allowAllExcludesOtherPermissionsByName() {
        this.runner
            .withPropertyValues("kvmserver.program=/srv/server", "kvmserver.permissions.allow-all=true",
                    "kvmserver.permissions.allow-net=true")
            .run((context) -> assertThat(context.getStartupFailure()).rootCause()
                .hasMessageContaining(
                        "kvmserver.permissions.allow-all excludes kvmserver.permissions.allow-net"));
    }

    @Test
    void anUnknownVolumeModeIsABindingError() {
        this.runner
            .withPropertyValues("kvmserver.program=/srv/server", "kvmserver.permissions.volumes[0].host=/a",
                    "kvmserver.permissions.volumes[0].guest=/b", "kvmserver.permissions.volumes[0].mode=x")
            .run((context) -> assertThat(context.getStartupFailure())
                .hasStackTraceContaining("Failed to bind properties under 'kvmserver.permissions.volumes[0].mode'"));
    }

    @Configuration(proxyBeanMethods = false)
    @EnableConfigurationProperties(KvmServerProperties.class)
    static class PropertiesConfiguration {

    }

}
