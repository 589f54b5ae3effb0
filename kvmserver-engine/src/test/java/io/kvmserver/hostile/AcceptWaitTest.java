package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.CapturedConsole;
import io.kvmserver.testing.GuestAnswers;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The zero-timeout epoll wait the PVM syscall entry answers right after an accept it answered:
 * the host's wait found the listener ready and nothing else, so once the program has taken the
 * connection (and the listener refuses more) nothing in the instance is. Where time alone makes
 * a file in the instance ready (an armed timerfd), the poll goes to the host, which finds it; the
 * same holds for the zero-timeout wait answered after one the host found empty. A wait that
 * reported the listener but had more ready than it had room for is never used.
 */
@RequiresKvm
class AcceptWaitTest {

    private static boolean answeredInGuest;

    @BeforeAll
    static void whereSystemCallsGo() {
        answeredInGuest = GuestAnswers.onThisHost();
    }

    private static TestServer start(String mode) {
        return TestServer.start(GuestPrograms.get("epoll_accept"), List.of(mode),
                b -> b.ephemeral(true).threads(1).maxRequestTime(Duration.ofSeconds(20)), new CapturedConsole());
    }

    /** The fewest exits of requests answered {@code expected}, until one makes no more than {@code floor}. */
    private static long exits(TestServer s, String expected, long floor) {
        return GuestAnswers.fewestExits(s, 3, f -> f <= floor, () -> assertThat(s.get("/")).isEqualTo(expected));
    }

    @Test
    void aPollAfterTheAcceptFindsNothingWithoutTheHost() {
        try (TestServer s = start("quiet")) {
            // Where the guest answers: the accept, the poll, the read and the writes wait in
            // the guest, and the close exits. Through the host: the accept, the poll, the read,
            // two writes, the close, and the next loop's timerfd read.
            long floor = answeredInGuest ? 1 : 5;
            assertThat(exits(s, "events=0 data=-", floor)).as("exits of a request").isEqualTo(floor);
        }
    }

    /**
     * An instance that watches a timerfd: time alone makes it ready, and the program can read the
     * clock in the guest, so neither a wait found empty by the host nor one after the accept is
     * answered in the guest.
     */
    @Test
    void aTimerThatFiresWhileTheProgramComputesIsFound() {
        try (TestServer s = start("spin")) {
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/")).as("the timer, due while the program read the clock").isEqualTo("events=1 data=2");
            }
        }
    }

    /**
     * The wait that returned the listener had room for one event and two were ready: it did not
     * see everything, and the poll after the accept goes to the host, which finds the timer.
     */
    @Test
    void aPollAfterAWaitWithoutRoomForEverythingFindsTheRest() throws InterruptedException {
        try (TestServer s = start("timer")) {
            Thread.sleep(50); // the timer the template armed for 20 ms before its wait is due
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/")).as("the timer, ready beside the listener").isEqualTo("events=1 data=2");
            }
        }
    }
}
