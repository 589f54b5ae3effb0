package io.kvmserver.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.RequiresKvm;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import io.kvmserver.config.KvmServerOptions;
import org.junit.jupiter.api.Test;

/** The environment a guest sees ({@code src/test/c/inspect.c}): only what --allow-env and --env give it. */
@RequiresKvm
class PermissionTest {

    private static final Map<String, String> HOST = Map.of("API_KEY", "k", "API_URL", "u", "APIX", "x",
            "HOME", "/root", "SECRET_TOKEN", "s3cr3t", "PATH", "/usr/bin", "USER", "alice");

    private static List<String> environment(UnaryOperator<KvmServerOptions.Builder> options) {
        GuestRun.Outcome o = GuestRun.run(GuestPrograms.get("inspect"), List.of(), options, HOST);
        assertThat(o.status()).as(o.toString()).isZero();
        return Arrays.stream(o.stdout().split("\n")).filter(l -> l.startsWith("env ")).map(l -> l.substring(4))
                .toList();
    }

    @Test
    void noHostVariableIsPassedByDefault() {
        assertThat(environment(b -> b)).containsExactly("USER=nobody");
    }

    @Test
    void namesAndPrefixesPassExactlyThoseVariables() {
        assertThat(environment(b -> b.allowEnv(List.of("HOME", "API_*"))))
                .containsExactly("API_KEY=k", "API_URL=u", "HOME=/root", "USER=nobody");
    }

    @Test
    void allowEnvWithoutAValuePassesEverything() {
        assertThat(environment(b -> b.allowEnv(List.of("*"))))
                .containsExactly("APIX=x", "API_KEY=k", "API_URL=u", "HOME=/root", "PATH=/usr/bin",
                        "SECRET_TOKEN=s3cr3t", "USER=alice");
    }

    @Test
    void explicitVariablesWinAndUserIsKeptWhenPassed() {
        assertThat(environment(b -> b.allowEnv(List.of("USER", "PATH")).env(List.of("PATH=/guest/bin", "NEW=1"))))
                .containsExactly("USER=alice", "PATH=/guest/bin", "NEW=1");
    }
}
