package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.linux.SyscallTable;
import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.vm.RunResult;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Attacks through threads and signals ({@code hostile_signals.c}): forged {@code rt_sigreturn}
 * frames (garbage, reserved MXCSR bits, every XSAVE component, IOPL and VM flags, a kernel code
 * segment and the engine's entry point), handlers and alternate stacks placed in the engine's own
 * pages, floods of queued signals, cyclic robust lists, bad clone arguments, and faults that
 * recurse in their handler. Each ends as Linux ends it (the program dies of SIGSEGV, or gets an
 * errno), within bounds the host sets, and never as a host exception.
 */
@RequiresKvm
@Timeout(60)
class SignalAttackTest {

    private static GuestRun.Outcome attack(String how) {
        return HostileRuns.run("hostile_signals", List.of(how), b -> b.maxBootTime(Duration.ofSeconds(20)));
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"forged-garbage", "forged-mxcsr", "forged-xstate", "forged-flags", "forged-stub-rip",
        "handler-in-stub", "altstack-in-engine", "nested-faults"})
    void anAttackThatLinuxAnswersWithSigsegvDiesOfIt(String how) {
        long bugs = SyscallTable.emulationBugs();
        GuestRun.Outcome o = attack(how);
        assertThat(o.stdout()).as(o.toString()).startsWith("attacking " + how).doesNotContain("FAIL");
        assertThat(o.result().kind()).as(o.toString()).isEqualTo(RunResult.Kind.CRASHED);
        assertThat(o.result().signal()).as(o.toString()).isEqualTo(11);
        assertThat(SyscallTable.emulationBugs()).isEqualTo(bugs);
    }

    @Test
    void queuedSignalsStopAtTheQueueBound() {
        GuestRun.Outcome o = attack("rt-flood");
        assertThat(o.stdout()).as(o.toString()).startsWith("OK rt-flood: 128 real-time signals queued, then EAGAIN");
    }

    @Test
    void aCyclicRobustListEndsItsWalk() {
        GuestRun.Outcome o = attack("robust-cycle");
        assertThat(o.stdout()).as(o.toString()).startsWith("OK robust-cycle:");
        assertThat(o.status()).isZero();
    }

    @Test
    void badCloneArgumentsGetLinuxErrnos() {
        GuestRun.Outcome o = attack("clone-args");
        assertThat(o.stdout()).as(o.toString()).startsWith("OK clone-args:");
    }
}
