package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.linux.BufferedConsole;
import io.kvmserver.linux.ConsoleInternals;
import io.kvmserver.linux.GuestConsole;
import io.kvmserver.server.ServerStats;
import io.kvmserver.testing.CapturedConsole;
import io.kvmserver.testing.Eventually;
import io.kvmserver.testing.GuestAnswers;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.Http;
import io.kvmserver.testing.NativeServer;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Writes to the console (the program's stdout and stderr) answered by the PVM syscall entry: a
 * log line per request without an exit, once the VM's program has written to its console through
 * the host (a program that never logs pays nothing for it). What is shared: the console's buffer, which every VM of
 * the server writes to; the entry answers only within the part the host set aside for it before
 * the entry (no other write can take it, and the VM gives back what it did not use at its next
 * exit), so its answer, every byte written, stays true. What the program can forge: the queue.
 */
@RequiresKvm
class ConsoleWriteTest {

    private static TestServer start(GuestConsole console) {
        return TestServer.start(GuestPrograms.get("console_log"), List.of(),
                b -> b.ephemeral(true).threads(1).maxRequestTime(Duration.ofSeconds(20)), console);
    }

    private static String get(TestServer s, String path) {
        String response = s.exchange("GET " + path + " HTTP/1.1\r\n\r\n");
        return response.substring(response.indexOf("\r\n\r\n") + 4);
    }

    /** How often {@code piece} occurs in what the console got, once that is {@code expected} or after 10 s. */
    private static int awaitCount(CapturedConsole console, String piece, int expected) {
        long deadline = System.nanoTime() + 10_000_000_000L;
        int n = count(console.text(), piece);
        while (n < expected && System.nanoTime() < deadline) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            n = count(console.text(), piece);
        }
        return n;
    }

    private static int count(String text, String piece) {
        int n = 0;
        for (int at = text.indexOf(piece); at >= 0; at = text.indexOf(piece, at + piece.length())) {
            n++;
        }
        return n;
    }

    /**
     * A line a request leaves without its newline is its own: the console is told that the
     * request's output ended, after its bytes and before the next request's (the operator review
     * found one request's unterminated line joined to the next one's in the log, and the last
     * one lost at shutdown).
     */
    @Test
    void theEndOfEachRequestsOutputReachesTheConsoleInOrder() {
        CapturedConsole console = CapturedConsole.markingEnds("|");
        try (TestServer s = start(console)) {
            for (int i = 0; i < 3; i++) {
                assertThat(get(s, "/partial")).isEqualTo("partial 1");
            }
            assertThat(awaitCount(console, "partial 1|", 3)).as(console.text()).isEqualTo(3);
            assertThat(console.text()).isEqualTo("partial 1|partial 1|partial 1|");
        }
    }

    @Test
    void aLogLinePerRequestMakesNoExit() {
        CapturedConsole console = new CapturedConsole();
        try (TestServer s = start(console)) {
            // In the guest: the accept, the read, both console writes, the response; the close exits.
            java.util.concurrent.atomic.AtomicInteger counted = new java.util.concurrent.atomic.AtomicInteger();
            GuestAnswers.expectExits(s, 1, "exits of a request", () -> {
                counted.incrementAndGet();
                assertThat(get(s, "/log")).isEqualTo("logged 1");
            });
            assertThat(GuestAnswers.calls(s, "write", () -> assertThat(get(s, "/log")).isEqualTo("logged 1")))
                    .as("writes of a request, wherever answered").isEqualTo(4);
            for (int i = 0; i < 20; i++) {
                assertThat(get(s, "/log")).isEqualTo("logged 1");
            }
            // Every line, in order: each request's stderr line before its stdout line (as many
            // requests as the count of exits took, and 21).
            int made = counted.get() + 21;
            assertThat(awaitCount(console, "request 1\nserved 1\n", made)).as(console.text()).isEqualTo(made);
        }
    }

    /**
     * A VM that logged through the host sets console space aside before every entry; the wait for
     * its next connection is made on the host right after the reset, without an entry, and may
     * last for ever: it must hold none meanwhile, or idle VMs starve every other VM's writes (the
     * first version held 3488 bytes per idle VM: with 76 the whole buffer, and every write
     * through the host waited until its time limit).
     */
    @Test
    void anIdleVmHoldsNoConsoleSpace() throws InterruptedException {
        BufferedConsole console = BufferedConsole.of(new CapturedConsole());
        try (TestServer s = start(console)) {
            ServerStats stats = s.server().stats();
            for (int i = 0; i < 3; i++) {
                assertThat(get(s, "/log")).isEqualTo("logged 1");
                Eventually.reaches(stats::resets, stats.requests());
                for (int look = 0; look < 10; look++) {
                    Thread.sleep(20);
                    assertThat(ConsoleInternals.reserved(console)).as("set aside while the VM waits").isZero();
                }
            }
        }
    }

    /** Bad buffers, an empty write, a sendto, one larger than the entry takes: the native run's answers. */
    @Test
    void answersAreLinuxs() {
        String expected = "engine=-14 past_end=-14 empty=0 sendto=-88 large=5000";
        int port = TestServer.freePort();
        try (NativeServer natively = NativeServer.start(
                List.of(GuestPrograms.get("console_log").toString(), Integer.toString(port)), List.of(), port)) {
            assertThat(Http.get(port, "/checks")).as(natively.output()).isEqualTo(expected);
        }
        CapturedConsole console = new CapturedConsole();
        try (TestServer s = start(console)) {
            for (int i = 0; i < 3; i++) {
                assertThat(get(s, "/checks")).isEqualTo(expected);
                assertThat(get(s, "/log")).isEqualTo("logged 1");
            }
            assertThat(awaitCount(console, "b".repeat(4999) + "\n", 3)).as(console.text()).isEqualTo(3);
        }
    }

    /**
     * Two forged writes to stderr, more together than the console bytes the host set aside for
     * the entry: the first is written (the program's own output), the second dropped.
     */
    @Test
    void forgedWritesStopAtTheSpaceSetAside() {
        CapturedConsole console = new CapturedConsole();
        try (TestServer s = start(console)) {
            // The first log line goes through the host: from then on the VM sets console space aside.
            assertThat(get(s, "/log")).isEqualTo("logged 1");
            assertThat(get(s, "/forge")).isEqualTo("survived");
            assertThat(get(s, "/log")).isEqualTo("logged 1");
            assertThat(awaitCount(console, "served 1", 2)).isEqualTo(2);
            assertThat(count(console.text(), "FORGED")).as(console.text()).isEqualTo(1);
        }
    }
}
