package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.server.ServerStats;
import io.kvmserver.testing.Assembly;
import io.kvmserver.testing.Eventually;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.Http;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import io.kvmserver.x86.GuestLayout;
import io.kvmserver.x86.TrapStub;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The PVM syscall entry runs at CPL 3 in pages the program can reach: a program may jump into it,
 * ring its doorbell itself and write its queue page ({@code hostile_entry.c}). Found by the
 * review of 2026-12-04 late: a host call rung with RCX inside the entry made the host skip
 * publishing the answer page (it judged "halfway through the entry" by where it would resume),
 * so the entry answered reads from bytes the host had already taken, and the host's performing
 * of those reads logged a warning each, 8 MB of log a second; and the entry's copies to the
 * program's buffers, which checked only the top of user space, wrote into the engine's pages
 * below {@code 0x10000} (success, or a crash at the doorbell page, where Linux gives EFAULT).
 */
@RequiresKvm
class SyscallEntryAttackTest {

    private static String done;

    @BeforeAll
    static void entryAddresses(@TempDir Path dir) throws IOException {
        Assembly stub = Assembly.of(TrapStub.class, "trap-stub.S", dir);
        done = "0x" + Long.toHexString(GuestLayout.SYSCALL_ENTRY + stub.symbol("done") - stub.symbol("syscall_entry"));
    }

    private static TestServer start() {
        return TestServer.start(GuestPrograms.get("hostile_entry"),
                List.of(done, "0x" + Long.toHexString(TrapStub.FAST_SLOW_PATH)),
                b -> b.ephemeral(true).threads(1).maxRequestTime(Duration.ofSeconds(5)));
    }

    /** A request from {@code 127.0.0.<from>}, which says what the connection does. */
    private static String request(TestServer s, int from) {
        return Http.getFrom("127.0.0." + from, s.port(), "/attack");
    }

    @Test
    void aHostCallThatReturnsIntoTheEntryFindsTheAnswerPagePublishedAfresh() {
        try (TestServer s = start()) {
            for (int i = 0; i < 5; i++) {
                // On Linux every read after the one that took the request is EAGAIN.
                assertThat(request(s, 1)).as("request %d", i).isEqualTo("taken=yes reread=0,0");
            }
            ServerStats stats = s.server().stats();
            assertThat(Eventually.reaches(stats::resets, 5L)).isEqualTo(5L);
            assertThat(stats.failures()).isZero();
        }
    }

    @Test
    void buffersInTheEnginesPagesAreEfaultAsOnLinuxWhereNothingIsMappedThere() {
        try (TestServer s = start()) {
            for (int i = 0; i < 3; i++) {
                assertThat(request(s, 2)).as("request %d", i)
                        .isEqualTo("getsockname=-14,-14,-14 getpeername=-14 writev=-14,-14 read=-14,-14 setsockopt=-14"
                                + " ioctl=-14 epoll_ctl=-14");
            }
            assertThat(s.server().stats().failures()).isZero();
        }
    }
}
