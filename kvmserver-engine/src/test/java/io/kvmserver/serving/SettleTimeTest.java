package io.kvmserver.serving;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;
import io.kvmserver.config.KvmServerOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code settle-time}: a timer the program armed before it waits for connections fires once in
 * the template instead of in every request VM that starts after it was due ({@code http_server.c}
 * with {@code TIMER_MS}: each firing appends a line to a host file, which no reset takes back).
 */
@RequiresKvm
class SettleTimeTest {

    private static TestServer start(Path dir, List<String> env, UnaryOperator<KvmServerOptions.Builder> options) {
        return TestServer.start(GuestPrograms.get("http_server"), List.of(dir.toString()),
                b -> options.apply(b.ephemeral(true).env(env).allowWrite(List.of(dir.toString()))));
    }

    private static long firings(Path dir) throws IOException {
        Path file = dir.resolve("timer.txt");
        return Files.exists(file) ? Files.readAllLines(file).size() : 0;
    }

    @Test
    void aTimerDueWithinTheSettleTimeFiresOnceInTheTemplate(@TempDir Path dir) throws Exception {
        assertThat(firingsAroundThreeRequests(dir, "TIMER_MS=300", Duration.ofSeconds(2)))
                .as("fired in the template before it froze, then in no request VM").containsExactly(1L, 1L);
    }

    @Test
    void withoutSettlingEveryRequestVmFiresTheTemplatesOverdueTimer(@TempDir Path dir) throws Exception {
        long[] firings = firingsAroundThreeRequests(dir, "TIMER_MS=300", Duration.ZERO);
        assertThat(firings[0]).as("before any request").isZero();
        assertThat(firings[1]).as("a firing in every request VM").isGreaterThanOrEqualTo(3);
    }

    @Test
    void theServerTellsOfATimerPendingAtTheFreeze(@TempDir Path dir) {
        try (TestServer s = start(dir, List.of("TIMER_MS=300"), b -> b)) {
            assertThat(s.server().timerDueAtFreeze()).isNotNull().isLessThanOrEqualTo(Duration.ofMillis(300));
        }
        try (TestServer s = start(dir, List.of("TIMER_MS=300"), b -> b.settleTime(Duration.ofSeconds(2)))) {
            assertThat(s.server().timerDueAtFreeze()).as("settled: it fired in the template").isNull();
        }
        try (TestServer s = start(dir, List.of(), b -> b)) {
            assertThat(s.server().timerDueAtFreeze()).as("no timer").isNull();
        }
    }

    @Test
    void anotherThreadsTimedWaitDueWithinTheSettleTimeEndsInTheTemplate(@TempDir Path dir) throws Exception {
        // An idle pool thread (deno's): the thread that waits for connections has no timeout;
        // another one's futex wait ends 300 ms later, and its work (a line in the file) follows.
        assertThat(firingsAroundThreeRequests(dir, "THREAD_TIMER_MS=300", Duration.ofSeconds(2)))
                .as("ended in the template before it froze, then in no request VM").containsExactly(1L, 1L);
    }

    @Test
    void anotherThreadsTimedWaitSettlesAProgramThatBlocksInAccept(@TempDir Path dir) throws Exception {
        assertThat(firingsAroundThreeRequests(dir, List.of("THREAD_TIMER_MS=300", "BLOCKING_ACCEPT=1"),
                Duration.ofSeconds(2))).containsExactly(1L, 1L);
    }

    @Test
    void withoutSettlingEveryRequestVmEndsTheTemplatesOverdueThreadWait(@TempDir Path dir) throws Exception {
        try (TestServer s = start(dir, List.of("THREAD_TIMER_MS=300"), b -> b)) {
            assertThat(s.server().timerDueAtFreeze()).as("the other thread's wait is a timer pending at the freeze")
                    .isNotNull().isLessThanOrEqualTo(Duration.ofMillis(300));
        }
        long[] firings = firingsAroundThreeRequests(dir, "THREAD_TIMER_MS=300", Duration.ZERO);
        assertThat(firings[0]).as("not in the template").isZero();
        // In each request VM where the thread gets its turn (before the connection ends it).
        assertThat(firings[1]).as("in the request VMs").isPositive();
    }

    /** The timer's firings when the server has started, and after three requests made once it was due. */
    private static long[] firingsAroundThreeRequests(Path dir, String timer, Duration settle) throws Exception {
        return firingsAroundThreeRequests(dir, List.of(timer), settle);
    }

    private static long[] firingsAroundThreeRequests(Path dir, List<String> env, Duration settle) throws Exception {
        try (TestServer s = start(dir, env, b -> b.settleTime(settle))) {
            long atStart = firings(dir);
            Thread.sleep(400);
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/")).isEqualTo("hello");
            }
            return new long[] {atStart, firings(dir)};
        }
    }

    @Test
    void aTimerThatNeverStopsEndsTheSettlingAtTheSettleTime(@TempDir Path dir) throws Exception {
        // Every 50 ms, for ever: the template settles for its settle time of 0.9 s, which comes on
        // top of the boot time (a start that took 2 s of a 3 s boot time still settles; the
        // settling is cut to half of what is left of the two when less is left, so a start slowed
        // by a loaded machine settles a little less, never not at all).
        long start = System.nanoTime();
        try (TestServer s = start(dir, List.of("TIMER_MS=50", "TIMER_REPEAT=1", "LISTEN_PAUSE_MS=2000"),
                b -> b.settleTime(Duration.ofMillis(900)).maxBootTime(Duration.ofSeconds(3)))) {
            assertThat(s.get("/")).isEqualTo("hello");
            assertThat(firings(dir)).as("fired while settling (at most 0.9 s)").isBetween(5L, 20L);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThan(Duration.ofMillis(2300));
        }
    }

    @Test
    void anIdlePollIntervalEndsTheSettlingAtItsSecondTick(@TempDir Path dir) {
        // A wait of 100 ms, over and over, with nothing done in between: settling longer would
        // only repeat it. Without the rule the start takes the whole 20 s.
        long start = System.nanoTime();
        try (TestServer s = start(dir, List.of("POLL_MS=100"), b -> b.settleTime(Duration.ofSeconds(20))
                .maxBootTime(Duration.ofSeconds(60)))) {
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
            assertThat(s.server().timerDueAtFreeze()).as("frozen in a poll interval").isNotNull();
            assertThat(s.get("/")).isEqualTo("hello");
        }
    }

    @Test
    void aClientThatConnectsWhileTheTemplateSettlesIsServedByARequestVm(@TempDir Path dir) throws Exception {
        int port = TestServer.freePort();
        java.util.concurrent.CompletableFuture<String> early = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            for (int i = 0; i < 2_000; i++) {
                String answer = io.kvmserver.testing.Http.get(port, "/secret/early");
                if (!answer.startsWith("ERROR")) {
                    return answer;
                }
                try {
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return "never connected";
        });
        try (TestServer s = TestServer.start(port, GuestPrograms.get("http_server"), List.of(dir.toString()),
                b -> b.ephemeral(true).env(List.of("TIMER_MS=50", "TIMER_REPEAT=1")).allowWrite(List.of(dir.toString()))
                        .settleTime(Duration.ofSeconds(1)), (stream, address, length) -> length)) {
            assertThat(early.get()).isEqualTo("stored");
            assertThat(s.get("/peek")).isEqualTo("pristine");
        }
    }
}
