package io.kvmserver.vdso;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;
import io.kvmserver.server.ServerStats;
import io.kvmserver.testing.Eventually;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Request VMs forked from a template read their clocks through the template's time page: over
 * requests served by two VMs, each reset after every connection, across the host's periodic
 * updates, CLOCK_MONOTONIC never goes back, every reading lies between the host's clock before
 * and after the request, and no request makes a clock_gettime system call.
 */
@RequiresKvm
class VdsoServingTest {

    /** The pairing of TSC and host clock is good to about a microsecond; allow a few. */
    private static final long TOLERANCE_NS = 5_000;

    private static long host(int clock, Memory timespec) {
        LibC.clock_gettime(clock, Pointer.nativeValue(timespec));
        return timespec.getLong(0) * 1_000_000_000L + timespec.getLong(8);
    }

    private static Map<String, Long> parse(String body) {
        Map<String, Long> values = new HashMap<>();
        for (String field : body.trim().split(" ")) {
            String[] kv = field.split("=");
            assertThat(kv).as("field %s of %s", field, body).hasSize(2);
            values.put(kv[0], Long.parseLong(kv[1]));
        }
        return values;
    }

    @Test
    void requestVmsReadOneMonotonicClockAcrossResetsAndUpdates() throws InterruptedException {
        int rounds = 3;
        int perRound = 20;
        try (TestServer s = TestServer.start(GuestPrograms.get("clock_server"), List.of(),
                b -> b.threads(2).ephemeral(true));
                Memory ts = new Memory(16)) {
            long previous = Long.MIN_VALUE;
            for (int round = 0; round < rounds; round++) {
                for (int i = 0; i < perRound; i++) {
                    long monoBefore = host(GuestClock.CLOCK_MONOTONIC, ts);
                    long realBefore = host(GuestClock.CLOCK_REALTIME, ts);
                    String body = s.get("/");
                    long monoAfter = host(GuestClock.CLOCK_MONOTONIC, ts);
                    long realAfter = host(GuestClock.CLOCK_REALTIME, ts);
                    Map<String, Long> guest = parse(body);
                    long mono = guest.get("mono");
                    assertThat(guest.get("started")).as("the template's start, before every request").isLessThan(mono);
                    assertThat(mono).as("request %d.%d: never back", round, i).isGreaterThan(previous);
                    assertThat(mono).as("guest CLOCK_MONOTONIC within the request")
                            .isBetween(monoBefore - TOLERANCE_NS, monoAfter + TOLERANCE_NS);
                    assertThat(guest.get("real")).as("guest CLOCK_REALTIME within the request")
                            .isBetween(realBefore - TOLERANCE_NS, realAfter + TOLERANCE_NS);
                    assertThat(guest.get("boot")).isGreaterThanOrEqualTo(mono);
                    assertThat(guest.get("raw")).isPositive();
                    previous = mono;
                }
                // Let the host publish a new slot between rounds.
                Thread.sleep(GuestClock.PERIOD_NANOS / 1_000_000 / 2 + 100);
            }
            ServerStats stats = s.server().stats();
            assertThat(Eventually.reaches(stats::resets, rounds * perRound)).isEqualTo(rounds * perRound);
            assertThat(stats.failures()).isZero();
            assertThat(s.server().syscallCount("clock_gettime")).as("system calls of the request VMs").isZero();
        }
    }
}
