package io.kvmserver.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.config.KvmServerOptions;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class EnvironmentPolicyTest {

    private static final Map<String, String> HOST = Map.of(
            "HOME", "/root",
            "PATH", "/usr/bin",
            "API_KEY", "k",
            "API_URL", "u",
            "APIX", "x",
            "SECRET", "s");

    private static List<String> guestEnv(UnaryOperator<KvmServerOptions.Builder> options, Map<String, String> host) {
        return new EnvironmentPolicy(options.apply(KvmServerOptions.builder().program("/bin/p")).build())
                .guestEnvironment(host);
    }

    @Test
    void passesNothingByDefaultButUser() {
        assertThat(guestEnv(b -> b, HOST)).containsExactly("USER=nobody");
    }

    @Test
    void passesNamedVariablesWithTheHostValue() {
        assertThat(guestEnv(b -> b.allowEnv(List.of("HOME", "MISSING")), HOST)).containsExactly("HOME=/root", "USER=nobody");
    }

    @Test
    void passesEveryVariableWithAPrefix() {
        assertThat(guestEnv(b -> b.allowEnv(List.of("API_*")), HOST))
                .containsExactly("API_KEY=k", "API_URL=u", "USER=nobody");
    }

    @Test
    void starAndAllowAllPassEverythingInNameOrder() {
        List<String> all = List.of("APIX=x", "API_KEY=k", "API_URL=u", "HOME=/root", "PATH=/usr/bin", "SECRET=s",
                "USER=nobody");

        assertThat(guestEnv(b -> b.allowEnv(List.of("*")), HOST)).containsExactlyElementsOf(all);
        assertThat(guestEnv(b -> b.allowAll(true), HOST)).containsExactlyElementsOf(all);
    }

    @Test
    void explicitVariablesWinAndTheLaterOneWins() {
        assertThat(guestEnv(b -> b.allowEnv(List.of("HOME")).env(List.of("HOME=/guest", "A=1", "A=2", "B=x=y")), HOST))
                .containsExactly("HOME=/guest", "A=2", "B=x=y", "USER=nobody");
    }

    @Test
    void aPassedOrSetUserIsKept() {
        assertThat(guestEnv(b -> b.allowEnv(List.of("USER")), Map.of("USER", "alice"))).containsExactly("USER=alice");
        assertThat(guestEnv(b -> b.env(List.of("USER=bob")), Map.of("USER", "alice"))).containsExactly("USER=bob");
        assertThat(guestEnv(b -> b, Map.of("USER", "alice"))).containsExactly("USER=nobody");
    }

    @Test
    void passesAnswersPerName() {
        EnvironmentPolicy policy = new EnvironmentPolicy(KvmServerOptions.builder().program("/bin/p")
                .allowEnv(List.of("HOME", "API_*")).build());

        assertThat(policy.passes("HOME")).isTrue();
        assertThat(policy.passes("HOMEX")).isFalse();
        assertThat(policy.passes("API_")).isTrue();
        assertThat(policy.passes("API")).isFalse();
        assertThat(policy.passes("APIX")).isFalse();
    }
}
