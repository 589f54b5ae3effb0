package io.kvmserver.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.vm.RunResult;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The kernel features of issue 10, one C check per test ({@code src/test/c/threads.c} and
 * {@code signals.c}; each passes natively). A check prints {@code OK <check>: ...} or
 * {@code FAIL <check>: ...}; a run that hangs is stopped at its boot deadline and fails. Those
 * tagged {@code runtimes} need threads and signal delivery in the engine and are excluded from the
 * build until they land (kvmserver-engine/pom.xml).
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
    @Tag("runtimes")
    void pthreadCreateAndJoin() {
        assertPasses("threads", "create-join");
    }

    @Test
    @Tag("runtimes")
    void mutexAndCondvarUnderContention() {
        assertPasses("threads", "mutex-condvar");
    }

    @Test
    @Tag("runtimes")
    void threadLocalStorage() {
        assertPasses("threads", "tls");
    }

    @Test
    @Tag("runtimes")
    void aSpinningThreadIsPreemptedSoTheThreadItWaitsForRuns() {
        assertPasses("threads", "spin-wait");
    }

    @Test
    @Tag("runtimes")
    void aRobustMutexWhoseOwnerDiesIsOwnerDead() {
        assertPasses("threads", "robust-mutex");
    }

    @Test
    @Tag("runtimes")
    void aSigsegvHandlerFixesTheFaultAndTheProgramContinues() {
        assertPasses("signals", "segv-fix");
    }

    @Test
    @Tag("runtimes")
    void aHandlerWithSaOnstackRunsOnTheAlternateStack() {
        assertPasses("signals", "sigaltstack");
    }

    @Test
    @Tag("runtimes")
    void aStackOverflowIsCaughtOnTheAlternateStack() {
        assertPasses("signals", "stack-overflow");
    }

    @Test
    @Tag("runtimes")
    void alarmAndSetitimerDeliverSigalrm() {
        assertPasses("signals", "sigalrm");
    }

    @Test
    void writingToAClosedSocketWithSigpipeIgnoredIsEpipe() {
        assertPasses("signals", "sigpipe-ignored");
    }

    @Test
    @Tag("runtimes")
    void writingToAClosedSocketWithTheDefaultActionDiesOfSigpipe() {
        GuestRun.Outcome o = run("signals", "sigpipe-default");
        assertThat(o.stdout()).as(o.toString()).startsWith("writing sigpipe-default:").doesNotContain("FAIL");
        assertThat(o.result().kind()).as(o.toString()).isEqualTo(RunResult.Kind.CRASHED);
        assertThat(o.result().signal()).as(o.toString()).isEqualTo(13);
        assertThat(o.status()).isEqualTo(141);
    }
}
