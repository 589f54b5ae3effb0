package io.kvmserver.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvmserver.linux.Denials;
import io.kvmserver.server.KvmServerException;
import io.kvmserver.testing.CapturedConsole;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
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

    /**
     * Two threads adding to per-CPU counters in restartable sequences on glibc's registration:
     * a thread preempted inside goes to the abort handler, so no addition is lost. Found by the
     * review of 2026-12-05 (later): rseq was accepted, and no section was ever aborted: 3,000,000
     * of 6,000,000 additions lost. The test asks for some aborts too, so that it shows the
     * preemptions came inside the sections.
     */
    @Test
    void aRestartableSequenceIsAbortedWhenItsThreadIsPreempted() {
        GuestRun.Outcome o = run("threads", "rseq-abort");
        assertThat(o.stdout()).as(o.toString()).isEqualTo("OK rseq-abort: total 2000000, aborts some\n");
    }

    /**
     * A 1 ms timer whose handler adds in a restartable sequence too, while the thread it
     * interrupts adds in its own: a signal delivered inside a section sends the thread to the
     * abort handler when the handler returns, so no addition is lost.
     */
    @Test
    void aRestartableSequenceIsAbortedWhenASignalComesInside() {
        GuestRun.Outcome o = run("threads", "rseq-signal");
        assertThat(o.stdout()).as(o.toString())
            .isEqualTo("OK rseq-signal: no addition lost, handlers some, aborts some\n");
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

    /** SS_AUTODISARM: disarmed while a handler runs; uc_stack keeps the flags as registered, so sigreturn re-arms it. */
    @Test
    void anAutodisarmedAlternateStackIsReArmedWithItsFlagsWhenTheHandlerReturns() {
        assertPasses("signals", "altstack-autodisarm");
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

    @Test
    void futexRequeueWakeOpBitsetAndRealtimeDeadlines() {
        assertPasses("threads", "futex-ops");
    }

    /**
     * Requeues aimed at the host's futex queues: a queue requeued onto itself INT_MAX times (the
     * host once cycled its waiters that many times), and kernel addresses as either word (once
     * taken as queue keys that no wake could reach).
     */
    @Test
    void futexRequeueAttacksCostNothingAndLoseNoWaiter() {
        assertPasses("threads", "futex-attacks");
    }

    @Test
    void aThreadMayOutliveTheMainThread() {
        GuestRun.Outcome o = run("threads", "thread-exit");
        assertThat(o.stdout()).as(o.toString()).contains("OK thread-exit:").doesNotContain("FAIL");
        assertThat(o.status()).as(o.toString()).isZero();
    }

    @Test
    void exitFromASecondThreadEndsTheProcessWithItsStatus() {
        GuestRun.Outcome o = run("threads", "exit-group-from-thread");
        assertThat(o.result().kind()).as(o.toString()).isEqualTo(RunResult.Kind.EXITED);
        assertThat(o.status()).as(o.toString()).isEqualTo(7);
    }

    @Test
    void threadCreationStopsWithEagainAtTheLimit() {
        GuestRun.Outcome o = run("threads", "thread-limit");
        // 256 threads per process: the main thread and 255 more.
        assertThat(o.stdout()).as(o.toString()).startsWith("OK thread-limit: 255 threads, then EAGAIN");
        assertThat(o.status()).as(o.toString()).isZero();
    }

    @Test
    void aSignalSentToAThreadRunsItsHandlerThere() {
        assertPasses("threads", "tgkill");
    }

    @Test
    void threadsHandATokenBackAndForthWithSchedYield() {
        assertPasses("threads", "yield");
    }

    @Test
    void newProcessesAreRefusedAndShownAsDenials() {
        GuestRun.Outcome o = run("threads", "no-new-processes");
        assertThat(o.stdout()).as(o.toString()).startsWith("OK no-new-processes:");
        assertThat(o.denials()).as(o.toString())
                .anySatisfy(d -> {
                    assertThat(d.kind()).isEqualTo(Denials.Kind.PROCESS);
                    assertThat(d.target()).isEqualTo("fork");
                })
                .anySatisfy(d -> {
                    assertThat(d.kind()).isEqualTo(Denials.Kind.PROCESS);
                    assertThat(d.target()).isEqualTo("/bin/true");
                    assertThat(d.hint()).contains("no other processes");
                });
    }

    @Test
    void aTemplateWhoseThreadsNeverWaitForConnectionsSaysWhatEachIsDoing() {
        CapturedConsole console = new CapturedConsole();
        assertThatThrownBy(() -> TestServer.start(GuestPrograms.get("threads"), List.of(),
                b -> b.args(List.of("never-serves")).maxBootTime(Duration.ofSeconds(2)), console).close())
                .isInstanceOf(KvmServerException.class)
                .hasMessageContaining("did not wait for connections within")
                .hasMessageContaining("its threads: thread 1 waiting in futex")
                .hasMessageContaining("thread 2 waiting in futex");
    }

    @Test
    void aHandlerChangesTheContextItReturnsTo() {
        assertPasses("signals", "context-redirect");
    }

    @Test
    void cpuFaultsDeliverSigfpeSigillAndSigtrapWithLinuxSiginfo() {
        assertPasses("signals", "cpu-faults");
    }

    @Test
    void saRestartRestartsAnInterruptedReadAndItsAbsenceIsEintr() {
        assertPasses("signals", "sa-restart");
    }

    @Test
    void sigtimedwaitTakesASignalFromAnotherThreadOrTimesOut() {
        assertPasses("signals", "sigtimedwait");
    }

    @Test
    void signalfdTurnsABlockedSignalIntoARecord() {
        assertPasses("signals", "signalfd");
    }

    @Test
    void aPosixTimerInterruptsAProgramThatMakesNoCalls() {
        assertPasses("signals", "timer-create");
    }

    /** timer_settime: NULL new value EINVAL; the value is copied (EFAULT) before the id is looked up. */
    @Test
    void timerSettimeChecksItsNewValueAsLinuxDoes() {
        assertPasses("signals", "timer-settime-args");
    }

    /** setitimer: tv_usec outside [0, 999999] is EINVAL; what getitimer reports is a valid timeval. */
    @Test
    void intervalTimersTakeAndReportOnlyValidTimevals() {
        assertPasses("signals", "itimer-args");
    }

    /** A timer set past KTIME_MAX stays armed, as Linux saturates its expiry: it never reads as disarmed. */
    @Test
    void aTimerSetForLongerThanTheClockCountsStaysArmed() {
        assertPasses("signals", "timer-huge");
    }

    /**
     * ppoll, pselect6 and epoll_pwait wait with the mask they are given: a signal it lets through
     * interrupts the wait (pending before it or arriving during it), and the caller's mask is back
     * after the handler, after a result and after a timeout.
     */
    @Test
    void thePollFamilyWaitsWithTheSignalMaskItIsGiven() {
        assertPasses("signals", "wait-sigmask");
    }

    @Test
    void aSignalAProgramSendsItselfIsHandledBeforeKillReturns() {
        assertPasses("signals", "kill-self");
    }

    @Test
    void edgeTriggeredEpollReportsEachEdgeOnceAndWakesForOnesOtherThreadsMake() {
        assertPasses("threads", "epoll-edge");
    }

    /** EPOLL_CTL_MOD of a ready edge-triggered socket reports it again, as Linux's ep_modify does. */
    @Test
    void epollCtlModReportsAReadyEdgeTriggeredSocketAgain() {
        assertPasses("threads", "epoll-mod-rearm");
    }

    /** Files added through a duplicate of the epoll fd while a wait is in progress, ready or not yet. */
    @Test
    void anEpollWaitInProgressSeesFilesAnotherThreadAdds() {
        assertPasses("threads", "epoll-late-add");
    }
}
