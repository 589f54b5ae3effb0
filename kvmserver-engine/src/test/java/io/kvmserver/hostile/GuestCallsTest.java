package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.server.ServerStats;
import io.kvmserver.testing.CapturedConsole;
import io.kvmserver.testing.Eventually;
import io.kvmserver.testing.GuestAnswers;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.NativeServer;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.function.BiPredicate;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The calls the PVM syscall entry answers in the guest ({@code GuestCalls}, {@code guest_calls.c}):
 * writes (and writevs), {@code TCP_NODELAY}, {@code FIONBIO} and epoll registrations of the served
 * connection queued in the guest and
 * performed by the host at the next exit, its {@code getsockname} answered from the address the
 * host published, {@code accept} on a request VM's spent listener answered {@code EAGAIN}, and a
 * zero-timeout epoll wait answered 0 right after the host found nothing. What a client
 * receives must be what Linux would have sent, in order, whatever the program does after its
 * write (computes, crashes) and whatever it writes into the queue page itself; a bad buffer gets
 * {@code EFAULT}; the answer page is the host's alone. On hosts where {@code syscall} enters CPL 0
 * (hardware VMX) the entry is not used: the same answers come from the host.
 */
@RequiresKvm
class GuestCallsTest {

    private static boolean answeredInGuest;

    @BeforeAll
    static void whereSystemCallsGo() {
        answeredInGuest = GuestAnswers.onThisHost();
    }

    private static TestServer start(UnaryOperator<KvmServerOptions.Builder> options) {
        return start(options, new CapturedConsole());
    }

    private static TestServer start(UnaryOperator<KvmServerOptions.Builder> options, CapturedConsole console) {
        return TestServer.start(GuestPrograms.get("guest_calls"), List.of(),
                b -> options.apply(b.ephemeral(true).threads(1).maxRequestTime(Duration.ofSeconds(20))), console);
    }

    private static String body(int length, int from) {
        StringBuilder b = new StringBuilder();
        for (int i = from; i < from + length; i++) {
            b.append((char) ('a' + i % 26));
        }
        return b.toString();
    }

    /**
     * The fewest VM exits of requests to {@code pathA} and to {@code pathB}, each counted once the
     * VM is back at the template, in rounds until {@code reached} holds of the two (a request whose
     * bytes reach the server after the host read ahead reads them through the host, one exit more;
     * {@link GuestAnswers#fewestExits}).
     */
    private static long[] exitsOf(TestServer s, BiPredicate<Long, Long> reached, String pathA, String expectedA,
            String pathB, String expectedB) {
        return GuestAnswers.fewestExits(s, 3, f -> reached.test(f[0], f[1]),
                () -> assertThat(s.get(pathA)).isEqualTo(expectedA), () -> assertThat(s.get(pathB)).isEqualTo(expectedB));
    }

    @Test
    void writesQueuedInTheGuestReachTheClientInOrder() {
        try (TestServer s = start(b -> b)) {
            for (int parts : new int[] {2, 4, 9, 30}) {
                assertThat(s.get("/parts/" + parts)).as("%d writes", parts).isEqualTo(body(parts - 1, 1));
            }
            assertThat(s.get("/sendto")).isEqualTo("sendto");
            for (int iovecs : new int[] {2, 8, 9, 12}) {
                assertThat(s.get("/writev/" + iovecs)).as("writev of %d", iovecs).isEqualTo(body(iovecs - 1, 1));
            }
            StringBuilder big = new StringBuilder();
            for (int i = 0; i < 12000; i++) {
                big.append((char) ('A' + i % 26));
            }
            assertThat(s.get("/big")).as("more than the queue takes").isEqualTo(big.toString());
            long[] exits = exitsOf(s, (one, six) -> six == (answeredInGuest ? one : one + 4),
                    "/parts/2", body(1, 1), "/parts/6", body(5, 1));
            long one = exits[0];
            long six = exits[1];
            if (answeredInGuest) {
                // Six writes cost the exits of two: all of them wait in the guest for the close,
                // with the accept and the read (eight entries).
                assertThat(six).as("exits of 6 writes against 2 (%d)", one).isEqualTo(one);
            } else {
                assertThat(six).as("exits of 6 writes against 2, each through the host").isEqualTo(one + 4);
            }
            assertThat(s.server().stats().failures()).isZero();
        }
    }

