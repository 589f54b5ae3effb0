package io.kvmserver.vdso;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.HostTools;
import io.kvmserver.x86.GuestLayout;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The vDSO image is a well-formed ELF shared object as the host's tools and loaders see it:
 * {@code readelf -a} reads it without a complaint, glibc's {@code dlvsym} finds every function at
 * version {@code LINUX_2.6} through {@code DT_GNU_HASH}, and a spec-written parser of the kind Go
 * and musl carry finds them through {@code DT_HASH} ({@code src/test/c/host/vdso_lookup.c}).
 */
class VdsoImageTest {

    private static Path image;

    @BeforeAll
    static void write(@TempDir Path dir) throws IOException {
        image = dir.resolve("vdso.so");
        Files.write(image, VdsoImage.bytes());
    }

    private static String readelf(String... options) {
        HostTools.assumeInstalled("readelf");
        List<String> command = new ArrayList<>(List.of("readelf", "-W"));
        command.addAll(List.of(options));
        command.add(image.toString());
        return HostTools.run(command);
    }

    @Test
    void fitsItsPagesAndStartsWithTheCodeWhereTheCodeExpectsIt() throws IOException {
        byte[] bytes = VdsoImage.bytes();
        assertThat((long) bytes.length).isLessThanOrEqualTo(GuestLayout.VDSO_SIZE);
        byte[] code = VdsoCode.text();
        byte[] placed = java.util.Arrays.copyOfRange(bytes, VdsoCode.TEXT_OFFSET, VdsoCode.TEXT_OFFSET + code.length);
        assertThat(placed).containsExactly(code);
    }

    @Test
    void readelfReadsEveryPartWithoutAComplaint() {
        String all = readelf("-a");
        assertThat(all).doesNotContainIgnoringCase("warning").doesNotContainIgnoringCase("error")
                .doesNotContain("readelf:");
        assertThat(all).contains("Type:                              DYN (Shared object file)",
                "Machine:                           Advanced Micro Devices X86-64",
                "Library soname: [" + VdsoImage.SONAME + "]", "(HASH)", "(GNU_HASH)", "(VERSYM)", "(VERDEF)",
                "There are no relocations in this file.",
                "Flags: BASE  Index: 1  Cnt: 1  Name: " + VdsoImage.SONAME,
                "Flags: none  Index: 2  Cnt: 1  Name: " + VdsoImage.VERSION);
        // One load segment, read and execute, at address 0 from offset 0; and the dynamic section.
        assertThat(all).containsPattern("LOAD +0x000000 0x0+ 0x0+ 0x[0-9a-f]+ 0x[0-9a-f]+ R E 0x1000")
                .containsPattern("DYNAMIC +0x[0-9a-f]+ .* R +0x8");
        for (VdsoCode.Function f : VdsoCode.FUNCTIONS) {
            String address = String.format("%016x", VdsoCode.TEXT_OFFSET + f.offset());
            assertThat(all).containsPattern(address + " +\\d+ FUNC +GLOBAL DEFAULT +\\d+ __vdso_" + f.name() + "@@LINUX_2.6")
                    .containsPattern(address + " +\\d+ FUNC +WEAK +DEFAULT +\\d+ " + f.name() + "@@LINUX_2.6");
        }
    }

    @Test
    void readelfWalksBothHashTablesToEverySymbol() {
        String histogram = readelf("-I");
        assertThat(histogram).contains("Histogram for bucket list length (total of")
                .contains("Histogram for `.gnu.hash' bucket list length (total of");
        assertThat(histogram).doesNotContainIgnoringCase("warning");
        // Through the dynamic section alone (no section headers), as a loader sees the image.
        String dynamic = readelf("-D", "--dyn-syms");
        assertThat(dynamic).contains("__vdso_clock_gettime@@LINUX_2.6", "__vdso_getcpu@@LINUX_2.6");
    }

    @Test
    void loadersFindEveryFunctionAtItsVersion(@TempDir Path dir) {
        HostTools.assumeInstalled("gcc");
        Path lookup = dir.resolve("vdso_lookup");
        HostTools.run(List.of("gcc", "-Wall", "-o", lookup.toString(),
                GuestPrograms.sourceDirectory().resolve("host/vdso_lookup.c").toString()));
        List<String> command = new ArrayList<>(List.of(lookup.toString(), image.toString()));
        List<String> expected = new ArrayList<>();
        for (VdsoCode.Function f : VdsoCode.FUNCTIONS) {
            long address = VdsoCode.TEXT_OFFSET + f.offset();
            for (String name : List.of(VdsoImage.PREFIX + f.name(), f.name())) {
                command.add(name);
                expected.add(name + " dl=" + address + " sysv=" + address);
            }
        }
        command.add("__vdso_unknown");
        expected.add("__vdso_unknown dl=-1 sysv=-1");
        assertThat(HostTools.run(command).lines()).containsExactlyElementsOf(expected);
    }
}
