package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.Errno;
import io.kvmserver.host.LibC;
import io.kvmserver.host.SyscallNumbers;
import io.kvmserver.server.ServerStats;
import io.kvmserver.testing.CapturedConsole;
import io.kvmserver.testing.Eventually;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * How request VMs wait on the template's listeners: a program that waits on several in one call
 * gets the connections of each (fails when a VM's wait watches only the last one asked for), and
 * a host accept that fails with the connection still queued reaches the program's
 * {@code accept4} instead of sending an idle VM's wait round a host poll that finds the listener
 * readable again (fails without: the VMs spin, and the program never learns of the error).
 */
@RequiresKvm
class ListenerWaitTest {

    private static final String REQUEST = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    private static final int RLIMIT_NOFILE = 7;

    @Test
    void aProgramWaitingOnTwoListenersGetsTheConnectionsOfBoth() throws IOException {
        int first = TestServer.freePort();
        int second = TestServer.freePort();
        while (second == first) {
            second = TestServer.freePort();
        }
        List<String> listen = List.of("127.0.0.1:" + first, "127.0.0.1:" + second);
        try (TestServer s = TestServer.start(first, GuestPrograms.get("two_listeners"), List.of(Integer.toString(second)),
                b -> b.ephemeral(true).threads(2).allowListen(listen), new CapturedConsole())) {
            long fdsAfterFirstRound = 0;
            for (int round = 0; round < 6; round++) {
                // Either port alone, and then both at once, as clients of a dual-stack server come.
                assertThat(body(get(first))).as("port 1, round %d", round).isEqualTo("listener=1");
                assertThat(body(get(second))).as("port 2, round %d", round).isEqualTo("listener=2");
                assertThat(body(get(first))).as("port 1 after port 2, round %d", round).isEqualTo("listener=1");
                if (round == 0) {
                    fdsAfterFirstRound = openHostFds();
                }
            }
            assertThat(openHostFds()).as("host fds after more requests on both listeners").isEqualTo(fdsAfterFirstRound);
        }
    }

    /**
     * The JVM out of fds (its soft limit lowered to the fds it holds): the host's accept fails with
     * {@code EMFILE} and the connection stays queued. Every request VM's program sees that error
     * from its {@code accept4} (as a Linux process over its limit does) and backs off, so the VMs
     * stay idle; once fds are free again, the connection is served.
     */
    @Test
    void anAcceptTheHostCannotMakeFailsTheProgramsAcceptInsteadOfSpinning() throws Exception {
        try (TestServer s = TestServer.start(GuestPrograms.get("accept_errors"), List.of(),
                b -> b.ephemeral(true).threads(2), new CapturedConsole())) {
            assertThat(s.get("/")).isEqualTo("errors=0 last=-");
            ServerStats stats = s.server().stats();
            assertThat(Eventually.reaches(() -> stats.requests(ServerStats.Outcome.OK), 1)).isEqualTo(1);
            // The VM's reset closes that connection's fd: before the limit is lowered.
            Eventually.reaches(stats::resets, stats.requests());
            try (Socket client = new Socket(); Memory limit = new Memory(16); Memory saved = new Memory(16)) {
                client.setSoTimeout(15_000); // creates the client's fd while there are fds to create
                prlimit(0, saved);
                long cpu;
                try {
                    lowerToTheFdsHeld(limit, saved.getLong(8));
                    client.connect(new InetSocketAddress("127.0.0.1", s.port()), 5_000);
                    client.getOutputStream().write(REQUEST.getBytes(StandardCharsets.US_ASCII));
                    long before = engineCpu();
                    Thread.sleep(1_000);
                    cpu = engineCpu() - before;
                } finally {
                    prlimit(saved, 0);
                }
                String answer = body(read(client));
                assertThat(cpu / 1_000_000).as("ms of CPU the JVM's threads used in the second the host had no fd").isLessThan(300);
                assertThat(answer).as("what the program saw before the connection was served").matches("errors=[1-9][0-9]* last=EMFILE");
            }
            // Served by either VM: the other saw the same errors, and keeps them until its reset.
            assertThat(s.get("/")).as("the next request").matches("errors=[0-9]+ last=(EMFILE|-)");
        }
    }

    /**
     * CPU time (ns) of the JVM's threads but the JIT's compiler threads, which compile what earlier
     * tests ran whenever they like (and the GC's, which are not Java threads): the engine's threads
     * and the request VMs', which would spin on a listener the host cannot accept from.
     */
    private static long engineCpu() {
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        long sum = 0;
        for (ThreadInfo t : threads.getThreadInfo(threads.getAllThreadIds())) {
            if (t != null && !t.getThreadName().contains("CompilerThread")) {
                sum += Math.max(0, threads.getThreadCpuTime(t.getThreadId()));
            }
        }
        return sum;
    }

    /** Lowers the soft limit until the JVM may open no fd: to the lowest free fd, as long as there is one. */
    private static void lowerToTheFdsHeld(Memory limit, long hard) {
        while (true) {
            int free;
            try {
                free = LibC.dup(0);
            } catch (LastErrorException e) {
                assertThat(e.getErrorCode()).as("dup's error").isEqualTo(Errno.EMFILE);
                return;
            }
            LibC.close(free);
            limit.setLong(0, free);
            limit.setLong(8, hard);
            prlimit(limit, 0);
        }
    }

    private static void prlimit(Pointer newLimit, long oldLimit) {
        LibC.syscall(SyscallNumbers.PRLIMIT64, 0, RLIMIT_NOFILE, Pointer.nativeValue(newLimit), oldLimit, 0, 0);
    }

    private static void prlimit(long newLimit, Memory oldLimit) {
        LibC.syscall(SyscallNumbers.PRLIMIT64, 0, RLIMIT_NOFILE, newLimit, Pointer.nativeValue(oldLimit), 0, 0);
    }

    /** One request on a new connection, with a short timeout: a connection no VM takes fails the test soon. */
    private static String get(int port) {
        try (Socket socket = new Socket()) {
            socket.setSoTimeout(3_000);
            socket.connect(new InetSocketAddress("127.0.0.1", port), 3_000);
            socket.getOutputStream().write(REQUEST.getBytes(StandardCharsets.US_ASCII));
            return read(socket);
        } catch (IOException e) {
            return "ERROR:" + e.getClass().getSimpleName();
        }
    }

    private static String read(Socket socket) throws IOException {
        InputStream in = socket.getInputStream();
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }

    private static String body(String response) {
        int at = response.indexOf("\r\n\r\n");
        return at < 0 ? response : response.substring(at + 4);
    }

    private static long openHostFds() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }
}
