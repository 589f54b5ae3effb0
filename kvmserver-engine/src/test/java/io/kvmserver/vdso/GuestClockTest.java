package io.kvmserver.vdso;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.kvm.Kvm;
import io.kvmserver.host.LibC;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.x86.GuestLayout;
import org.junit.jupiter.api.Test;

/**
 * What the host publishes, read as the vDSO reads it, against the host's own clocks at the same
 * TSC: within a few microseconds, across the periodic updates, never going back.
 */
@RequiresKvm
class GuestClockTest {

    /** The pairing of TSC and host clock is good to about a microsecond; allow a few. */
    private static final long TOLERANCE_NS = 5_000;
    private static final int[] SERVED = {0, 1, 4, 5, 6, 7};

    /** One clock's value from the page at {@code tsc}, with the vDSO's retry on a publication. */
    private static long read(Pointer page, int clock, long tsc) {
        while (true) {
            int seq = page.getInt(TimePage.SEQ);
            long entry = TimePage.SLOTS + (long) (seq & 1) * TimePage.SLOT_SIZE + (long) clock * TimePage.CLOCK_SIZE;
            long base = page.getLong(entry + TimePage.CLOCK_TSC_BASE);
            long ns = page.getLong(entry + TimePage.CLOCK_BASE_NS);
            long mult = page.getLong(entry + TimePage.CLOCK_MULT);
            long value = mult == 0 ? -1 : ns + Timeline.scale(tsc - base, mult);
            if (page.getInt(TimePage.SEQ) == seq) {
                return value;
            }
        }
    }

    private static long host(int clock, Memory timespec) {
        LibC.clock_gettime(clock == 5 ? 0 : clock == 6 ? 1 : clock, Pointer.nativeValue(timespec));
        return timespec.getLong(0) * 1_000_000_000L + timespec.getLong(8);
    }

    @Test
    void thePageTellsTheHostsTimeAcrossUpdatesAndStopsWhenClosed() throws InterruptedException {
        try (Kvm kvm = Kvm.open(); Memory page = new Memory(GuestLayout.PAGE_SIZE); Memory ts = new Memory(16)) {
            GuestClock clock = GuestClock.shared(kvm);
            assertThat(clock.servesTime()).as("this host can serve guest clocks from the TSC").isTrue();
            TimePage timePage = clock.attach(Pointer.nativeValue(page), GuestLayout.USER_START, 1L << 30);
            try {
                assertThat(page.getLong(TimePage.USER_START)).isEqualTo(GuestLayout.USER_START);
                assertThat(page.getLong(TimePage.USER_END)).isEqualTo(1L << 30);
                assertThat(read(page, 2, 0)).as("CPU-time clocks: the system call").isEqualTo(-1);
                assertThat(read(page, 3, 0)).isEqualTo(-1);
                int firstSeq = page.getInt(TimePage.SEQ);
                long lastMonotonic = 0;
                // At least 2.3 s, and until two periodic publications (a period is a fixed delay
                // of 1 s after the last: on a busy machine the second may come later), at most 6 s.
                long deadline = System.nanoTime() + 2_300_000_000L;
                long latest = System.nanoTime() + 6_000_000_000L;
                while (System.nanoTime() < deadline
                        || (page.getInt(TimePage.SEQ) < firstSeq + 2 && System.nanoTime() < latest)) {
                    for (int id : SERVED) {
                        long before = host(id, ts);
                        long tsc = clock.guestTsc();
                        long after = host(id, ts);
                        long value = read(page, id, tsc);
                        assertThat(value).as("clock %d at seq %d", id, page.getInt(TimePage.SEQ))
                                .isBetween(before - TOLERANCE_NS, after + TOLERANCE_NS);
                        if (id == 1) {
                            assertThat(value).isGreaterThanOrEqualTo(lastMonotonic);
                            lastMonotonic = value;
                        }
                    }
                    Thread.sleep(20);
                }
                assertThat(page.getInt(TimePage.SEQ)).as("periodic publications").isGreaterThanOrEqualTo(firstSeq + 2);
            } finally {
                timePage.close();
            }
            int closedSeq = page.getInt(TimePage.SEQ);
            Thread.sleep(GuestClock.PERIOD_NANOS / 1_000_000 + 300);
            assertThat(page.getInt(TimePage.SEQ)).as("no write after close").isEqualTo(closedSeq);
        }
    }
}
