package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.linux.SyscallTable;
import io.kvmserver.server.ServerStats;
import io.kvmserver.testing.Eventually;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The host never allocates memory for a guest without a bound: zeroing gigabytes the guest never
 * touched costs nothing, the engine's own bookkeeping has Linux's limits, and output is copied in
 * bounded chunks. Measured on this JVM's own resident memory.
 */
@RequiresKvm
class HostMemoryTest {

    private static final long MIB = 1L << 20;

    private static TestServer start(Path dir) {
        return TestServer.start(GuestPrograms.get("hostile_isolation"), List.of(dir.toString(), dir.toString()),
                b -> b.allowWrite(List.of(dir.toString())).ephemeral(true).threads(1).maxMainMemory(8L << 30));
    }

    /** One ephemeral request VM whose requests may dirty {@code limit} bytes, with 2 GiB of memory. */
    private static TestServer startWithRequestLimit(Path dir, long limit) {
        return TestServer.start(GuestPrograms.get("hostile_isolation"), List.of(dir.toString(), dir.toString()),
                b -> b.ephemeral(true).threads(1).maxMainMemory(2L << 30).maxRequestMemory(limit)
                        .limitRequestMemory(limit));
    }

    /** A field of this JVM's {@code /proc/self/status}, in bytes. */
    static long status(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IllegalStateException("no " + field + " in /proc/self/status");
    }

    /**
     * Starts measuring this JVM's peak resident memory from now ({@code clear_refs} 5 resets
     * {@code VmHWM}), and returns the resident memory now.
     */
    static long resetPeak() throws IOException {
        Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        return status("VmRSS");
    }

    /** How far this JVM's peak resident memory rose above {@code base} since {@link #resetPeak()}. */
    static long peakGrowth(long base) throws IOException {
        return status("VmHWM") - base;
    }

