package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.RequiresKvm;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Waits that the host's poll cannot end ({@code blocking_peers.c}), each answered natively first
 * as an unprivileged user. Found by the review of 2026-12-05 (what can block): a blocking send to
 * a full unix datagram receiver spun the host thread for the whole time limit, since an
 * unconnected sender polls writable while its receiver is full; a blocking connect to a unix
 * listener with a full backlog was {@code EAGAIN} at once; {@code MSG_WAITALL} was ignored (it
 * still is in a program with other threads: see {@code NetSyscalls.receiveTheRest}).
 */
@RequiresKvm
class BlockingPeersTest {

    private static final Pattern WAITED = Pattern.compile("(.*) waited=(\\d+)(?: cpu=(\\d+))?\n");

    @Test
    void aSendToAFullDatagramReceiverWaitsWithoutSpinning(@TempDir Path directory) {
        GuestRun.Outcome o = GuestRun.run(GuestPrograms.get("blocking_peers"),
                List.of(directory.toString(), "dgram-full"), b -> b.allowWrite(List.of(directory.toString())));
        Matcher m = waited(o, "sent>0=1 errno=11", 1000);
        // The guest's CPU clock is the VM's host thread's, the engine's work on the call included:
        // spinning through the wait took most of the second (as much as the machine's load left
        // it); the wait tries the send again every millisecond (StreamFile.REFUSED_RETRY_NANOS),
        // 10-130 ms of CPU in the second, the more the more loaded the host.
        assertThat(Long.parseLong(m.group(3))).as("CPU time of the wait: " + o).isLessThan(400);
    }

    @Test
    void aConnectToAFullUnixBacklogWaitsForItsTimeout(@TempDir Path directory) {
        GuestRun.Outcome o = GuestRun.run(GuestPrograms.get("blocking_peers"),
                List.of(directory.toString(), "unix-backlog"), b -> b.allowWrite(List.of(directory.toString())));
        waited(o, "first=0 second=-1 errno=11", 300);
    }

    /**
     * Checks a run's line: {@code calls}, and a wait of {@code timeoutMillis}: not shorter, and
     * longer only by what a loaded machine adds (a wait that never ended would be the run's limit).
     */
    private static Matcher waited(GuestRun.Outcome o, String calls, long timeoutMillis) {
        Matcher m = WAITED.matcher(o.stdout());
        assertThat(m.matches()).as(o.toString()).isTrue();
        assertThat(m.group(1)).as(o.toString()).isEqualTo(calls);
        assertThat(Long.parseLong(m.group(2))).as("ms waited: " + o).isBetween(timeoutMillis - 5, timeoutMillis + 5_000);
        return m;
    }

    /** select(2) writes back the time it did not wait, as Linux does (an open question until 2026-12-05). */
    @Test
    void selectWritesBackTheTimeItDidNotWait(@TempDir Path directory) {
        GuestRun.Outcome o = GuestRun.run(GuestPrograms.get("blocking_peers"), List.of(directory.toString(), "select-left"));
        assertThat(o.stdout()).as(o.toString()).isEqualTo("passed=0 left=0.000000 ready=1 left>4=1 read-only=0\n");
    }

    @Test
    void msgWaitallReceivesTheWholeCount(@TempDir Path directory) throws Exception {
        assertThat(waitall(directory, "waitall")).isEqualTo("waitall=10 [ABCDEFGHIJ]\n");
        assertThat(waitall(directory, "waitall-msg")).isEqualTo("waitall=10 [ABCD|EFGHIJ]\n");
    }

    /**
     * Two threads each in a blocking receive on one connection, the bytes 300 ms apart: both
     * come. Found by the second wave of the review of 2026-12-05: the first version of the pause
     * (see {@code StreamFile#blocking}) took a parked call tried again for a wait that said ready,
     * and the second reader's pause was parked with the call's own deadline: it never woke.
     */
    @Test
    void twoThreadsReadingOneConnectionBothGetTheirByte(@TempDir Path directory) throws Exception {
        assertThat(waitall(directory, "two-readers")).isEqualTo("got=2\n");
    }

    /**
     * {@code SO_RCVTIMEO} bounds the whole {@code MSG_WAITALL} call, not each part of it (the review
     * of 2026-12-05: a peer dripping a byte every 300 ms held a call with a 500 ms timeout until all
     * ten came). Natively, two bytes come.
     */
    @Test
    void msgWaitallKeepsOneReceiveTimeoutForTheWholeCall(@TempDir Path directory) throws Exception {
        assertThat(waitall(directory, "waitall-timeout")).isEqualTo("waitall-timeout all=0\n");
    }

    /**
     * What the program prints for a receive with {@code MSG_WAITALL} from a peer that sends 3 bytes,
     * then 7 (or, for "waitall-timeout", one byte every 300 ms).
     */
    private static String waitall(Path directory, String mode) throws Exception {
        try (ServerSocket peer = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try (Socket s = peer.accept()) {
                    if (mode.equals("waitall-timeout")) {
                        try {
                            for (int i = 0; i < 10; i++) {
                                s.getOutputStream().write('0' + i);
                                Thread.sleep(300);
                            }
                        } catch (java.io.IOException e) {
                            // the program gave up before all came: what this case expects
                        }
                        return;
                    }
                    if (mode.equals("two-readers")) {
                        s.getOutputStream().write('a');
                        Thread.sleep(300);
                        s.getOutputStream().write('b');
                        s.getInputStream().read(); // until the program is done
                        return;
                    }
                    s.getOutputStream().write("ABC".getBytes(StandardCharsets.US_ASCII));
                    Thread.sleep(200);
                    s.getOutputStream().write("DEFGHIJ".getBytes(StandardCharsets.US_ASCII));
                    s.getInputStream().read(); // until the program is done
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            GuestRun.Outcome o = GuestRun.run(GuestPrograms.get("blocking_peers"),
                    List.of(directory.toString(), mode, Integer.toString(peer.getLocalPort())),
                    b -> b.allowConnect(List.of("127.0.0.1:" + peer.getLocalPort())));
            writer.get(10, TimeUnit.SECONDS);
            return o.stdout();
        }
    }
}
