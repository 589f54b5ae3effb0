package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.server.ServerStats;
import io.kvmserver.testing.CapturedConsole;
import io.kvmserver.testing.Eventually;
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
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The accepts and reads the PVM syscall entry answers in the guest: the connection a request VM's
 * listener keeps for the program, accepted at the fd the host would give and with the peer's
 * address as Linux copies it (a short length, a negative one, bad pointers answered by the host),
 * and the request read from the bytes the host peeked at, in pieces, by read and recvfrom, with
 * peeks and the bytes past the read-ahead through the host. What the program reads must be what
 * the client sent, byte for byte, whatever the sizes, the timing and the program's own entries in
 * the queue page; a VM that serves connection after connection never reads one's bytes as
 * another's. On hosts where {@code syscall} enters CPL 0 the same answers come from the host.
 */
@RequiresKvm
class ReadAheadTest {

    private static boolean answeredInGuest;

    @BeforeAll
    static void whereSystemCallsGo() {
        answeredInGuest = GuestAnswers.onThisHost();
    }

    private static TestServer start(String mode, UnaryOperator<KvmServerOptions.Builder> options) {
        return start(mode, options, new CapturedConsole());
    }

    private static TestServer start(String mode, UnaryOperator<KvmServerOptions.Builder> options,
            CapturedConsole console) {
        return TestServer.start(GuestPrograms.get("read_ahead"), List.of(mode),
                b -> options.apply(b.ephemeral(true).threads(1).maxRequestTime(Duration.ofSeconds(20))), console);
    }

    private static long lines(CapturedConsole console, String prefix) {
        return console.text().lines().filter(l -> l.startsWith(prefix)).count();
    }

    /** A request with a body of {@code length} bytes, all different from their neighbours. */
    private static String request(int length) {
        StringBuilder body = new StringBuilder();
        for (int i = 0; i < length; i++) {
            body.append((char) ('a' + (i * 7 + i / 26) % 26));
        }
        return "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + length + "\r\n\r\n" + body;
    }

    /** The body of the program's response: its first line, then what it read. */
    private static String bodyOf(String response) {
        int at = response.indexOf("\r\n\r\n");
        return at < 0 ? response : response.substring(at + 4);
    }

    private static String expected(String firstLine, String request) {
        return firstLine + " read=" + request.length() + "\n" + request;
    }

    @Test
    void everyAcceptAnswersAsLinuxAndTheRequestIsReadAsSent() {
        String[][] modes = {
            {"full", "full: accept=peer fd=4"},
            {"short", "short: accept=cut fd=4"},
            {"null", "null: accept=none fd=4"},
            {"negative", "negative: first=EINVAL accept=peer fd=4"},
            {"badaddr", "badaddr: first=EFAULT accept=peer fd=4"},
            {"badlen", "badlen: first=EFAULT accept=peer fd=4"},
            {"nonblock", "nonblock: flags=0x802/0x2 accept=peer fd=4"},
        };
        for (String[] mode : modes) {
            try (TestServer s = start(mode[0], b -> b)) {
                for (int length : new int[] {0, 1, 100, 3000, 6000, 20000}) {
                    String sent = request(length);
                    assertThat(bodyOf(s.exchange(sent))).as("%s, a body of %d", mode[0], length)
                            .isEqualTo(expected(mode[1], sent));
                }
                assertThat(s.server().stats().failures()).as(mode[0]).isZero();
            }
        }
    }

