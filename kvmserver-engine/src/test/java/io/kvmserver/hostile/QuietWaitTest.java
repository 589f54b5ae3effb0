package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.testing.CapturedConsole;
import io.kvmserver.testing.GuestAnswers;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * The zero-timeout epoll waits the PVM syscall entry answers with 0 because the host polled the
 * instance before the entry and found nothing ready (python3 asyncio polls four times between
 * its accept and its close): at most four per entry, and never when something in the instance was ready at that
 * poll (more bytes on the connection, a file another call made ready) or when the poll would have
 * had to look at a listener that may still accept (its readiness takes a connection). Every
 * answer was first checked natively.
 */
@RequiresKvm
class QuietWaitTest {

    private static final String REQUEST = "GET / HTTP/1.1\r\n\r\n";
    private static TestServer start(String mode, UnaryOperator<KvmServerOptions.Builder> options) {
        return TestServer.start(GuestPrograms.get("epoll_quiet"), List.of(mode),
                b -> options.apply(b.threads(1).maxRequestTime(Duration.ofSeconds(20))), new CapturedConsole());
    }

    private static String bodyOf(String response) {
        int at = response.indexOf("\r\n\r\n");
        return at < 0 ? response : response.substring(at + 4);
    }

    @Test
    void fourPollsAfterAHostCallAreAnsweredWithoutTheHostAndTheFifthReachesIt() {
        try (TestServer s = start("quiet", b -> b.ephemeral(true))) {
            // In the guest: the accept, the add, the wait after it, the read, four of the polls,
            // the delete and the writes. Exits: getppid, the fifth poll and the close.
            GuestAnswers.expectExits(s, 3, "exits of a request",
                    () -> assertThat(s.get("/")).isEqualTo("waits=0,0,0,0,0 data=-"));
        }
    }

    /**
     * The host looked while the request's bytes waited, read ahead, and nothing else was ready:
     * once the program has read them all in the guest, its polls are answered there too (python3
     * asyncio reads its request and polls after its response with no call the host answers between).
     */
    @Test
    void pollsAfterTheProgramReadWhatTheHostReadAheadAreAnsweredWithoutTheHost() {
        try (TestServer s = start("unread", b -> b.ephemeral(true))) {
            GuestAnswers.expectExits(s, 3, "exits of a request: getppid, the fifth poll, the close",
                    () -> assertThat(s.get("/")).isEqualTo("waits=0,0,0,0,0 data=-"));
        }
    }

