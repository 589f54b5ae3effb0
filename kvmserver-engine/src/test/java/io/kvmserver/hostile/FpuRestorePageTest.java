package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.linux.BufferedConsole;
import io.kvmserver.linux.ConsoleInternals;
import io.kvmserver.server.ServerStats;
import io.kvmserver.testing.CapturedConsole;
import io.kvmserver.testing.Eventually;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.Http;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Jumps into the engine's FPU restore page ({@code 0x7000}, {@code hostile_fpu_page.c}): on PVM a
 * request VM's first entry after a reset starts there, at CPL 3, to load the template's FPU state
 * without an ioctl, so the page is executable by the program; elsewhere it is supervisor-only.
 * Whatever the program does there, at whatever time, ends it with SIGSEGV its handlers do not
 * see, never a host exception: the first version threw when the program's own jump into it was
 * the first exit after a reset (the accept is answered in the guest), the worker replaced the VM
 * as an engine failure, and the console space the VM had set aside was never given back (after
 * ~76 such requests every request that logged waited for space until its time limit).
 */
@RequiresKvm
class FpuRestorePageTest {

    private static final String CRASH = "CRASH: segmentation fault executing 0x7[0-9a-f]{3} \\(the engine's FPU restore page\\)";

    private static TestServer start(BufferedConsole console) {
        return TestServer.start(GuestPrograms.get("hostile_fpu_page"), List.of(),
                b -> b.ephemeral(true).threads(1).maxRequestTime(Duration.ofSeconds(3)), console);
    }

    /** A request from {@code 127.0.0.<from>} (the guest reads the client's address first). */
    private static String request(TestServer s, int from, String path) {
        return Http.getFrom("127.0.0." + from, s.port(), path);
    }

    /** Waits until the request just made is accounted for and its VM reset. */
    private static void settled(TestServer s) {
        ServerStats stats = s.server().stats();
        Eventually.reaches(stats::resets, stats.requests());
    }

    @Test
    void aJumpThereBeforeTheFirstExitAfterAResetIsACrashAndGivesBackTheConsole() {
        BufferedConsole console = BufferedConsole.of(new CapturedConsole());
        try (TestServer s = start(console)) {
            ServerStats stats = s.server().stats();
            // The first line goes through the host: from then on every entry sets console space aside.
            assertThat(request(s, 1, "/log")).isEqualTo("logged");
            for (int i = 0; i < 100; i++) {
                assertThat(request(s, 2, "/")).as("jump " + i).matches("(?s)(NO-RESPONSE|ERROR):.*");
                settled(s);
                assertThat(stats.lastFailure()).as("jump " + i).matches(CRASH);
                assertThat(request(s, 1, "/log")).as("after jump " + i).isEqualTo("logged");
            }
            settled(s);
            assertThat(stats.failedResets()).as(stats.lastFailure()).isZero();
            assertThat(stats.requests(ServerStats.Outcome.CRASH)).isEqualTo(100);
            assertThat(ConsoleInternals.reserved(console)).as("console space set aside by an idle VM").isZero();
        }
    }

    /**
     * The middle of the restore's first instruction before any exit, the restore itself after a
     * call the host answered (no restore due: it ends at its {@code ud2}), the {@code int3}s in
     * the rest of the page, a single step into it: each a crash that the program's handlers for
     * SIGSEGV, SIGILL, SIGTRAP and SIGBUS do not see, and the next request is served.
     */
    @ParameterizedTest(name = "from 127.0.0.{0}")
    @ValueSource(ints = {2, 4, 5, 6})
    void aJumpAnywhereInThePageIsACrashItsHandlersDoNotSee(int from) {
        BufferedConsole console = BufferedConsole.of(new CapturedConsole());
        try (TestServer s = start(console)) {
            ServerStats stats = s.server().stats();
            for (int i = 0; i < 3; i++) {
                assertThat(request(s, from, "/")).matches("(?s)(NO-RESPONSE|ERROR):.*");
                settled(s);
                assertThat(stats.lastFailure()).matches(CRASH);
                assertThat(request(s, 1, "/")).isEqualTo("served");
            }
            assertThat(stats.failedResets()).as(stats.lastFailure()).isZero();
        }
    }

    /**
     * The restore run again by the program while the host's is due (right after the reset,
     * before any exit): it only does what the program could do itself with the pages it may read
     * (the template's FPU state, and the registers and resume address of the reset), so the
     * program goes on confused within its own request; the engine neither fails nor answers for
     * it, and the next request is served.
     */
    @Test
    void theRestoreRunAgainByTheProgramLeavesOnlyItsOwnRequestConfused() {
        BufferedConsole console = BufferedConsole.of(new CapturedConsole());
        try (TestServer s = start(console)) {
            ServerStats stats = s.server().stats();
            for (int i = 0; i < 3; i++) {
                assertThat(request(s, 3, "/")).isNotEqualTo("handled");
                settled(s);
                assertThat(request(s, 1, "/")).isEqualTo("served");
            }
            assertThat(stats.failedResets()).as(stats.lastFailure()).isZero();
        }
    }
}
