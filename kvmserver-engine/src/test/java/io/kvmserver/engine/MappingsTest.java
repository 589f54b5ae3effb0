package io.kvmserver.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.GuestPrograms.Linking;
import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.vm.RunResult;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The memory map the runtimes need ({@code src/test/c/mappings.c}, one check per test; each passes
 * natively too): {@code MAP_32BIT}, {@code MAP_HUGETLB} without huge pages, {@code MAP_FIXED} and
 * {@code MAP_FIXED_NOREPLACE}, reservations of many GiB, guard pages, and hostile arguments. Where
 * Linux's answer depends on the machine, the check accepts each answer and prints the one it got:
 * these tests pin the engine's.
 */
@RequiresKvm
class MappingsTest {

    private static GuestRun.Outcome run(Linking linking, String check, long mainMemory) {
        return GuestRun.run(GuestPrograms.get("mappings", linking), List.of(check), b -> b.maxMainMemory(mainMemory));
    }

    private static String passes(Linking linking, String check) {
        return passes(linking, check, 1L << 30);
    }

    private static String passes(Linking linking, String check, long mainMemory) {
        GuestRun.Outcome o = run(linking, check, mainMemory);
        assertThat(o.stdout()).as(o.toString()).startsWith("OK " + check + ":").doesNotContain("FAIL");
        assertThat(o.result().kind()).as(o.toString()).isEqualTo(RunResult.Kind.EXITED);
        assertThat(o.status()).as(o.toString()).isZero();
        return o.stdout();
    }

    @ParameterizedTest
    @EnumSource(value = Linking.class, names = {"STATIC", "DYNAMIC"})
    void map32BitPlacesMappingsInTheSecondGibAndHonoursHintsBelow2Gib(Linking linking) {
        assertThat(passes(linking, "map-32bit")).contains("small in the second GiB, shared in the second GiB");
    }

    @Test
    void map32BitFillsTheSecondGibThenIsEnomem() {
        assertThat(passes(Linking.STATIC, "map-32bit-full")).contains("4 mappings of 256 MiB, then ENOMEM");
    }

    /** php's opcache asks for huge pages, gets ENOMEM as on Linux without reserved ones, and falls back. */
    @Test
    void hugeTlbIsEnomemAsWithoutReservedHugePagesAndSysvShmIsAbsent() {
        assertThat(passes(Linking.STATIC, "hugetlb")).contains("shmget SHM_HUGETLB ENOSYS");
    }

    @Test
    void mapFixedNoreplaceIsEexistOnOverlapAndExactWhenFree() {
        passes(Linking.STATIC, "fixed-noreplace");
    }

    @ParameterizedTest
    @EnumSource(value = Linking.class, names = {"STATIC", "DYNAMIC"})
    void mapFixedReplacesExactlyThePagesItCovers(Linking linking) {
        passes(linking, "fixed-replace");
    }

    /** The engine's own pages (descriptor tables, trap stubs, the vDSO) lie below mmap_min_addr. */
    @Test
    void mapFixedOverTheEnginesLowPagesAndTheVdsoIsEperm() {
        assertThat(passes(Linking.STATIC, "fixed-low")).contains("over the vDSO EPERM, the clock still works");
    }

    @ParameterizedTest
    @EnumSource(value = Linking.class, names = {"STATIC", "DYNAMIC"})
    void reservationsOf48GibWorkAndTheirAccessiblePartsKeepTheirData(Linking linking) {
        passes(linking, "reserve-48g");
    }

    /** max-main-memory bounds what is accessible, reserved with MAP_NORESERVE or not: 1 GiB here. */
    @Test
    void makingMoreThanMaxMainMemoryAccessibleIsEnomemReservingIsNot() {
        assertThat(passes(Linking.STATIC, "reserve-commit", 1L << 30))
                .contains("mprotect 4 GiB accessible ENOMEM, mmap 4 GiB accessible ENOMEM, 1 MiB fine");
    }

    @Test
    void devZeroMapsAnonymousMemory() {
        // It was ESPIPE (the device has no pread); Linux maps zeros, private or shared.
        passes(Linking.STATIC, "dev-zero");
    }

    @Test
    void aSharedMappingOfAReadOnlyFileNeverBecomesWritable() {
        // It became writable, its writes lost in the VM's own memory (checked natively: EACCES).
        passes(Linking.STATIC, "shared-file-write");
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // a walk of 2^61 bytes of page tables took hours
    void hostileLengthsAddressesAndOffsetsGetLinuxErrnos() {
        passes(Linking.STATIC, "hostile-lengths");
    }

    /** The engine remembers the mapping its last pointer check found: every change of the map must forget it. */
    @Test
    void aPointerIsCheckedAgainstTheMapAsItIsNowAfterMprotectMunmapAndMmap() {
        passes(Linking.STATIC, "stale-pointers");
    }

    @Test
    void aGuardPageIsEfaultForSystemCallsAndFaultsWhenWritten() {
        assertFaults("guard-page", "guard page at 0x([0-9a-f]+), touching it\n", "writing 0x", 8);
    }

    @Test
    void anUntouchedPageOfAReservationFaultsWhenRead() {
        assertFaults("reservation-fault", "reservation page at 0x([0-9a-f]+), reading it\n", "reading 0x", 0);
    }

    private static void assertFaults(String check, String printed, String access, long offset) {
        GuestRun.Outcome o = run(Linking.STATIC, check, 1L << 30);
        Matcher m = Pattern.compile(printed).matcher(o.stdout());
        assertThat(m.matches()).as(o.toString()).isTrue();
        assertThat(o.result().kind()).as(o.toString()).isEqualTo(RunResult.Kind.CRASHED);
        assertThat(o.result().signal()).isEqualTo(11);
        long address = Long.parseLong(m.group(1), 16) + offset;
        assertThat(o.result().detail()).contains(access + Long.toHexString(address));
    }
}
