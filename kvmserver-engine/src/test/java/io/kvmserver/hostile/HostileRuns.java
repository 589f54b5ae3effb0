package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.linux.SyscallTable;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.GuestRun;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * Runs a hostile fixture ({@code src/test/c/hostile_*.c}) and checks what every hostile run must
 * show whatever else it asserts: no handler let a host exception escape ("bug in the emulation",
 * counted by {@link SyscallTable#emulationBugs()}).
 */
final class HostileRuns {

    /** Guest memory for the fixtures: small, so that the page-table pool's address is known. */
    static final long MEMORY = 64L << 20;

    private HostileRuns() {
    }

    static GuestRun.Outcome run(String fixture, List<String> args, UnaryOperator<KvmServerOptions.Builder> options) {
        return run(fixture, args, options, Map.of());
    }

    static GuestRun.Outcome run(String fixture, List<String> args, UnaryOperator<KvmServerOptions.Builder> options,
            Map<String, String> hostEnv) {
        long bugsBefore = SyscallTable.emulationBugs();
        GuestRun.Outcome o = GuestRun.run(GuestPrograms.get(fixture), args,
                b -> options.apply(b.maxMainMemory(MEMORY)), hostEnv);
        assertThat(SyscallTable.emulationBugs() - bugsBefore)
                .as("handler exceptions (\"bug in the emulation\") during " + fixture + " " + args + "\n" + o)
                .isZero();
        return o;
    }
}