    /** Part of the request still unread: the connection is still readable, and the poll says so. */
    @Test
    void aPollBeforeEverythingReadAheadIsReadFindsTheConnection() {
        try (TestServer s = start("partial", b -> b.ephemeral(true))) {
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/")).isEqualTo("waits=1 data=7");
            }
        }
    }

    /**
     * The client shut its side down after the request: once the request is read the connection is
     * still readable (the end of the stream), and every poll says so.
     */
    @Test
    void aConnectionTheClientShutDownStaysReadable() throws IOException {
        try (TestServer s = start("unread-ended", b -> b.ephemeral(true))) {
            for (int i = 0; i < 3; i++) {
                assertThat(bodyOfRawRequest(s, REQUEST, true)).isEqualTo("waits=1,1,1,1,1 data=7");
            }
        }
    }

    /** Registered for EPOLLOUT as well: the connection is writable, whatever was read. */
    @Test
    void aConnectionWatchedForWritingIsFoundWritable() {
        try (TestServer s = start("writable", b -> b.ephemeral(true))) {
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/")).isEqualTo("waits=1 data=7");
            }
        }
    }

    /** More than the host reads ahead: read what it read ahead, and the connection is still readable. */
    @Test
    void aPollAfterWhatWasReadAheadFindsTheRestOfALargeRequest() throws IOException {
        try (TestServer s = start("big", b -> b.ephemeral(true))) {
            for (int i = 0; i < 3; i++) {
                String request = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + "a".repeat(5000) + "\r\n\r\n";
                assertThat(bodyOfRawRequest(s, request, false)).isEqualTo("waits=1 data=7");
            }
        }
    }

    /** Sends {@code request} on a new connection (then shuts the client's side down, or not): the response's body. */
    private static String bodyOfRawRequest(TestServer s, String request, boolean shutDown) throws IOException {
        try (Socket c = new Socket()) {
            c.connect(new InetSocketAddress("127.0.0.1", s.port()), 5_000);
            c.setSoTimeout(15_000);
            c.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
            if (shutDown) {
                c.shutdownOutput();
            }
            return bodyOf(new String(c.getInputStream().readAllBytes(), StandardCharsets.US_ASCII));
        }
    }

    @Test
    void bytesThatArrivedBeforeTheHostLookedAreFound() throws IOException {
        try (TestServer s = start("more", b -> b.ephemeral(true))) {
            for (int i = 0; i < 3; i++) {
                try (Socket c = new Socket()) {
                    c.connect(new InetSocketAddress("127.0.0.1", s.port()), 5_000);
                    c.setSoTimeout(15_000);
                    OutputStream out = c.getOutputStream();
                    out.write(REQUEST.getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    // The program writes "+" once it has read the request, then sleeps 300 ms:
                    // more bytes after that, as late as the load makes them.
                    InputStream in = c.getInputStream();
                    assertThat(in.read()).as("the program's sign that it read the request").isEqualTo('+');
                    out.write("extra".getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    String got = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
                    assertThat(bodyOf(got)).isEqualTo("waits=1 data=7");
                }
            }
        }
    }

    @Test
    void aFileAnotherCallMadeReadyIsFound() {
        try (TestServer s = start("eventfd", b -> b.ephemeral(true))) {
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/")).isEqualTo("waits=1 data=2");
            }
        }
    }

    /**
     * A timer in the instance, armed but not due when the host looked: the program reads the clock
     * in the guest past its deadline, and its poll must find it (time alone made it ready).
     */
    @Test
    void aTimerThatFiresAfterTheHostLookedIsFound() {
        try (TestServer s = start("timer", b -> b.ephemeral(true))) {
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/")).isEqualTo("waits=1 data=3");
            }
        }
    }

    /**
     * A VM that is not reset may take the next connection: a poll of its listener would take it,
     * so the host does not look before the entry, and the program's poll finds the client that
     * connected while it slept.
     */
    @Test
    void aListenerThatMayAcceptIsLeftToTheProgramsOwnPoll() throws IOException {
        try (TestServer s = start("listener", b -> b.ephemeral(false)); Socket first = new Socket();
                Socket second = new Socket()) {
            // A first connection alone: the program's poll after it shows the host a program that
            // polls with a zero timeout, the only kind for which it looks before an entry (the
            // response after the program's "+").
            assertThat(bodyOfRawRequest(s, REQUEST, false)).isEqualTo("waits=0 data=-");
            first.connect(new InetSocketAddress("127.0.0.1", s.port()), 5_000);
            first.setSoTimeout(15_000);
            first.getOutputStream().write(REQUEST.getBytes(StandardCharsets.US_ASCII));
            InputStream in = first.getInputStream();
            assertThat(in.read()).as("the program's sign that it read the request").isEqualTo('+');
            second.connect(new InetSocketAddress("127.0.0.1", s.port()), 5_000);
            second.setSoTimeout(15_000);
            assertThat(bodyOf(new String(in.readAllBytes(), StandardCharsets.US_ASCII))).isEqualTo("waits=1 data=1");
            second.getOutputStream().write(REQUEST.getBytes(StandardCharsets.US_ASCII));
            assertThat(bodyOf(new String(second.getInputStream().readAllBytes(), StandardCharsets.US_ASCII)))
                    .isEqualTo("waits=0 data=-");
        }
    }
}