    @Test
    void aBadBufferGetsEfaultAsFromTheHost() {
        try (TestServer s = start(b -> b)) {
            assertThat(s.get("/efault")).isEqualTo("efault efault");
            assertThat(s.get("/badiov")).isEqualTo("efault efault");
            assertThat(s.get("/parts/3")).isEqualTo(body(2, 1));
        }
    }

    /**
     * A program that writes its response and then computes without a call: the response must not
     * wait for the program's next exit (here, its close seconds later).
     */
    @Test
    void aQueuedResponseIsSentWhileTheProgramComputes() throws IOException {
        try (TestServer s = start(b -> b); Socket c = new Socket()) {
            c.connect(new InetSocketAddress("127.0.0.1", s.port()), 5_000);
            c.setSoTimeout(15_000);
            long start = System.nanoTime();
            c.getOutputStream().write("GET /spin/6000 HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            InputStream in = c.getInputStream();
            byte[] buf = new byte[256];
            StringBuilder got = new StringBuilder();
            while (!got.toString().endsWith("spinning")) {
                int n = in.read(buf);
                assertThat(n).as("bytes before the connection closed").isPositive();
                got.append(new String(buf, 0, n, StandardCharsets.US_ASCII));
            }
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertThat(millis).as("ms to the whole response; the program computes for 6000 after it")
                    .isLessThan(3_000);
        }
    }

    @Test
    void aQueuedResponseArrivesWhenTheProgramCrashesAfterIt() {
        try (TestServer s = start(b -> b)) {
            assertThat(s.get("/crash")).isEqualTo("crashing");
            Eventually.reaches(() -> s.server().stats().requests(ServerStats.Outcome.CRASH), 1L);
            assertThat(s.get("/parts/4")).isEqualTo(body(3, 1));
        }
    }

    /** What {@code /options} answers on Linux (and must answer in the VM) for the server {@code s}. */
    private static String optionsAnswer(TestServer s) {
        return "nonblock=1 nodelay=1 name=127.0.0.1:" + s.port()
                + "/16 short=2/16 EINVAL EFAULT EFAULT EFAULT keepalive=1/30/5/4 E0EEE0E";
    }

    @Test
    void optionsAndTheLocalAddressAnswerAsLinux() {
        try (TestServer s = start(b -> b)) {
            String expected = optionsAnswer(s);
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/options")).isEqualTo(expected);
            }
        }
    }