    /**
     * The head first, the body later: the program reads what was read ahead, then waits for the
     * rest through the host, which must not give it a byte twice or lose one.
     */
    @Test
    void bytesThatArriveLaterAreReadOnceInOrder() throws IOException, InterruptedException {
        try (TestServer s = start("full", b -> b)) {
            for (int split : new int[] {10, 40, 63}) {
                String sent = request(5000);
                try (Socket c = new Socket()) {
                    c.connect(new InetSocketAddress("127.0.0.1", s.port()), 5_000);
                    c.setSoTimeout(15_000);
                    OutputStream out = c.getOutputStream();
                    out.write(sent.substring(0, split).getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    Thread.sleep(100);
                    out.write(sent.substring(split).getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    InputStream in = c.getInputStream();
                    String got = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
                    assertThat(bodyOf(got)).as("split at %d", split).isEqualTo(expected("full: accept=peer fd=4", sent));
                }
            }
        }
    }

    /**
     * A server that speaks first, to a client that sends nothing until it has heard it: the host,
     * which finds no bytes to read ahead for the new connection, does not wait for them.
     */
    @Test
    void aServerThatSpeaksFirstIsHeardBeforeTheClientSends() throws IOException {
        try (TestServer s = start("banner", b -> b)) {
            for (int i = 0; i < 3; i++) {
                String sent = request(100);
                try (Socket c = new Socket()) {
                    c.connect(new InetSocketAddress("127.0.0.1", s.port()), 5_000);
                    c.setSoTimeout(5_000);
                    InputStream in = c.getInputStream();
                    byte[] banner = in.readNBytes(6);
                    assertThat(new String(banner, StandardCharsets.US_ASCII)).isEqualTo("ready\n");
                    OutputStream out = c.getOutputStream();
                    out.write(sent.getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    String got = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
                    assertThat(bodyOf(got)).isEqualTo(expected("banner: accept=peer fd=4", sent));
                }
            }
        }
    }

    /**
     * A connection the client reset before the program accepted it: its getpeername gets
     * {@code ENOTCONN} (the guest does not answer it from the address the host read before the
     * reset) and the program's first read gets {@code ECONNRESET}, as on Linux. (Reading ahead must not take the error: a peek that finds no
     * bytes returns and clears it, and the read would then find the end of the stream.)
     */
    @Test
    void aResetConnectionsReadGetsEconnreset() throws IOException, InterruptedException {
        CapturedConsole console = new CapturedConsole();
        try (TestServer s = start("full", b -> b, console); Socket busy = new Socket()) {
            // The one request VM waits for this connection's bytes while the next one is reset.
            busy.connect(new InetSocketAddress("127.0.0.1", s.port()), 5_000);
            busy.setSoTimeout(15_000);
            Thread.sleep(200);
            try (Socket reset = new Socket()) {
                reset.connect(new InetSocketAddress("127.0.0.1", s.port()), 5_000);
                reset.setSoLinger(true, 0);
            }
            Thread.sleep(200);
            String sent = request(10);
            busy.getOutputStream().write(sent.getBytes(StandardCharsets.US_ASCII));
            String got = new String(busy.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            assertThat(bodyOf(got)).isEqualTo(expected("full: accept=peer fd=4", sent));
            assertThat(Eventually.reaches(() -> console.text().contains("read: Connection reset by peer") ? 1 : 0, 1))
                    .as("the program's read of the reset connection: %s", console.text()).isEqualTo(1);
            assertThat(console.text()).as("the program's getpeername of the reset connection")
                    .contains("getpeername: ENOTCONN");
        }
    }

    /**
     * The client resets the connection while the program computes, and the program then writes
     * (a write the guest queues: the send queue was empty when the host last looked) and reads.
     * Either the write came first and the read finds the reset, or the write found it and the read
     * the end of the stream; never both a write that succeeded and a read that finds no error (the
     * host's send of the queued bytes took the socket's error: it must leave it to the program).
     */
    @Test
    void aResetWhileTheProgramComputesIsFoundByItsNextCall() throws IOException {
        CapturedConsole console = new CapturedConsole();
        try (TestServer s = start("late", b -> b, console)) {
            for (int i = 0; i < 3; i++) {
                try (Socket c = new Socket()) {
                    c.connect(new InetSocketAddress("127.0.0.1", s.port()), 5_000);
                    c.getOutputStream().write(request(10).getBytes(StandardCharsets.US_ASCII));
                    c.getOutputStream().flush();
                    c.setSoLinger(true, 0);
                    long read = i + 1;
                    assertThat(Eventually.reaches(() -> lines(console, "late: request read"), read)).isEqualTo(read);
                } // reset
                long done = i + 1;
                assertThat(Eventually.reaches(() -> lines(console, "late: write="), done)).as(console.text()).isEqualTo(done);
            }
            assertThat(console.text().lines().filter(l -> l.startsWith("late: write=")))
                    .allMatch(l -> l.equals("late: write=OK read=ECONNRESET") || l.equals("late: write=ECONNRESET read=0"));
        }
    }

    /**
     * A VM that is not reset serves connection after connection: bytes read ahead for one (whose
     * host fd the next may reuse) must never be read as the next one's.
     */
    @Test
    void aVmThatIsNotResetReadsEachConnectionsOwnBytes() {
        try (TestServer s = start("full", b -> b.ephemeral(false))) {
            for (int i = 0; i < 12; i++) {
                String sent = request(i * 37);
                assertThat(bodyOf(s.exchange(sent))).as("connection %d", i)
                        .matches("full: accept=peer fd=\\d+ read=" + sent.length() + "\n\\Q" + sent + "\\E");
            }
        }
    }

    /**
     * Entries the program writes into the queue itself (an accept at another fd, a read of more
     * than was read ahead, a read of stdin) are dropped, and a count of bytes "read" it forges
     * makes the entry leave the rest to the host: the request still reads as sent.
     */
    @Test
    void entriesTheProgramForgesAreDroppedOrContained() {
        try (TestServer s = start("forge", b -> b)) {
            for (int length : new int[] {0, 50, 6000}) {
                String sent = request(length);
                assertThat(bodyOf(s.exchange(sent))).as("a body of %d", length)
                        .isEqualTo(expected("forge: accept=peer fd=4", sent));
            }
            assertThat(Eventually.reaches(() -> s.server().stats().requests(ServerStats.Outcome.OK), 3L)).isEqualTo(3);
            assertThat(s.server().stats().failures()).isZero();
        }
    }

    /**
     * Where the guest answers, a request whose bytes were there when the host looked makes one
     * exit, its close: the accept, the getpeername the program checks the accepted address with
     * (the address it gives is compared with accept's), the reads and the writes are answered or
     * wait in the guest. (A request whose bytes arrive after the host looked reads them through
     * the host: the fewest of a few.)
     */
    @Test
    void aRequestReadAheadExitsOnlyToClose() {
        try (TestServer s = start("full", b -> b)) {
            String sent = request(20);
            // Through the host: the accept, the getpeername, the reads of 1, 7 and 64 bytes the
            // request of 72 takes, the two writes and the close.
            long floor = answeredInGuest ? 1 : 8;
            long fewest = GuestAnswers.fewestExits(s, 5, f -> f <= floor,
                    () -> assertThat(bodyOf(s.exchange(sent))).isEqualTo(expected("full: accept=peer fd=4", sent)));
            assertThat(fewest).as("exits of a request").isEqualTo(floor);
        }
    }
}
