package io.kvmserver.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.vm.RunResult;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Programs that crash or hang ({@code src/test/c/crash.c}) end with a clear report, never a hang. */
@RequiresKvm
class FaultTest {

    private static ExecutorService runner;

    @BeforeAll
    static void start() {
        runner = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fault-test-runner");
            t.setDaemon(true);
            return t;
        });
    }

    @AfterAll
    static void stop() {
        runner.shutdownNow();
    }

    private static GuestRun.Outcome crash(String how) {
        return GuestRun.run(GuestPrograms.get("crash"), List.of(how), b -> b.maxMainMemory(64L << 20));
    }

    /** Runs on another thread with a deadline, so that a run that never returns fails the test. */
    private static GuestRun.Outcome withDeadline(String how, Duration deadline) throws Exception {
        Future<GuestRun.Outcome> f = runner.submit(() -> crash(how));
        return f.get(deadline.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Test
    void aNullPointerWriteIsSigsegvWithAddressAndRip() {
        GuestRun.Outcome o = crash("null");
        assertThat(o.result().kind()).as(o.toString()).isEqualTo(RunResult.Kind.CRASHED);
        assertThat(o.result().signal()).isEqualTo(11);
        assertThat(o.status()).isEqualTo(139);
        assertThat(o.result().detail()).matches("segmentation fault writing 0x0 \\(unmapped address\\) at RIP 0x[0-9a-f]+");
        assertThat(o.result().detail()).doesNotContain("\n");
        assertThat(o.stdout()).isEmpty();
    }

    @Test
    void abortIsSigabrt() {
        GuestRun.Outcome o = crash("abort");
        assertThat(o.result().kind()).as(o.toString()).isEqualTo(RunResult.Kind.CRASHED);
        assertThat(o.result().signal()).isEqualTo(6);
        assertThat(o.status()).isEqualTo(134);
        assertThat(o.stdout()).isEmpty();
    }

    @Test
    void anIllegalInstructionIsSigill() {
        GuestRun.Outcome o = crash("ud2");
        assertThat(o.result().kind()).as(o.toString()).isEqualTo(RunResult.Kind.CRASHED);
        assertThat(o.result().signal()).isEqualTo(4);
        assertThat(o.result().detail()).matches("illegal instruction at RIP 0x[0-9a-f]+");
    }

    @Test
    @Timeout(30)
    void anInfiniteLoopIsStoppedByMaxBootTime() {
        GuestRun.Outcome o = GuestRun.run(GuestPrograms.get("crash"), List.of("loop"),
                b -> b.maxBootTime(Duration.ofSeconds(1)).maxMainMemory(64L << 20));
        assertThat(o.result().kind()).as(o.toString()).isEqualTo(RunResult.Kind.TIMED_OUT);
        assertThat(o.status()).isEqualTo(124);
        assertThat(o.result().detail()).containsPattern("at RIP 0x[0-9a-f]+");
    }

    /**
     * Hundreds of faults through the exception path, each in a fresh VM and each under a
     * deadline: a host whose exception delivery changed fails here fast instead of hanging.
     */
    @Test
    void hundredsOfFaultsAreEachReportedAsACrash() throws Exception {
        for (int i = 0; i < 200; i++) {
            GuestRun.Outcome o = withDeadline("null", Duration.ofSeconds(20));
            assertThat(o.result().kind()).as("run " + i + ": " + o).isEqualTo(RunResult.Kind.CRASHED);
            assertThat(o.result().detail()).as("run " + i).startsWith("segmentation fault writing 0x0 ");
        }
    }
}
