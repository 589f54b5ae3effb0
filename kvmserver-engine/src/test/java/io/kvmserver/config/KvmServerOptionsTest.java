package io.kvmserver.config;

import static io.kvmserver.config.KvmServerOptions.MIB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class KvmServerOptionsTest {

    private static KvmServerOptions.Builder valid() {
        return KvmServerOptions.builder().program("/bin/server").cwd("/srv");
    }

    @Test
    void hasTheDefaultsOfTheCppKvmserver() {
        KvmServerOptions o = KvmServerOptions.builder().program("/bin/server").build();

        assertThat(o.cwd()).isEqualTo(System.getProperty("user.dir"));
        assertThat(o.args()).isEmpty();
        assertThat(o.env()).isEmpty();
        assertThat(o.threads()).isEqualTo(1);
        assertThat(o.ephemeral()).isFalse();
        assertThat(o.warmup()).isZero();
        assertThat(o.warmupPath()).isEqualTo("/");
        assertThat(o.verbose()).isFalse();
        assertThat(o.printConfig()).isFalse();
        assertThat(o.allowAll()).isFalse();
        assertThat(o.allowRead()).isEmpty();
        assertThat(o.allowWrite()).isEmpty();
        assertThat(o.allowEnv()).isEmpty();
        assertThat(o.allowNet()).isFalse();
        assertThat(o.allowConnect()).isEmpty();
        assertThat(o.allowListen()).isEmpty();
        assertThat(o.volumes()).isEmpty();
        assertThat(o.maxBootTime()).isEqualTo(Duration.ofSeconds(20));
        assertThat(o.maxRequestTime()).isEqualTo(Duration.ofSeconds(8));
        assertThat(o.maxMainMemory()).isEqualTo(8192 * MIB);
        assertThat(o.maxAddressSpace()).isEqualTo(131072 * MIB);
        assertThat(o.maxRequestMemory()).isEqualTo(128 * MIB);
        assertThat(o.limitRequestMemory()).isEqualTo(128 * MIB);
        assertThat(o.ephemeralKeepWorkingMemory()).isTrue();
    }

    @Test
    void effectiveThreadsIsTheCpuCountForZero() {
        assertThat(valid().threads(0).build().effectiveThreads())
                .isEqualTo(Runtime.getRuntime().availableProcessors());
        assertThat(valid().threads(3).build().effectiveThreads()).isEqualTo(3);
    }

    @Test
    void toBuilderCopiesEverything() {
        KvmServerOptions o = valid().args(List.of("a")).threads(4).ephemeral(true).allowRead(List.of("/usr"))
                .volumes(List.of(new Volume("/h", "/g", true))).maxBootTime(Duration.ofMillis(1500))
                .ephemeralKeepWorkingMemory(false).build();

        assertThat(o.toBuilder().build()).isEqualTo(o);
        assertThat(o.toBuilder().threads(5).build().threads()).isEqualTo(5);
    }

    @Test
    void listsAreImmutableCopies() {
        List<String> read = new ArrayList<>(List.of("/a"));
        KvmServerOptions o = valid().allowRead(read).build();
        read.add("/b");

        assertThat(o.allowRead()).containsExactly("/a");
        assertThatThrownBy(() -> o.allowRead().add("/c")).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void normalizesPaths() {
        KvmServerOptions o = valid().cwd("/srv//app/./x/..").allowRead(List.of("/usr/")).allowWrite(List.of("/tmp/../var"))
                .build();

        assertThat(o.cwd()).isEqualTo("/srv/app");
        assertThat(o.allowRead()).containsExactly("/usr");
        assertThat(o.allowWrite()).containsExactly("/var");
    }

    static Stream<Arguments> invalid() {
        return Stream.of(
                bad(b -> b.program(" "), "program must be set to the executable to run"),
                bad(b -> b.cwd("relative"), "--cwd path 'relative' must be absolute"),
                bad(b -> b.threads(-1), "--threads must be at least 0, got -1"),
                bad(b -> b.warmup(-2), "--warmup must be at least 0, got -2"),
                bad(b -> b.warmupPath("index.html"), "--warmup-path must start with '/'"),
                bad(b -> b.settleTime(Duration.ofSeconds(-1)), "--settle-time must be at least 0 seconds, got -1"),
                bad(b -> b.settleTime(Duration.ofSeconds(20)),
                        "--settle-time (20 s) must be less than --max-boot-time (20 s): settling is the end of a start, not most of it"),
                bad(b -> b.env(List.of("NOEQUALS")), "--env 'NOEQUALS' must be NAME=VALUE"),
                bad(b -> b.env(List.of("=x")), "--env '=x' must be NAME=VALUE"),
                bad(b -> b.allowRead(List.of("usr")), "--allow-read path 'usr' must be absolute"),
                bad(b -> b.allowWrite(List.of("tmp")), "--allow-write path 'tmp' must be absolute"),
                bad(b -> b.allowEnv(List.of("A*B")), "--allow-env 'A*B' must be a variable NAME, a PREFIX_* or *"),
                bad(b -> b.allowEnv(List.of("A=B")), "--allow-env 'A=B'"),
                bad(b -> b.allowConnect(List.of("::1:80")), "--allow-connect: '::1:80': write IPv6 addresses in brackets"),
                bad(b -> b.allowListen(List.of("host:http")), "--allow-listen: 'host:http': port 'http'"),
                bad(b -> b.allowListen(List.of("not-an-address")), "--allow-listen: 'not-an-address' names a host; a"
                        + " listen rule names a local address"),
                bad(b -> b.routeAddress("example.com:8000"), "--route-address: 'example.com:8000' must be the local"
                        + " address and port the program listens on"),
                bad(b -> b.routeAddress("127.0.0.1"),
                        "--route-address: '127.0.0.1' must be the local address and port"),
                bad(b -> b.routeAddress("127.0.0.1:x"), "--route-address: '127.0.0.1:x': port 'x'"),
                bad(b -> b.allowConnect(List.of("exa mple.com:80")), "--allow-connect: 'exa mple.com:80': 'exa mple.com'"
                        + " is neither an address nor a host name"),
                bad(b -> b.volumes(List.of(new Volume("/a", "/g", false), new Volume("/b", "/g/", true))),
                        "--volume maps guest path /g twice"),
                bad(b -> b.allowAll(true).allowRead(List.of("/")), "--allow-all excludes --allow-read"),
                bad(b -> b.allowAll(true).allowWrite(List.of("/")), "--allow-all excludes --allow-write"),
                bad(b -> b.allowAll(true).allowEnv(List.of("*")), "--allow-all excludes --allow-env"),
                bad(b -> b.allowAll(true).allowNet(true), "--allow-all excludes --allow-net"),
                bad(b -> b.allowAll(true).allowConnect(List.of("*")), "--allow-all excludes --allow-connect"),
                bad(b -> b.allowAll(true).allowListen(List.of("*")), "--allow-all excludes --allow-listen"),
                bad(b -> b.allowAll(true).volumes(List.of(new Volume("/a", "/b", false))), "--allow-all excludes --volume"),
                bad(b -> b.maxBootTime(Duration.ZERO), "--max-boot-time must be more than 0 seconds, got 0"),
                bad(b -> b.maxRequestTime(Duration.ofMillis(-500)), "--max-request-time must be more than 0 seconds, got -0.5"),
                bad(b -> b.maxRequestTime(Duration.ofDays(200_000)),
                        "--max-request-time must be at most 100 years (3153600000 seconds), got 17280000000"),
                bad(b -> b.settleTime(Duration.ofDays(36_501)), "--settle-time must be at most 100 years"),
                bad(b -> b.maxMainMemory(0), "--max-main-memory must be at least 1 MiB, got 0"),
                bad(b -> b.maxMainMemory(MIB + 1), "--max-main-memory must be a whole number of MiB"),
                bad(b -> b.maxMainMemory(262144 * MIB), "--max-main-memory (262144 MiB) must not exceed --max-address-space (131072 MiB)"),
                bad(b -> b.maxAddressSpace(256L * 1024 * 1024 * MIB), "--max-address-space must be at most 134217728 MiB"),
                bad(b -> b.maxRequestMemory(0), "--max-request-memory must be at least 1 MiB"),
                bad(b -> b.limitRequestMemory(-MIB), "--limit-request-memory must be at least 0 MiB"));
    }

    private static Arguments bad(UnaryOperator<KvmServerOptions.Builder> change, String message) {
        return Arguments.of(change, message);
    }

    @ParameterizedTest
    @MethodSource("invalid")
    void rejectsInvalidSettingsNamingTheFlag(UnaryOperator<KvmServerOptions.Builder> change, String message) {
        assertThatThrownBy(() -> change.apply(valid()).build())
                .isInstanceOf(InvalidOptionException.class)
                .hasMessageStartingWith(message);
    }

    @Test
    void listenRulesMayNameLocalhostButNoOtherHost() {
        assertThat(valid().allowListen(List.of("localhost:8000", "[::1]:8000", "*:80")).build().allowListen())
                .containsExactly("localhost:8000", "[::1]:8000", "*:80");
        assertThat(valid().allowConnect(List.of("not-an-address:80")).build().allowConnect())
                .containsExactly("not-an-address:80");
    }

    @Test
    void aRouteAddressIsALocalAddressAndPortAndNotAPermission() {
        assertThat(valid().routeAddress("localhost:8000").build().routeAddress()).isEqualTo("localhost:8000");
        assertThat(valid().routeAddress("*:8000").allowAll(true).build().routeAddress()).isEqualTo("*:8000");
        assertThat(valid().build().routeAddress()).isEmpty();
    }

    @Test
    void acceptsTheBoundaries() {
        KvmServerOptions o = valid().threads(0).limitRequestMemory(0).maxMainMemory(MIB).maxAddressSpace(MIB)
                .maxRequestMemory(MIB).maxBootTime(Duration.ofNanos(1)).allowAll(true).build();

        assertThat(o.limitRequestMemory()).isZero();
        assertThat(o.maxAddressSpace()).isEqualTo(MIB);
    }

    @Test
    void allowNetMayBeCombinedWithRules() {
        assertThat(valid().allowNet(true).allowConnect(List.of("example.com:443")).build().allowConnect())
                .containsExactly("example.com:443");
    }

    @Test
    void describeWritesEveryKeyAsToml() {
        KvmServerOptions o = valid().args(List.of("-c", "print(\"hi\")")).env(List.of("A=1")).threads(2)
                .ephemeral(true).allowRead(List.of("/usr", "/etc/ssl")).allowEnv(List.of("API_*"))
                .allowListen(List.of("[::1]:8000")).routeAddress("127.0.0.1:9000")
                .volumes(List.of(new Volume("/srv/data", "/data", true)))
                .maxBootTime(Duration.ofMillis(2500)).maxRequestTime(Duration.ofSeconds(8))
                .maxMainMemory(1024 * MIB).ephemeralKeepWorkingMemory(false).printConfig(true).build();

        String toml = o.describe();

        assertThat(toml).contains(
                "program = \"/bin/server\"\n",
                "args = [\"-c\", \"print(\\\"hi\\\")\"]\n",
                "cwd = \"/srv\"\n",
                "env = [\"A=1\"]\n",
                "threads = 2\n",
                "ephemeral = true\n",
                "allow-read = [\"/usr\", \"/etc/ssl\"]\n",
                "allow-env = [\"API_*\"]\n",
                "allow-listen = [\"[::1]:8000\"]\n",
                "route-address = \"127.0.0.1:9000\"\n",
                "volume = [\"/srv/data:/data:rw\"]\n",
                "settle-time = 0\n",
                "max-boot-time = 2.5\n",
                "max-request-time = 8\n",
                "max-main-memory = 1024\n",
                "no-ephemeral-keep-working-memory = true\n");
        assertThat(toml).doesNotContain("print-config");
        assertThat(TomlSubset.parse(toml, "printed")).hasSize(28);
    }
}