    @Test
    void zeroTimeoutPollsThatFindNothingAnswerAsLinux() {
        try (TestServer s = start(b -> b)) {
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/epoll")).isEqualTo("0 0 0 pipe=1 del=0 add=1");
                // A queued ADD is performed before the next wait, which the guest does not answer.
                assertThat(s.get("/epollctl")).isEqualTo("add=0 wait=1 data=ok exist=EEXIST del=0 noent=ENOENT"
                        + " wait=0 add=0 wait=1 del=0 fault=EFAULT excl=0");
            }
            long[] exits = exitsOf(s, (two, six) -> answeredInGuest ? six - two >= 1 && six - two <= 2 : six - two == 4,
                    "/polls/2", "polled", "/polls/6", "polled");
            long two = exits[0];
            long six = exits[1];
            // Where the guest answers, every other wait in a row: one wait answered in the guest
            // per entry, so that a program polling in a loop still reaches the host.
            // (An exit between the waits, a tick or the server's periodic kick, starts a new entry:
            // one wait more may be answered then, seen once in a loaded run.)
            if (answeredInGuest) {
                assertThat(six - two).as("exits of 4 more waits (%d, %d)", two, six).isBetween(1L, 2L);
            } else {
                assertThat(six - two).as("exits of 4 more waits (%d, %d)", two, six).isEqualTo(4);
            }
        }
    }

    /**
     * A program that polls its connection with zero-timeout waits and makes no other call: the
     * client's next bytes must reach it (the guest answers at most one wait per entry).
     */
    @Test
    void aProgramPollingInALoopSeesWhatArrives() throws IOException, InterruptedException {
        try (TestServer s = start(b -> b); Socket c = new Socket()) {
            c.connect(new InetSocketAddress("127.0.0.1", s.port()), 5_000);
            c.setSoTimeout(15_000);
            c.getOutputStream().write("GET /spinpoll HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            InputStream in = c.getInputStream();
            StringBuilder got = new StringBuilder();
            byte[] buf = new byte[256];
            while (!got.toString().endsWith("ready\n")) {
                int n = in.read(buf);
                assertThat(n).isPositive();
                got.append(new String(buf, 0, n, StandardCharsets.US_ASCII));
            }
            Thread.sleep(200);
            c.getOutputStream().write('X');
            got.setLength(0);
            for (int n; (n = in.read(buf)) > 0;) {
                got.append(new String(buf, 0, n, StandardCharsets.US_ASCII));
            }
            assertThat(got.toString()).isEqualTo("saw X");
        }
    }

    /**
     * The calls of {@code name} one request to {@code path} makes, as the server counts them,
     * once the VM is back at the template (the count of the exit that ends the request included).
     */
    private static long callsOf(TestServer s, String path, String expected, String name) {
        return GuestAnswers.calls(s, name, () -> assertThat(s.get(path)).isEqualTo(expected));
    }

    /**
     * Calls the entry answers without queueing anything (zero-timeout waits that find nothing,
     * getsockname, a spent listener's accept) are counted by name as the host's are, wherever each
     * was answered: the metrics and the benchmarks' calls per request count every call.
     */
    @Test
    void callsAnsweredInTheGuestAreCountedByName() {
        try (TestServer s = start(b -> b)) {
            String options = optionsAnswer(s);
            for (int i = 0; i < 2; i++) {
                long two = callsOf(s, "/polls/2", "polled", "epoll_wait");
                long six = callsOf(s, "/polls/6", "polled", "epoll_wait");
                assertThat(six - two).as("epoll_wait calls of 4 more waits (%d, %d)", two, six).isEqualTo(4);
                assertThat(callsOf(s, "/options", options, "getsockname")).as("getsockname calls").isEqualTo(4);
                long accepts = callsOf(s, "/polls/2", "polled", "accept4");
                assertThat(callsOf(s, "/accept", "EAGAIN EINVAL EBADF", "accept4") - accepts)
                        .as("accept4 calls of 3 more accepts").isEqualTo(3);
            }
        }
    }

    @Test
    void acceptOnTheSpentListenerAnswersAsLinux() {
        try (TestServer s = start(b -> b)) {
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/accept")).isEqualTo("EAGAIN EINVAL EBADF");
            }
        }
        try (TestServer s = start(b -> b.ephemeral(false))) {
            assertThat(s.get("/accept")).as("a VM that is not reset").isEqualTo("EAGAIN EINVAL EBADF");
        }
    }

    @Test
    void theAnswerPageIsTheHostsAndReadOnly() {
        try (TestServer s = start(b -> b)) {
            String seen = s.get("/answers");
            if (answeredInGuest) {
                // FIONBIO, writes, TCP options and shutdown may be queued for the connection, and its
                // peer is named (167 = 1 | 2 | 4 | 32 | 128). It was accepted in the guest (the page
                // still says which fd it would get), or, when its bytes came after the host read
                // ahead, the host published it at the read.
                assertThat(seen).matches("fd=4 (conn=-1 accept=4|conn=4 accept=-1) queued=4 flags=167 listener=3 protected");
            } else {
                assertThat(seen).isEqualTo("fd=4 conn=-1 accept=-1 queued=-1 flags=0 listener=-1 protected");
            }
            assertThat(s.get("/accept")).as("after a request tried to change the page").isEqualTo("EAGAIN EINVAL EBADF");
        }
        try (TestServer s = start(b -> b.trace(true))) {
            assertThat(s.get("/answers")).as("traced: every call goes to the host")
                    .isEqualTo("fd=4 conn=-1 accept=-1 queued=-1 flags=0 listener=-1 protected");
        }
    }

    @Test
    void queueEntriesTheProgramForgesAreDropped() {
        CapturedConsole console = new CapturedConsole();
        try (TestServer s = start(b -> b, console)) {
            assertThat(s.get("/forge")).isEqualTo("survived");
            assertThat(s.get("/parts/5")).isEqualTo(body(4, 1));
            assertThat(s.get("/forge")).isEqualTo("survived");
            assertThat(console.text()).doesNotContain("FORGED");
            assertThat(s.server().stats().failures()).isZero();
        }
    }

    /**
     * A response, then shutdown(SHUT_WR): the client gets the response and the end of the stream
     * (before the program closes), and the program a write that fails with EPIPE after it, as on
     * Linux, whether the shutdown was queued in the guest or made by the host.
     */
    @Test
    void aShutdownForWritingEndsTheStreamAndLaterWrites() throws IOException {
        CapturedConsole console = new CapturedConsole();
        try (TestServer s = start(b -> b, console)) {
            for (int i = 0; i < 3; i++) {
                try (Socket c = new Socket()) {
                    c.connect(new InetSocketAddress("127.0.0.1", s.port()), 5_000);
                    c.setSoTimeout(15_000);
                    c.getOutputStream().write("GET /shutdown HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    String got = new String(c.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
                    assertThat(got).endsWith("\r\n\r\nshut");
                }
            }
            assertThat(Eventually.reaches(() -> count(console.text(), "shutdown=0 write=EPIPE"), 3))
                    .as(console.text()).isEqualTo(3);
            assertThat(s.get("/parts/3")).as("the next request writes again").isEqualTo(body(2, 1));
        }
    }

    /**
     * What php -S does on the connection it serves, answered and queued in the guest where the
     * entry answers: {@code fcntl(F_GETFL)} from the flags the host published, {@code F_SETFL}
     * with {@code O_NONBLOCK} queued, and {@code shutdown(SHUT_RDWR)} queued before the close, so
     * that its request costs the exits of one that only writes. Every answer is Linux's: the flags
     * read back after a change (through the host: the page is stale then), a read that fails with
     * {@code EAGAIN} once non-blocking, {@code O_APPEND} (the host's), a {@code cmd} with bits above
     * its 32; after {@code SHUT_RDWR} a write fails with {@code EPIPE} and a read returns 0, and the
     * client gets the response and the end of the stream.
     */
    @Test
    void phpsFlagsAndShutdownOfItsConnectionAnswerAsLinux() throws IOException {
        String flags = "getfl=0x2 setfl=0 nonblock=0x802 read=EAGAIN back=0 0x2 append=0 0x402 wide=0x2";
        CapturedConsole console = new CapturedConsole();
        try (TestServer s = start(b -> b, console)) {
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/fcntl")).isEqualTo(flags);
                try (Socket c = new Socket()) {
                    c.connect(new InetSocketAddress("127.0.0.1", s.port()), 5_000);
                    c.setSoTimeout(15_000);
                    c.getOutputStream().write("GET /shutrdwr HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    assertThat(new String(c.getInputStream().readAllBytes(), StandardCharsets.US_ASCII))
                            .endsWith("\r\n\r\nrdwr");
                }
            }
            assertThat(Eventually.reaches(() -> count(console.text(), "rdwr=0 write=EPIPE read=0"), 3))
                    .as(console.text()).isEqualTo(3);
            long[] exits = exitsOf(s, (parts, php) -> php == (answeredInGuest ? parts : parts + 3),
                    "/parts/2", body(1, 1), "/php", "php");
            long parts = exits[0];
            long php = exits[1];
            assertThat(php).as("exits of php's calls against a response alone (%d)", parts)
                    .isEqualTo(answeredInGuest ? parts : parts + 3);
            assertThat(s.server().stats().failures()).isZero();
        }
        NativeServer.expectAnswer("guest_calls", "/fcntl", flags);
        NativeServer.expectAnswer("guest_calls", "/php", "php");
    }

    private static long count(String text, String line) {
        return text.lines().filter(line::equals).count();
    }

    @Test
    void aVmThatIsNotResetQueuesForEveryConnection() {
        try (TestServer s = start(b -> b.ephemeral(false))) {
            for (int i = 0; i < 6; i++) {
                assertThat(s.get("/parts/" + (3 + i))).isEqualTo(body(2 + i, 1));
                assertThat(s.get("/sendto")).isEqualTo("sendto");
            }
        }
    }
}
