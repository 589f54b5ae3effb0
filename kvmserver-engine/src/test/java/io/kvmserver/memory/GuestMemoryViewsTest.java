package io.kvmserver.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/**
 * The engine reads and writes guest memory through {@code ByteBuffer} views of 1 GiB each, and a
 * JNA call where an access crosses from one view into the next: values at and across the seam
 * read back as written, in little-endian order, and a reset's copy from the template covers
 * both sides of it. The memory is sparse: 3 GiB of it cost the pages touched.
 */
class GuestMemoryViewsTest {

    private static final long GIB = 1L << 30;

    @Test
    void accessesAtAndAcrossTheSeamsOfTheViews() {
        try (GuestMemory m = GuestMemory.create("views", 3 * GIB)) {
            long[] longs = {0, GIB - 8, GIB - 4, GIB - 1, GIB, 2 * GIB - 3, 3 * GIB - 8};
            for (int i = 0; i < longs.length; i++) {
                m.putLong(longs[i], 0x1122334455667788L + i);
                assertThat(m.getLong(longs[i])).as("long at 0x%x", longs[i]).isEqualTo(0x1122334455667788L + i);
            }
            m.putInt(GIB - 2, 0xa1b2c3d4);
            assertThat(m.getInt(GIB - 2)).isEqualTo(0xa1b2c3d4);
            assertThat(m.getByte(GIB - 2)).as("little-endian, the low byte first").isEqualTo((byte) 0xd4);
            assertThat(m.getByte(GIB + 1)).isEqualTo((byte) 0xa1);
            m.putShort(GIB - 1, (short) 0x5566);
            assertThat(m.getByte(GIB - 1)).isEqualTo((byte) 0x66);
            assertThat(m.getByte(GIB)).isEqualTo((byte) 0x55);
            m.putInt(GIB + 64, 0xa1b2c3d4);
            assertThat(m.getByte(GIB + 64)).as("within a view: little-endian too").isEqualTo((byte) 0xd4);
            m.write(GIB + 128, new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
            assertThat(m.getLong(GIB + 128)).isEqualTo(0x0807060504030201L);
            assertThat(m.getInt(GIB + 132)).isEqualTo(0x08070605);
            m.putByte(3 * GIB - 1, (byte) 7);
            assertThat(m.getByte(3 * GIB - 1)).isEqualTo((byte) 7);
            assertThatThrownBy(() -> m.getLong(3 * GIB - 4)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> m.putInt(-1, 0)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void aResetsCopyFromTheTemplateWithinAViewAndAcrossTwo() {
        try (GuestMemory template = GuestMemory.create("template", 3 * GIB)) {
            byte[] page = new byte[8192];
            for (int i = 0; i < page.length; i++) {
                page[i] = (byte) (i * 31 + 7);
            }
            template.write(GIB - 4096, page); // the last page of the first view and the first of the second
            template.write(2 * GIB + 4096, page, 0, 4096);
            try (GuestMemory vm = template.forkPrivate()) {
                vm.fill(GIB - 4096, 8192, (byte) 0);
                vm.fill(2 * GIB + 4096, 4096, (byte) 0);
                vm.copyFrom(template, GIB - 4096, 8192);
                vm.copyFrom(template, 2 * GIB + 4096, 4096);
                assertThat(vm.read(GIB - 4096, 8192)).isEqualTo(page);
                assertThat(vm.read(2 * GIB + 4096, 4096)).isEqualTo(java.util.Arrays.copyOf(page, 4096));
                vm.fill(2 * GIB + 4096, 4096, (byte) 1);
                assertThat(vm.restoreFrom(template, 2 * GIB + 4096, 4096)).as("changed: copied").isTrue();
                assertThat(vm.restoreFrom(template, 2 * GIB + 4096, 4096)).as("the template's already").isFalse();
                assertThat(template.getByte(2 * GIB + 4096)).as("the template's own page").isEqualTo(page[0]);
            }
        }
    }
}
