package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.CapturedConsole;
import io.kvmserver.testing.GuestAnswers;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * More calls between two exits than the PVM syscall entry's queue holds (16): a server that reads
 * its request one byte at a time (glibc's {@code read}, {@code syscall(SYS_read)}, {@code recv}),
 * one that writes its response one byte at a time, and one that makes 20 each of the other calls
 * the entry queues or answers. The call that finds the queue full goes to the host, which performs
 * the queue and answers it, and the program goes on where it made the call: the answers are
 * Linux's, and a request costs an exit per 16 calls at most. (The entry's full-queue check in
 * {@code read} once came after it had used RCX, the program's return address, for the buffer's
 * bound: the 17th one-byte read returned to 0x7fffffffefff and the request died of SIGSEGV.)
 * On hosts where {@code syscall} enters CPL 0 the host answers every call.
 */
@RequiresKvm
class FullQueueTest {

    private static TestServer start(String mode) {
        return TestServer.start(GuestPrograms.get("one_byte_calls"), List.of(mode),
                b -> b.ephemeral(true).threads(1).maxRequestTime(Duration.ofSeconds(20)), new CapturedConsole());
    }

    private static String line(int length) {
        StringBuilder line = new StringBuilder();
        for (int i = 0; i < length; i++) {
            line.append((char) ('a' + i % 26));
        }
        return line + "\n";
    }

    private static String answer(String mode, int length) {
        return switch (mode) {
            case "writes" -> mode + " got " + length + " " + ".".repeat(32) + "\n";
            case "calls" -> mode + " got " + length + " calls=OK\n";
            default -> mode + " got " + length + "\n";
        };
    }

    /**
     * The fewest exits of requests of {@code length} bytes and a newline, each answered as
     * natively: of three, or more until one makes no more than {@code bound} where calls are
     * answered in the guest ({@link GuestAnswers#fewestExits}).
     */
    private static long exits(TestServer s, String mode, int length, long bound) {
        boolean guest = GuestAnswers.onThisHost();
        return GuestAnswers.fewestExits(s, 3, f -> !guest || f <= bound,
                () -> assertThat(s.exchange(line(length))).as("%s, %d bytes", mode, length).isEqualTo(answer(mode, length)));
    }

    @Test
    void aRequestReadOneByteAtATimeIsReadWhole() {
        for (String mode : new String[] {"read", "sysread", "recv"}) {
            try (TestServer s = start(mode)) {
                long one = exits(s, mode, 1, Long.MAX_VALUE); // measured high, it only loosens the bound
                for (int length : new int[] {15, 16, 17, 64}) {
                    long bound = one + 1 + (length + 2) / 17;
                    long exits = exits(s, mode, length, bound);
                    if (GuestAnswers.onThisHost()) {
                        // length + 1 reads: the host answers every 17th (and performs the 16 queued before it).
                        // One exit more is the accept's race with the client's write: when the VM takes the
                        // connection before the line arrives, nothing is read ahead and the first read goes
                        // to the host. In .ci/run (JaCoCo's agent, the whole suite in one JVM) every request
                        // of a length lost that race in four runs of five on 2026-12-05, and once in eight
                        // runs of this class alone, before that day's changes as after; a queue that failed
                        // would cost an exit per read.
                        assertThat(exits).as("exits of %s, %d bytes, against 1 byte (%d)", mode, length, one)
                                .isLessThanOrEqualTo(bound);
                    }
                }
                assertThat(s.server().stats().failures()).as(mode).isZero();
            }
        }
    }

    /**
     * Writes are queued only while the connection's send queue is empty (the host published that
     * it takes them without blocking): once the queue the 17th call found full was sent, the next
     * writes may go to the host until the peer acknowledged those bytes. So no exit per 17 calls
     * here, but far from one per call.
     */
    @Test
    void aResponseWrittenOneByteAtATimeArrivesWhole() {
        try (TestServer s = start("writes")) {
            int response = answer("writes", 1).length();
            assertThat(response).isGreaterThan(40);
            for (int length : new int[] {1, 17, 64}) {
                long calls = length + 1 + answer("writes", length).length();
                long exits = exits(s, "writes", length, calls / 2);
                if (GuestAnswers.onThisHost()) {
                    assertThat(exits).as("exits of %d one-byte reads and writes", calls).isLessThanOrEqualTo(calls / 2);
                }
            }
            assertThat(s.server().stats().failures()).isZero();
        }
    }

    @Test
    void twentyOfEachQueuedCallAreAnsweredAsLinux() {
        try (TestServer s = start("calls")) {
            for (int length : new int[] {1, 17, 64}) {
                for (int i = 0; i < 2; i++) {
                    assertThat(s.exchange(line(length))).as("%d bytes", length).isEqualTo(answer("calls", length));
                }
            }
            assertThat(s.server().stats().failures()).isZero();
        }
    }
}
