package io.kvmserver.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.GuestPrograms.Linking;
import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.vm.RunResult;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

@RequiresKvm
class BasicProgramsTest {

    @ParameterizedTest
    @EnumSource(Linking.class)
    void runsAProgramAndReturnsItsOutputAndStatus(Linking linking) {
        GuestRun.Outcome o = GuestRun.run(GuestPrograms.get("hello", linking), List.of("42"));
        assertThat(o.result().kind()).as(o.toString()).isEqualTo(RunResult.Kind.EXITED);
        assertThat(o.status()).isEqualTo(42);
        assertThat(o.stdout()).isEqualTo("hello from the guest\n");
        assertThat(o.stderr()).isEqualTo("to stderr\n");
    }

    @ParameterizedTest
    @EnumSource(Linking.class)
    void passesArgvEnvironmentAndAuxiliaryVector(Linking linking) {
        GuestRun.Outcome o = GuestRun.run(GuestPrograms.get("inspect", linking), List.of("one", "two words"),
                b -> b.allowEnv(List.of("KEEP_*", "PLAIN")).env(List.of("SET=explicit")),
                Map.of("KEEP_A", "a", "PLAIN", "p", "SECRET", "s"));
        assertThat(o.status()).as(o.toString()).isZero();
        assertThat(o.stdout()).contains("argc=3\n", "argv[1]=one\n", "argv[2]=two words\n",
                "env KEEP_A=a\n", "env PLAIN=p\n", "env SET=explicit\n", "env USER=nobody\n",
                "AT_PAGESZ=4096\n", "AT_PHNUM_ok=1\n", "AT_ENTRY_ok=1\n", "AT_SECURE=0\n", "AT_CLKTCK=100\n",
                "AT_PLATFORM=x86_64\n", "AT_RANDOM_ok=1\n", "pid=1\n");
        assertThat(o.stdout()).doesNotContain("SECRET");
    }

    @Test
    void thousandsOfSystemCallsRoundTripThroughTheTrapStub() {
        GuestRun.Outcome o = GuestRun.run(GuestPrograms.get("syscall_storm"), List.of("3000"));
        assertThat(o.status()).as(o.toString()).isZero();
        assertThat(o.stdout()).isEqualTo("calls=9000 bad=0\n");
    }
}
