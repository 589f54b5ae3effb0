package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.CapturedConsole;
import io.kvmserver.testing.GuestAnswers;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.TestServer;
import io.kvmserver.testing.RequiresKvm;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A read at the end of the stream the PVM syscall entry answers in the guest (redis reads its
 * client's end of stream before it closes): 0 once the program has read every byte the host read
 * ahead, when the host found the peer's end of stream right after them; when more bytes follow
 * than were read ahead, the host reads them first, in order, and then the end. The fixture's
 * answers were checked natively.
 */
@RequiresKvm
class EndOfStreamTest {

    private static TestServer start(String... mode) {
        return TestServer.start(GuestPrograms.get("read_eof"), List.of(mode),
                b -> b.ephemeral(true).threads(1).maxRequestTime(Duration.ofSeconds(20)), new CapturedConsole());
    }

    private static String bodyOf(String response) {
        return response.substring(response.indexOf("\r\n\r\n") + 4);
    }

    /**
     * Sends a request, waits {@code pauseMillis}, sends {@code more} and shuts down the client's
     * side; returns the whole response.
     */
    private static String exchangeInTwoParts(TestServer s, long pauseMillis, String more)
            throws IOException, InterruptedException {
        try (Socket c = new Socket()) {
            c.connect(new InetSocketAddress("127.0.0.1", s.port()), 5_000);
            c.setSoTimeout(15_000);
            OutputStream out = c.getOutputStream();
            out.write("GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            Thread.sleep(pauseMillis);
            out.write(more.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            c.shutdownOutput();
            return new String(c.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
        }
    }

    @Test
    void theEndOfTheStreamAfterTheRequestIsReadWithoutTheHost() {
        String request = "GET / HTTP/1.1\r\n\r\n";
        try (TestServer s = start()) {
            // In the guest: the accept, the read, the read of the end, the writes; the close exits.
            GuestAnswers.expectExits(s, 1, "exits of a request",
                    () -> assertThat(bodyOf(s.exchange(request, true))).isEqualTo("bytes=18 end=0"));
            assertThat(GuestAnswers.calls(s, "read", () -> assertThat(bodyOf(s.exchange(request, true)))
                    .isEqualTo("bytes=18 end=0"))).as("reads of a request, wherever answered").isEqualTo(2);
        }
    }

    /**
     * A client that sends its request and shuts down its side only once the program's read for
     * more waits in the host: the read returns the end of the stream, and the response comes.
     * The engine watches the connection during host waits, to end the request of a client that
     * went away; it found the client's end of the stream first and ended the request without a
     * response (the empty response this test class saw now and then, when the end arrived while
     * that read waited).
     */
    @Test
    void theEndOfTheStreamWhileTheReadWaitsInTheHostEndsTheReadNotTheRequest() throws IOException, InterruptedException {
        try (TestServer s = start()) {
            for (int i = 0; i < 3; i++) {
                // The program reads the request; its next read waits in the host.
                assertThat(bodyOf(exchangeInTwoParts(s, 200, ""))).as("request " + i).isEqualTo("bytes=18 end=0");
            }
            assertThat(s.server().stats().failures()).isZero();
        }
    }

    /**
     * Bytes that arrive, with the end of the stream, after the host read ahead and while the
     * program makes a call the host answers: the host's poll finds more than it read ahead, so
     * the program reads them all (through the host) before the end.
     */
    @Test
    void bytesThatArriveAfterTheReadAheadComeBeforeTheEnd() throws IOException, InterruptedException {
        try (TestServer s = start("late")) {
            for (int i = 0; i < 3; i++) {
                // The program sleeps 100 ms before it reads.
                assertThat(bodyOf(exchangeInTwoParts(s, 30, "y".repeat(100)))).isEqualTo("bytes=118 end=0");
            }
        }
    }

    /**
     * A read whose count runs past the end of user space gets Linux's EFAULT (its access check
     * comes before it looks at the socket), though the bytes read ahead are there and the entry
     * would copy only those; the bytes are then read as sent.
     */
    @Test
    void aReadWhoseBufferRunsPastUserSpaceGetsEfault() {
        try (TestServer s = start("badbuf")) {
            for (int i = 0; i < 3; i++) {
                assertThat(bodyOf(s.exchange("GET / HTTP/1.1\r\n\r\n", true))).isEqualTo("bad=-14 bytes=18 end=0");
            }
        }
    }

    /** More bytes than the host reads ahead: the rest through the host, then the end of the stream. */
    @Test
    void bytesBeyondWhatWasReadAheadComeBeforeTheEnd() {
        String request = "x".repeat(5000);
        try (TestServer s = start()) {
            for (int i = 0; i < 3; i++) {
                assertThat(bodyOf(s.exchange(request, true))).isEqualTo("bytes=5000 end=0");
            }
        }
    }
}
