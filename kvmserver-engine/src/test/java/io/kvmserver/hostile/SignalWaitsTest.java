package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.server.ServerStats;
import io.kvmserver.testing.Eventually;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.HostTools;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Waits a signal handler interrupts, and threads' polls that add up, found by the eighth review
 * (2026-12-05, fourth session) with {@code signal_waits.c}: the waits answered as Linux answers
 * them, natively in the same run.
 */
@RequiresKvm
class SignalWaitsTest {

    private static final String ALL_OK = """
            nanosleep: ok
            clock_nanosleep: ok
            recv with SO_RCVTIMEO: ok
            timed FUTEX_WAIT: ok
            SA_RESETHAND: ok
            blocked timer: ok
            late poller: ok
            """;

    /**
     * A sleep a handler interrupts writes the time it did not sleep (it did only when the engine
     * woke it itself, so a sleep loop began again); a call with a timeout of its own is
     * {@code EINTR} after a handler, {@code SA_RESTART} or not (it was made again with its timeout
     * begun again: a periodic signal kept it waiting for ever); {@code SA_RESETHAND} resets the
     * handler only (it cleared {@code SA_SIGINFO} too); a periodic timer's signal taken after
     * being blocked counts the expiries it missed as overruns (they were lost: 0).
     */
    @Test
    void waitsInterruptedByAHandlerEndAsOnLinux() {
        Path program = GuestPrograms.get("signal_waits");
        assertThat(HostTools.run(List.of(program.toString()))).as("natively").isEqualTo(ALL_OK);
        GuestRun.Outcome o = GuestRun.run(program, List.of());
        assertThat(o.stdout()).as(o.toString()).isEqualTo(ALL_OK);
    }

    /**
     * Three threads each polling the same 400 sockets (1,200 entries), then a thread that accepts:
     * the host poll took the first 1,024 entries only, so the listener was never watched and each
     * client was answered only when the request's time limit reset the VM. Entries of one fd now
     * share a slot.
     */
    @Test
    void aListenerBehindThreadsPollingMoreThanTheHostPollTakesIsWatched() {
        try (TestServer s = TestServer.start(GuestPrograms.get("signal_waits"), List.of(),
                b -> b.ephemeral(true).threads(1).maxRequestTime(Duration.ofSeconds(3)))) {
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/")).isEqualTo("ok");
            }
            ServerStats stats = s.server().stats();
            Eventually.reaches(stats::requests, 3);
            assertThat(stats.requests(ServerStats.Outcome.TIMEOUT)).as("requests cut at their time limit").isZero();
        }
    }
}
