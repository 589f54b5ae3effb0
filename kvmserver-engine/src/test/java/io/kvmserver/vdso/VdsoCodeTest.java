package io.kvmserver.vdso;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.Assembly;
import io.kvmserver.x86.GuestLayout;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HexFormat;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The vDSO's bytes in {@link VdsoCode} are what GNU {@code as} makes of the annotated source
 * {@code vdso.S}; its function offsets and layout constants are the ones {@link VdsoCode},
 * {@link TimePage} and {@link GuestLayout} use; and it needs no relocation.
 */
class VdsoCodeTest {

    private static Assembly assembly;
    private static byte[] text;

    @BeforeAll
    static void assemble(@TempDir Path dir) throws IOException {
        assembly = Assembly.of(VdsoCode.class, "vdso.S", dir);
        text = assembly.text();
    }

    private static long symbol(String name) {
        return assembly.symbol(name);
    }

    @Test
    void theCodeIsTheAssembledSource() {
        assertThat(VdsoCode.text()).as("VdsoCode's bytes; the assembled vdso.S is:\n%s", hexLines(text))
                .containsExactly(text);
    }

    @Test
    void functionsSitWhereVdsoCodeSays() {
        for (VdsoCode.Function f : VdsoCode.FUNCTIONS) {
            assertThat(symbol(f.name())).as(f.name()).isEqualTo(f.offset());
            assertThat(f.offset() % 16).as("%s is 16-byte aligned", f.name()).isZero();
        }
        assertThat(symbol("text_end")).isEqualTo(text.length);
    }

    @Test
    void layoutConstantsMatchTheHostSide() {
        assertThat(symbol("TEXT_OFFSET")).isEqualTo(VdsoCode.TEXT_OFFSET);
        assertThat(symbol("PAGE_SIZE")).isEqualTo(GuestLayout.PAGE_SIZE)
                .isEqualTo(GuestLayout.VDSO - GuestLayout.VVAR);
        assertThat(symbol("VVAR_SEQ")).isEqualTo(TimePage.SEQ);
        assertThat(symbol("VVAR_USER_START")).isEqualTo(TimePage.USER_START);
        assertThat(symbol("VVAR_USER_END")).isEqualTo(TimePage.USER_END);
        assertThat(symbol("VVAR_SLOTS")).isEqualTo(TimePage.SLOTS);
        assertThat(symbol("SLOT_SIZE")).isEqualTo(TimePage.SLOT_SIZE)
                .isEqualTo((long) TimePage.CLOCKS * TimePage.CLOCK_SIZE);
        assertThat(symbol("CLOCK_TSC_BASE")).isEqualTo(TimePage.CLOCK_TSC_BASE);
        assertThat(symbol("CLOCK_BASE_NS")).isEqualTo(TimePage.CLOCK_BASE_NS);
        assertThat(symbol("CLOCK_MULT")).isEqualTo(TimePage.CLOCK_MULT);
        assertThat(symbol("CLOCK_SIZE")).isEqualTo(TimePage.CLOCK_SIZE);
        assertThat(symbol("MAX_CLOCK")).isEqualTo(TimePage.CLOCKS - 1);
        assertThat(TimePage.SLOTS + 2L * TimePage.SLOT_SIZE).isLessThanOrEqualTo(GuestLayout.PAGE_SIZE);
        // The page the code reads RIP-relative is the one the engine maps below the image.
        assertThat(symbol("vvar")).isEqualTo(-(long) VdsoCode.TEXT_OFFSET - GuestLayout.PAGE_SIZE);
    }

    @Test
    void theCodeIsPositionIndependent() {
        assertThat(assembly.relocations()).contains("There are no relocations in this file.");
    }

    private static String hexLines(byte[] bytes) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < bytes.length; i += 32) {
            sb.append("            ").append(HexFormat.of().formatHex(bytes, i, Math.min(bytes.length, i + 32))).append('\n');
        }
        return sb.toString();
    }
}
