package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.CapturedConsole;
import io.kvmserver.testing.GuestAnswers;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.NativeServer;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code rt_sigaction} answered by the PVM syscall entry (php installs its handlers for every
 * request: sixteen calls): the old action from the dispositions page the host writes, the new one
 * queued and installed by the host at the next exit, before anything else. What is shared: the
 * page, which the template's memory holds for every request VM (a request's actions must not
 * reach the next one, nor the template's be lost after a reset); what the program can forge: the
 * queue (an action for SIGKILL, bytes past the data) and the page (read-only).
 */
@RequiresKvm
class SigactionInGuestTest {

    private static TestServer start() {
        return TestServer.start(GuestPrograms.get("sigactions"), List.of(),
                b -> b.ephemeral(true).threads(1).maxRequestTime(Duration.ofSeconds(20)), new CapturedConsole());
    }

    @Test
    void phpsGetsAndSetsOfEightSignalsMakeNoExit() {
        try (TestServer s = start()) {
            // In the guest: the accept, the reads, the sixteen rt_sigactions, the writes; the close exits.
            GuestAnswers.expectExits(s, 1, "exits of a request",
                    () -> assertThat(s.get("/set")).isEqualTo("DDDDTDDD"));
            assertThat(GuestAnswers.calls(s, "rt_sigaction", () -> assertThat(s.get("/set")).isEqualTo("DDDDTDDD")))
                    .as("rt_sigactions of a request, wherever answered").isEqualTo(16);
        }
    }

    /**
     * Each request starts from the template's actions (its own handler for SIGUSR1), whatever the
     * request before it installed, and whether or not the page was written since: the template
     * installed its handler in the guest just before it froze, so its page was stale then.
     */
    @Test
    void aRequestsActionsDoNotReachTheNext() {
        try (TestServer s = start()) {
            for (String path : List.of("/set", "/look", "/look", "/set", "/set", "/look", "/look", "/look")) {
                assertThat(s.get(path)).as(path).isEqualTo("DDDDTDDD");
            }
            assertThat(s.get("/page")).isEqualTo("usr1=T protected");
            assertThat(s.get("/look")).isEqualTo("DDDDTDDD");
        }
    }

    /**
     * Bad arguments, a get right after a set of the same signal (the page is stale for it), a
     * handler that runs, SIG_IGN discarding a pending signal, an oldact Linux cannot write (EFAULT
     * with the new action installed): the same answers as the program run natively.
     */
    @Test
    void answersAreLinuxs() {
        String expected = "size4=-22 sig0=-22 sig65=-22 negative=-22 kill_set=-22 stop_set=-22 kill_get=0/D null=0"
                + " act_low=-14 old_low=-14 act_high=-14 old_high=-14 act_engine=-14 old_engine=-14 old_readonly=-14"
                + " installed=I reget=1 ran=1"
                + " pending=1/0";
        NativeServer.expectAnswer("sigactions", "/checks", expected);
        try (TestServer s = start()) {
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/checks")).isEqualTo(expected);
                assertThat(s.get("/look")).isEqualTo("DDDDTDDD");
            }
        }
    }

    /**
     * rt_sigprocmask and gettid, answered from the running thread's fields on the same page: bad
     * arguments, changes within one entry, a signal sent while a mask set in the guest blocks it
     * (the host applies the mask before it delivers anything), a pending one delivered as soon as
     * the call that unblocks it returns (the entry sends that call to the host), the id of a new
     * thread: the same answers as the program run natively.
     */
    @Test
    void masksAndThreadIdsAreLinuxs() {
        String expected = "size4=-22 bad_how=-22 bad_how_set=-14 get_any_how=0 set_low=-14 old_low=-14 old_engine=-14"
                + " set_high=-14 old_readonly=-14 applied=1 unblockable=0 all_else=1 blocked=1 ran=0/1/1 left=0 tids=1/1";
        NativeServer.expectAnswer("sigactions", "/masks", expected);
        try (TestServer s = start()) {
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/masks")).isEqualTo(expected);
                assertThat(s.get("/look")).isEqualTo("DDDDTDDD");
            }
            assertThat(GuestAnswers.calls(s, "rt_sigprocmask", () -> assertThat(s.get("/masks")).isEqualTo(expected)))
                    .as("rt_sigprocmasks of a request, wherever answered").isGreaterThanOrEqualTo(19);
            assertThat(GuestAnswers.calls(s, "gettid", () -> assertThat(s.get("/masks")).isEqualTo(expected)))
                    .as("gettids of a request, wherever answered").isGreaterThanOrEqualTo(4);
        }
    }

    /** Queue entries the entry never makes are dropped: SIGKILL keeps its action, and so does a signal whose bytes lie past the data. */
    @Test
    void forgedQueueEntriesAreDropped() {
        try (TestServer s = start()) {
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/forge")).isEqualTo("kill=D usr2=D");
                assertThat(s.get("/look")).isEqualTo("DDDDTDDD");
            }
        }
    }
}
