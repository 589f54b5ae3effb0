package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.vm.RunResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The syscall fuzzer ({@code hostile_fuzz.c}): random system call numbers with random and
 * adversarial arguments for a bounded time. The engine must never let a host exception out of a
 * handler, never take the JVM down, and a VM must still run a normal program afterwards.
 *
 * <p>The CI run is short ({@code -Dfuzz.seconds}, default 8 s, and {@code -Dfuzz.seed}, default
 * 1); a longer run is documented in {@code docs/reliability.md}.
 */
@RequiresKvm
class SyscallFuzzTest {

    static final long SECONDS = Long.getLong("fuzz.seconds", 8);
    static final long SEED = Long.getLong("fuzz.seed", 1);

    @Test
    void randomSystemCallsNeverBreakTheEngine(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("a"), "fuzz me");
        GuestRun.Outcome o = HostileRuns.run("hostile_fuzz", List.of(Long.toString(SECONDS * 1000), Long.toString(SEED)),
                b -> b.cwd(dir.toString()).allowRead(List.of(dir.toString())).allowWrite(List.of(dir.toString()))
                        .maxBootTime(Duration.ofSeconds(SECONDS + 60)));
        assertThat(o.result().kind()).as(o.toString()).isEqualTo(RunResult.Kind.EXITED);
        assertThat(o.status()).as(o.toString()).isZero();
        long calls = Long.parseLong(o.stdout().replaceAll("(?s).*done calls=(\\d+).*", "$1"));
        assertThat(calls).as("system calls made").isGreaterThan(1000);
        // and the engine still runs a well-behaved program
        GuestRun.Outcome after = GuestRun.run(GuestPrograms.get("hello"), List.of());
        assertThat(after.status()).as(after.toString()).isZero();
    }
}
