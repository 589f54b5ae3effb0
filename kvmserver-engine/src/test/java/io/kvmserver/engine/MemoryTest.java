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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Memory seen from inside the VM ({@code src/test/c/memory.c}): allocation, protection, bad pointers. */
@RequiresKvm
class MemoryTest {

    private static GuestRun.Outcome memory(Linking linking, String... args) {
        return GuestRun.run(GuestPrograms.get("memory", linking), List.of(args));
    }

    @ParameterizedTest
    @EnumSource(value = Linking.class, names = {"STATIC", "DYNAMIC"})
    void aLargeMallocTouchedSparselyWorks(Linking linking) {
        GuestRun.Outcome o = memory(linking, "big", "256");
        assertThat(o.status()).as(o.toString()).isZero();
        assertThat(o.stdout()).isEqualTo("big 256 MiB bad=0\n");
    }

    @ParameterizedTest
    @EnumSource(value = Linking.class, names = {"STATIC", "DYNAMIC"})
    void manySmallMallocsKeepTheirContents(Linking linking) {
        GuestRun.Outcome o = memory(linking, "small", "20000");
        assertThat(o.status()).as(o.toString()).isZero();
        assertThat(o.stdout()).isEqualTo("small 20000 bad=0\n");
    }

    @Test
    void aMallocLargerThanTheAddressSpaceFailsCleanly() {
        GuestRun.Outcome o = GuestRun.run(GuestPrograms.get("memory"), List.of("big", "512"),
                b -> b.maxMainMemory(256L << 20));
        assertThat(o.result().kind()).as(o.toString()).isEqualTo(RunResult.Kind.EXITED);
        assertThat(o.stdout()).isEqualTo("malloc failed\n");
        assertThat(o.status()).isEqualTo(1);
    }

    /**
     * A page made read-only by {@code mprotect} must fault on write, whether or not the guest
     * touched it before (a touched page has a cached translation that must be dropped).
     */
    @ParameterizedTest
    @ValueSource(strings = {"guard", "guard-fresh"})
    void writingToAPageMadeReadOnlyCrashesWithItsAddress(String mode) {
        GuestRun.Outcome o = memory(Linking.STATIC, mode);
        Matcher m = Pattern.compile("guard page at 0x([0-9a-f]+) value [01]\n").matcher(o.stdout());
        assertThat(m.matches()).as(o.toString()).isTrue();
        assertThat(o.result().kind()).as(o.toString()).isEqualTo(RunResult.Kind.CRASHED);
        assertThat(o.result().signal()).isEqualTo(11);
        assertThat(o.status()).isEqualTo(139);
        assertThat(o.result().detail()).contains("writing 0x" + m.group(1), "protection violation", "RIP 0x");
    }

    @ParameterizedTest
    @ValueSource(strings = {"unmapped", "protnone"})
    void readingAPageAfterLosingAccessCrashes(String mode) {
        GuestRun.Outcome o = memory(Linking.STATIC, mode);
        Matcher m = Pattern.compile("[^\n]* 0x([0-9a-f]+) = 0\n").matcher(o.stdout());
        assertThat(m.matches()).as(o.toString()).isTrue();
        assertThat(o.result().kind()).as(o.toString()).isEqualTo(RunResult.Kind.CRASHED);
        assertThat(o.result().detail()).contains("reading 0x" + m.group(1));
    }

    @ParameterizedTest
    @EnumSource(value = Linking.class, names = {"STATIC", "DYNAMIC"})
    void badPointersInSystemCallsAreEfaultNotACrash(Linking linking) {
        GuestRun.Outcome o = memory(linking, "efault");
        assertThat(o.status()).as(o.toString()).isZero();
        assertThat(o.stdout()).isEqualTo("""
                write-null EFAULT
                write-low EFAULT
                write-kernel EFAULT
                write-protnone EFAULT
                write-wrap EFAULT
                read-null EFAULT
                read-readonly EFAULT
                pipe-bad EFAULT
                stat-bad EFAULT
                still-working 3 abc
                """);
    }
}