    @Test
    void unmappingGigabytesTheGuestNeverTouchedAllocatesNothing(@TempDir Path dir) throws Exception {
        try (TestServer s = start(dir)) {
            s.get("/normal/0");
            long base = resetPeak();
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/memory/unmap")).isEqualTo("madvise=0 fixed=ok munmap=0");
            }
            assertThat(peakGrowth(base)).as("JVM peak resident growth for 3 x 3 GiB zeroed").isLessThan(256 * MIB);
            ServerStats stats = s.server().stats();
            assertThat(stats.failures()).isZero();
        }
    }

    @Test
    void mappingsStopAtLinuxsMapCountAndTheirListingIsStreamed(@TempDir Path dir) throws Exception {
        long bugs = SyscallTable.emulationBugs();
        // ~65,000 mmap calls through the host in one request: ~8 s where an exit costs ~120 µs
        // (nested PVM), more in a slow phase of the host; the limit is not what this tests.
        try (TestServer s = TestServer.start(GuestPrograms.get("hostile_isolation"), List.of(dir.toString(), dir.toString()),
                b -> b.allowWrite(List.of(dir.toString())).ephemeral(true).threads(1).maxMainMemory(8L << 30)
                        .maxRequestTime(Duration.ofSeconds(60)))) {
            String answer = s.get("/memory/maps");
            assertThat(answer).matches("mapped=\\d+ enomem=16 lines=\\d+ bytes=\\d+");
            long mapped = Long.parseLong(answer.replaceAll("mapped=(\\d+).*", "$1"));
            long lines = Long.parseLong(answer.replaceAll(".*lines=(\\d+).*", "$1"));
            assertThat(mapped).isBetween(60_000L, 65_530L);
            assertThat(lines).as("the program's mappings, and the vDSO's two pages")
                    .isBetween(mapped, 65_530L + 2);
            assertThat(s.get("/normal/1")).isEqualTo("ok 1");
        }
        assertThat(SyscallTable.emulationBugs()).isEqualTo(bugs);
    }

    /**
     * One writable page in every 64 MiB of the address range would make the VM hold a KVM memory
     * slot (kernel memory) per chunk: the program gets ENOMEM once its pages span 16 chunks more
     * than max-main-memory (1 GiB here: 16 chunks) fills, and the reset withdraws the chunks the
     * request added, so that the next request in the VM gets as far in other chunks.
     */
    @Test
    void scatteringPagesOverTheAddressRangeIsBoundedAndTheResetUndoesIt(@TempDir Path dir) throws Exception {
        try (TestServer s = TestServer.start(GuestPrograms.get("hostile_isolation"),
                List.of(dir.toString(), dir.toString()), b -> b.ephemeral(true).threads(1).maxMainMemory(1L << 30))) {
            String first = s.get("/memory/scatter/2");
            assertThat(first).matches("scattered=\\d+ errno=ENOMEM");
            assertThat(Long.parseLong(first.replaceAll("\\D+(\\d+).*", "$1"))).isBetween(16L, 32L);
            assertThat(s.get("/memory/scatter/66")).isEqualTo(first);
            assertThat(s.server().stats().failures()).isZero();
        }
    }

    /**
     * Memory a request maps where nothing was before gets its KVM memory slot during the request:
     * the guest's writes there are logged like any other, so max-request-memory stops the request.
     */
    @Test
    void writesToMemoryExposedDuringTheRequestCountAgainstTheRequestMemoryLimit(@TempDir Path dir) throws Exception {
        try (TestServer s = startWithRequestLimit(dir, 64 * MIB)) {
            ServerStats stats = s.server().stats();
            assertThat(s.get("/memory/far/16")).isEqualTo("touched=16");
            s.get("/memory/far/256");
            assertThat(Eventually.reaches(() -> stats.requests(ServerStats.Outcome.MEMORY_LIMIT), 1)).isEqualTo(1);
            assertThat(s.get("/memory/far/16")).isEqualTo("touched=16");
        }
    }

    @Test
    void aGiantConsoleWriteIsTakenInBoundedChunks(@TempDir Path dir) throws Exception {
        try (TestServer s = start(dir)) {
            long base = resetPeak();
            String answer = s.get("/console/huge");
            assertThat(answer).startsWith("wrote=");
            long written = Long.parseLong(answer.substring("wrote=".length()));
            assertThat(written).as("a short write, as to a pipe").isBetween(1L, 64 * 1024L);
            assertThat(peakGrowth(base)).isLessThan(256 * MIB);
        }
    }

    @Test
    void hostWritesForTheGuestStopAtTheRequestMemoryLimit(@TempDir Path dir) throws Exception {
        try (TestServer s = startWithRequestLimit(dir, 64 * MIB)) {
            ServerStats stats = s.server().stats();
            long base = resetPeak();
            s.get("/read-zero/512");
            assertThat(Eventually.reaches(() -> stats.requests(ServerStats.Outcome.MEMORY_LIMIT), 1)).isEqualTo(1);
            assertThat(peakGrowth(base)).as("JVM peak resident growth for a 512 MiB read into guest memory")
                    .isLessThan(192 * MIB);
            assertThat(s.get("/")).isNotEmpty();
        }
    }

    /**
     * Reads of memory no one wrote: Linux maps its zero page. A request VM's reads of a hole of the
     * template's memfd made the host fill it with pages of the shared memfd, which no reset took
     * back: a GiB a request, for good (fails without {@code TemplateHoles}: the template held
     * 2 GiB more after these eight requests).
     */
    @Test
    void readingMemoryNoOneWroteLeavesNothingInTheTemplate() throws InterruptedException {
        try (TestServer s = TestServer.start(GuestPrograms.get("hole_reader"), List.of(),
                b -> b.ephemeral(true).threads(1).maxMainMemory(4L << 30).maxRequestMemory(64 * MIB))) {
            long before = s.server().templateHostBytes();
            for (int i = 0; i < 4; i++) {
                assertThat(s.get("/fresh/" + i)).isEqualTo("sum=0");
                assertThat(s.get("/template")).isEqualTo("sum=0");
            }
            // The server frees it at its periodic check (at most 100 ms): wait up to 5 s for it.
            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            long grown;
            while ((grown = s.server().templateHostBytes() - before) >= 64 * MIB && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertThat(grown).as("host memory the template's image gained from 2 GiB of reads").isLessThan(64 * MIB);
        }
    }

    /**
     * A file mapping far larger than its file (LMDB's map size) costs the request the file's pages,
     * as on Linux, not the mapping's length: a 1 GiB map of a 1 MiB file under a 64 MiB request
     * limit is served (it ended the request as over its memory limit).
     */
    @Test
    void aFileMappingBeyondItsFileCostsOnlyTheFilesPages() {
        try (TestServer s = TestServer.start(GuestPrograms.get("hole_reader"), List.of(),
                b -> b.ephemeral(true).threads(1).maxMainMemory(4L << 30).maxRequestMemory(64 * MIB))) {
            assertThat(s.get("/filemap")).isEqualTo("first=127");
            assertThat(s.get("/filemap")).isEqualTo("first=127");
        }
    }

    /**
     * A template that grows a 4 GiB {@code PROT_NONE} reservation by moving it: the engine copied
     * the whole range, filling both with host pages (6.8 GB and seconds in the reviewer's run).
     */
    @Test
    void aTemplateMovingItsReservationCopiesOnlyWhatItHolds() {
        try (TestServer s = TestServer.start(GuestPrograms.get("hole_reader"), List.of(),
                b -> b.ephemeral(true).threads(1).maxMainMemory(1L << 30).env(List.of("MOVE_RESERVATION=1")))) {
            assertThat(s.server().templateHostBytes()).as("the template's image after the move").isLessThan(64 * MIB);
            assertThat(s.get("/template")).isEqualTo("sum=0");
        }
    }
}
