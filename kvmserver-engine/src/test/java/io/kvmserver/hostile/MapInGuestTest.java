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
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * The anonymous mmap the PVM syscall entry answers in the guest from the reservation a template
 * freezes with (python3 maps a receive buffer in every request): zero memory at the address the
 * host would have chosen, in every request; the mapping in {@code /proc/self/maps} as soon as
 * the host answers anything; a queue entry the program forged, or a count it wrote, never maps
 * anything but the top of the reservation; a host mapping over the reservation gives it up
 * (zeroed, faulting below); and the pages count against the request memory limit. Each answer
 * was checked natively first ({@code map_in_guest.c}).
 */
@RequiresKvm
class MapInGuestTest {

    private static TestServer start(UnaryOperator<KvmServerOptions.Builder> options) {
        return TestServer.start(GuestPrograms.get("map_in_guest"), List.of(),
                b -> options.apply(b.ephemeral(true).threads(1).maxRequestTime(Duration.ofSeconds(20))),
                new CapturedConsole());
    }

    @Test
    void everyRequestMapsZeroMemoryAtTheSameAddress() {
        try (TestServer s = start(b -> b)) {
            String first = s.get("/fresh");
            assertThat(first).startsWith("zero=1 shrunk=1 unmapped=0 at=0x");
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/fresh")).as("the buffer the request before filled").isEqualTo(first);
            }
            // The mmap, counted by name wherever it was answered, and the only exit the close.
            assertThat(GuestAnswers.calls(s, "mmap", () -> assertThat(s.get("/fresh")).isEqualTo(first)))
                    .as("mmap calls of a request").isEqualTo(1);
            GuestAnswers.expectExits(s, 1, "exits of a request",
                    () -> assertThat(s.get("/fresh")).isEqualTo(first));
        }
    }

    /**
     * python3's asyncio server queues ten calls in a request before its close (its accept, read,
     * options, registration, the buffer's mmap, mremap and munmap, the response): the queue
     * holds them all, so the close is the request's one exit.
     */
    @Test
    void aPythonRequestQueuesEveryCallForItsClose() {
        try (TestServer s = start(b -> b)) {
            String first = s.get("/python");
            assertThat(first).startsWith("zero=1 shrunk=1 unmapped=0 at=0x");
            GuestAnswers.expectExits(s, 1, "exits of a request",
                    () -> assertThat(s.get("/python")).isEqualTo(first));
        }
    }

    /**
     * The entry maps from the reservation only where the host would put the mapping: not while
     * a free hole lies above it (the gap's top is higher), and not a mapping a free gap above it
     * holds.
     */
    @Test
    void mappingsGoWhereTheHostWouldPutThem() {
        try (TestServer s = start(b -> b)) {
            for (int i = 0; i < 2; i++) {
                assertThat(s.get("/place")).isEqualTo("top=1 above=1");
            }
        }
    }

    @Test
    void theMappingIsListedAndTheReservationIsNot() {
        try (TestServer s = start(b -> b)) {
            for (int i = 0; i < 2; i++) {
                assertThat(s.get("/maps")).isEqualTo("listed=1 below=0");
            }
        }
    }

    @Test
    void aForgedQueueEntryOrCountMapsNothing() {
        try (TestServer s = start(b -> b)) {
            for (int i = 0; i < 2; i++) {
                assertThat(s.get("/forge")).isEqualTo("listed=0 segv=1 mapped=1 zero=1");
            }
            assertThat(s.get("/fresh")).startsWith("zero=1 shrunk=1 unmapped=0 at=0x");
        }
    }

    /**
     * A page of the reservation the program writes without mapping it is its own memory (Linux
     * would raise SIGSEGV: the one difference, see docs/reliability.md), until the host maps over
     * the reservation: then it reads zero and the rest of the reservation faults, as on Linux.
     */
    @Test
    void aHostMappingOverTheReservationGivesItUp() {
        try (TestServer s = start(b -> b)) {
            for (int i = 0; i < 2; i++) {
                assertThat(s.get("/stray")).isEqualTo("zero=1 segv=1");
                assertThat(s.get("/fresh")).startsWith("zero=1 shrunk=1 unmapped=0 at=0x");
            }
        }
    }

    @Test
    void pagesMappedFromTheReservationCountAgainstTheRequestMemoryLimit() {
        try (TestServer s = start(b -> b.maxRequestMemory(1L << 20).limitRequestMemory(1L << 20))) {
            ServerStats stats = s.server().stats();
            assertThat(s.get("/half")).isEqualTo("flooded=1");
            s.get("/flood");
            assertThat(Eventually.reaches(() -> stats.requests(ServerStats.Outcome.MEMORY_LIMIT), 1)).isEqualTo(1);
            assertThat(s.get("/fresh")).startsWith("zero=1 shrunk=1 unmapped=0 at=0x");
            assertThat(s.get("/half")).isEqualTo("flooded=1");
        }
    }
}
