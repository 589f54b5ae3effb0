package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.CapturedConsole;
import io.kvmserver.testing.Eventually;
import io.kvmserver.testing.GuestAnswers;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.KvmCounters;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The munmap and shrinking mremap the PVM syscall entry answers in the guest and queues for the
 * host (python3 maps, shrinks and unmaps a receive buffer in every request): Linux's answers,
 * checked natively first, including the ones the entry leaves to the host; the unmap done by the
 * next call the host answers; and a queue entry the program forged is checked as munmap checks
 * its arguments, so it cannot unmap the engine's system region.
 */
@RequiresKvm
class UnmapInGuestTest {

    private static TestServer start(String mode) {
        return TestServer.start(GuestPrograms.get("unmap_queued"), List.of(mode),
                b -> b.ephemeral(true).threads(1).maxRequestTime(Duration.ofSeconds(20)), new CapturedConsole());
    }

    @Test
    void pythonsReceiveBufferIsShrunkAndUnmappedWithoutTheHost() {
        try (TestServer s = start("python")) {
            // The close exits; the mmap (from the reservation, MapInGuestTest), the mremap and
            // the munmap are queued for it, and the response, whose bytes are not in what they
            // unmap, is written in the guest.
            GuestAnswers.expectExits(s, 1, "exits of a request",
                    () -> assertThat(s.get("/")).isEqualTo("moved=0 munmap=0 clean=1"));
        }
    }

    /**
     * The unmaps queued before the close that ends a request are never performed: the reset
     * restores those pages and page tables anyway, and KVM keeps its translations of the
     * template's (the buffer's pages faulted in every request while the unmap gave them back).
     * Counted with KVM's own counter of the faults it fixed, over requests that each write the
     * buffer's first and last pages; what they wrote never reaches the next ("clean").
     */
    @Test
    void theBufferUnmappedRightBeforeTheCloseFaultsInNoLaterRequest() {
        try (TestServer s = start("python")) {
            for (int i = 0; i < 5; i++) {
                assertThat(s.get("/")).isEqualTo("moved=0 munmap=0 clean=1");
            }
            Eventually.reaches(s.server().stats()::resets, s.server().stats().requests());
            long before = KvmCounters.sum("pf_fixed");
            int requests = 20;
            for (int i = 0; i < requests; i++) {
                assertThat(s.get("/")).isEqualTo("moved=0 munmap=0 clean=1");
            }
            Eventually.reaches(s.server().stats()::resets, s.server().stats().requests());
            long faults = KvmCounters.sum("pf_fixed") - before;
            assertThat(before).as("KVM's pf_fixed counter (KVM_GET_STATS_FD)").isGreaterThanOrEqualTo(0);
            if (GuestAnswers.onThisHost()) {
                assertThat(faults).as("faults KVM fixed in %d requests", requests).isLessThan(requests / 2);
            } else {
                // The host answers the munmap there, at once: the two pages fault in every request.
                assertThat(faults).as("faults KVM fixed in %d requests", requests).isGreaterThanOrEqualTo(2L * requests);
            }
        }
    }

    /**
     * A request maps, writes and unmaps (queued, no call before its close) two pages the template
     * does not map. The reset, not the unmap, must make KVM drop its translations of them: in
     * every next request a read and a write there fault, as on Linux (under shadow paging a
     * translation KVM kept would let them through).
     */
    @Test
    void pagesUnmappedRightBeforeTheCloseFaultInTheNextRequestWhereTheTemplateHasNone() {
        try (TestServer s = start("stale")) {
            for (int i = 0; i < 4; i++) {
                assertThat(s.get("/")).isEqualTo("unmapped=1,1");
            }
        }
    }

    /**
     * A close the host answers that ends no request (a pipe's) is the one call the queued unmaps
     * wait past: after it the program finds them done (a write faults), and pages written,
     * unmapped and mapped again by the host read as zeros.
     */
    @Test
    void anUnmapBeforeACloseThatEndsNoRequestIsDoneBeforeTheProgramRunsAgain() {
        try (TestServer s = start("closes")) {
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/")).isEqualTo("segv=1 zero=1");
            }
        }
    }

    @Test
    void everyAnswerIsLinuxsAndTheUnmapIsDoneByTheNextCallTheHostAnswers() {
        try (TestServer s = start("checks")) {
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/")).isEqualTo(
                        "shrink=1 same=1 again=1 einval=22,22,22 munmap=0 segv=1 gone=14 stale=14 fixed=22 past=1 huge=22 older=1");
            }
        }
    }

    /**
     * Every mremap and munmap of a request is counted by name, queued, answered without an entry
     * (a same-size remap) or made through the host: the checks make nine of each.
     */
    @Test
    void everyRemapAndUnmapIsCountedWhereverItWasAnswered() {
        try (TestServer s = start("checks")) {
            String expected = "shrink=1 same=1 again=1 einval=22,22,22 munmap=0 segv=1 gone=14 stale=14 fixed=22 past=1"
                    + " huge=22 older=1";
            assertThat(s.get("/")).isEqualTo(expected);
            Runnable request = () -> assertThat(s.get("/")).isEqualTo(expected);
            assertThat(GuestAnswers.calls(s, "mremap", request)).as("mremap calls of a request").isEqualTo(9);
            assertThat(GuestAnswers.calls(s, "munmap", request)).as("munmap calls of a request").isEqualTo(9);
        }
    }

    /**
     * While an unmap is queued the entry still answers writes and epoll calls (python3 sends its
     * response and removes its connection after it shrank its buffer), but one whose iovec array,
     * bytes, event or events array are in what the queue unmaps goes to the host, which unmaps
     * first: EFAULT, as on Linux.
     */
    @Test
    void aWriteFromPagesJustUnmappedGetsEfault() {
        try (TestServer s = start("buffers")) {
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/")).isEqualTo("writev=14 write=14 add=14");
            }
        }
        try (TestServer s = start("wait")) {
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/")).as("the wait after the add, into an array just unmapped").isEqualTo("wait=14");
            }
        }
    }

    /**
     * At vm.max_map_count a munmap that splits a mapping fails with ENOMEM: the host publishes
     * that the entry may queue unmaps only while the count leaves room for every split, and no
     * munmap answered 0 leaves its page mapped.
     */
    @Test
    void aMunmapThatWouldPassTheMappingLimitIsLeftToTheHost() {
        try (TestServer s = TestServer.start(GuestPrograms.get("unmap_queued"), List.of("full"),
                b -> b.ephemeral(true).threads(1).maxRequestTime(Duration.ofSeconds(60)).maxMainMemory(1024L << 20),
                new CapturedConsole())) {
            // Natively "unmapped=0": Linux's mprotect that fails at the limit has made one of its
            // two splits, the engine's none, so here the first munmap still has room for one.
            assertThat(s.get("/")).isIn("full=1 unmapped=0 lies=0", "full=1 unmapped=1 lies=0");
        }
    }

    @Test
    void aForgedQueueEntryCannotUnmapTheEnginesSystemRegion() {
        try (TestServer s = start("forge")) {
            for (int i = 0; i < 2; i++) {
                assertThat(s.get("/")).isEqualTo("alive=1");
            }
        }
    }
}
