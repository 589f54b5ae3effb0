package io.kvmserver.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.vm.RunResult;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The kernel features of issue 10, one C check per test ({@code src/test/c/threads.c} and
 * {@code signals.c}; each passes natively). A check prints {@code OK <check>: ...} or
 * {@code FAIL <check>: ...}; a run that hangs is stopped at its boot deadline and fails.
 */
@RequiresKvm
class ThreadsAndSignalsTest {

    private static GuestRun.Outcome run(String fixture, String check) {
        return GuestRun.run(GuestPrograms.get(fixture), List.of(check),
                b -> b.maxBootTime(Duration.ofSeconds(30)).maxMainMemory(256L << 20));
    }

    private static void assertPasses(String fixture, String check) {
        GuestRun.Outcome o = run(fixture, check);
        assertThat(o.stdout()).as(o.toString()).startsWith("OK " + check + ":").doesNotContain("FAIL");
        assertThat(o.result().kind()).as(o.toString()).isEqualTo(RunResult.Kind.EXITED);
        assertThat(o.status()).as(o.toString()).isZero();
    }

    @Test
    void pthreadCreateAndJoin() {
        assertPasses("threads", "create-join");
    }

    @Test
    void mutexAndCondvarUnderContention() {
        assertPasses("threads", "mutex-condvar");
    }

    @Test
    void threadLocalStorage() {
        assertPasses("threads", "tls");
    }

    @Test
    void aSpinningThreadIsPreemptedSoTheThreadItWaitsForRuns() {
        assertPasses("threads", "spin-wait");
    }

    @Test
    void aRobustMutexWhoseOwnerDiesIsOwnerDead() {
        assertPasses("threads", "robust-mutex");
    }

    @Test
    void aSigsegvHandlerFixesTheFaultAndTheProgramContinues() {
        assertPasses("signals", "segv-fix");
    }

    @Test
    void aHandlerWithSaOnstackRunsOnTheAlternateStack() {
        assertPasses("signals", "sigaltstack");
    }

    @Test
    void aStackOverflowIsCaughtOnTheAlternateStack() {
        assertPasses("signals", "stack-overflow");
    }

    @Test
    void alarmAndSetitimerDeliverSigalrm() {
        assertPasses("signals", "sigalrm");
    }

    @Test
    void writingToAClosedSocketWithSigpipeIgnoredIsEpipe() {
        assertPasses("signals", "sigpipe-ignored");
    }

    @Test
    void writingToAClosedSocketWithTheDefaultActionDiesOfSigpipe() {
        GuestRun.Outcome o = run("signals", "sigpipe-default");
        assertThat(o.stdout()).as(o.toString()).startsWith("writing sigpipe-default:").doesNotContain("FAIL");
        assertThat(o.result().kind()).as(o.toString()).isEqualTo(RunResult.Kind.CRASHED);
        assertThat(o.result().signal()).as(o.toString()).isEqualTo(13);
        assertThat(o.status()).isEqualTo(141);
    }
}
