package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.CapturedConsole;
import io.kvmserver.testing.GuestAnswers;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The epoll wait the PVM syscall entry answers right after the program adds the connection to its
 * instance (nginx and python3's asyncio do it for every connection): the connection's events as
 * the host polled them before the entry, when the instance had nothing else ready and nothing
 * since can have changed that. Every answer is one Linux gives (the fixture's answers were checked
 * natively); the ones that depend on whether the request's bytes had arrived when the server
 * accepted are listed as alternatives, and the guest's answer must be one of them. The host
 * records what was reported: an edge-triggered or one-shot registration is not reported again.
 */
@RequiresKvm
class WaitAfterAddTest {

    private static TestServer start(String mode) {
        return TestServer.start(GuestPrograms.get("epoll_added"), List.of(mode),
                b -> b.ephemeral(true).threads(1).maxRequestTime(Duration.ofSeconds(20)), new CapturedConsole());
    }

    /** The answers to three requests. */
    private static List<String> answers(String mode) {
        try (TestServer s = start(mode)) {
            List<String> got = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                got.add(s.get("/"));
            }
            return got;
        }
    }

    @Test
    void theWaitAfterTheAddIsAnsweredWithoutTheHost() {
        try (TestServer s = start("plain")) {
            // In the guest: the accept, the add, the wait, the read and the writes; the close exits.
            GuestAnswers.expectExits(s, 1, "exits of a request",
                    () -> assertThat(s.get("/")).isEqualTo("n=1 events=0x1 data=7 second=-2"));
        }
    }

    /**
     * python3's asyncio after the wait: it reads the request, polls, removes the connection and
     * polls again, all in the guest (when the connection held only the bytes the host read
     * ahead), so the close is the request's one exit.
     */
    @Test
    void pollsAfterTheReadAndTheDeleteAreAnsweredWithoutTheHost() {
        try (TestServer s = start("python")) {
            GuestAnswers.expectExits(s, 1, "exits of a request",
                    () -> assertThat(s.get("/")).isEqualTo("n=1 events=0x1 read=0 deleted=0"));
        }
    }

    /**
     * The connection holds more than the host read ahead: once the program has read those bytes
     * it is still readable, and the poll after the read says so (the host's, as on Linux).
     */
    @Test
    void aPollAfterTheReadFindsBytesBeyondWhatWasReadAhead() {
        String request = "GET / HTTP/1.1\r\nX: " + "a".repeat(5000 - 24) + "\r\n\r\n";
        try (TestServer s = start("pybig")) {
            for (int i = 0; i < 3; i++) {
                String response = s.exchange(request);
                assertThat(response.substring(response.indexOf("\r\n\r\n") + 4))
                        .isEqualTo("n=1 events=0x1 read=1 deleted=0");
            }
        }
    }

    @Test
    void aLevelTriggeredConnectionIsReportedAgain() {
        assertThat(answers("level")).allMatch("n=1 events=0x1 data=7 second=1"::equals);
    }

    /** nginx's registration: the edge the guest reported is not reported again by the host. */
    @Test
    void anEdgeReportedInTheGuestIsNotReportedAgain() {
        assertThat(answers("edge")).as("IN and OUT at once, or OUT before the bytes arrived")
                .allMatch(a -> a.equals("n=1 events=0x5 data=7 second=0") || a.equals("n=1 events=0x4 data=7 second=0")
                        || a.equals("n=1 events=0x4 data=7 second=1"))
                .contains("n=1 events=0x5 data=7 second=0");
    }

    @Test
    void aOneShotRegistrationReportedInTheGuestIsDisabled() {
        assertThat(answers("oneshot")).allMatch("n=1 events=0x1 data=7 second=0"::equals);
    }

    @Test
    void onlyTheEventsAskedForAreReported() {
        assertThat(answers("out")).allMatch("n=1 events=0x4 data=7 second=-2"::equals);
    }

    /**
     * A call the host answered between the accept and the wait (here it made another file in the
     * instance ready): the host no longer vouches for the rest of the instance, and the wait finds
     * that file too.
     */
    @Test
    void aFileMadeReadySinceIsFoundToo() {
        assertThat(answers("busy")).as("the eventfd first (ready first), and the connection once its bytes are there")
                .allMatch(a -> a.equals("n=2 events=0x1 data=2 second=-2") || a.equals("n=1 events=0x1 data=2 second=-2"))
                .contains("n=2 events=0x1 data=2 second=-2");
    }

    /** The program read the bytes before it added the connection: nothing is left to report. */
    @Test
    void bytesAlreadyReadAreNotReportedAgain() {
        assertThat(answers("early")).allMatch("n=0 events=0x0 data=0 second=-2"::equals);
    }

    /** Before the accept the entry's served connection is -1: an add of fd -1 is not taken for it. */
    @Test
    void anAddOfANegativeFdGetsEbadf() {
        assertThat(answers("badfd")).allMatch("badfd=9 n=1 events=0x1 data=7 second=-2"::equals);
    }

    @Test
    void aBadArrayOrCountGetsLinuxsErrorsAndTheRightAnswerAfter() {
        assertThat(answers("badbuf")).allMatch("efault=14 einval=22 n=1 events=0x1"::equals);
    }
}
