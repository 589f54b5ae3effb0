package io.kvmserver.elf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Headers a hostile program file carries, parsed by the host before any VM exists (found by the
 * review of 2026-12-05, third round that day): each is refused as {@code execve(2)} refuses it, or
 * read within bounds, and never becomes a raw Java exception, gigabytes of strings or minutes of
 * host CPU. The files are built here byte by byte: one loadable segment, then the headers under
 * test.
 */
class HostileHeadersTest {

    private static final int PT_LOAD = 1;
    private static final int PT_DYNAMIC = 2;
    private static final int PT_INTERP = 3;
    private static final long DT_STRTAB = 5;
    private static final long DT_RUNPATH = 29;
    private static final long DT_NEEDED = 1;

    @TempDir
    Path dir;

    /** A program header: type, file offset, size (in the file and in memory). */
    private record Header(int type, long offset, long size) {
    }

    /**
     * An x86-64 ET_DYN whose one loadable segment maps the whole file at address 0 (so a
     * {@code DT_STRTAB} address is its file offset), with {@code extra} headers after it.
     */
    private static byte[] elf(byte[] body, Header... extra) {
        int headers = 1 + extra.length;
        int bodyAt = 64 + 56 * headers;
        ByteBuffer b = ByteBuffer.allocate(bodyAt + body.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, 0x464c457f).put(4, (byte) 2).put(5, (byte) 1).put(6, (byte) 1);
        b.putShort(16, (short) ElfFile.ET_DYN).putShort(18, (short) 62).putInt(20, 1);
        b.putLong(24, 0x1000).putLong(32, 64).putShort(52, (short) 64).putShort(54, (short) 56)
                .putShort(56, (short) headers);
        List<Header> all = new ArrayList<>();
        all.add(new Header(PT_LOAD, 0, bodyAt + body.length));
        all.addAll(Arrays.asList(extra));
        for (int i = 0; i < all.size(); i++) {
            int p = 64 + 56 * i;
            Header h = all.get(i);
            // The loadable segment maps the file from its start; the others' offsets count from the body.
            long offset = i == 0 ? 0 : h.offset() < 0 || h.offset() > Integer.MAX_VALUE ? h.offset() : bodyAt + h.offset();
            b.putInt(p, h.type()).putInt(p + 4, 5).putLong(p + 8, offset).putLong(p + 16, Math.max(0, offset))
                    .putLong(p + 32, h.size()).putLong(p + 40, h.size()).putLong(p + 48, 0x1000);
        }
        b.position(bodyAt);
        b.put(body);
        return b.array();
    }

    private static ElfFile withInterpreter(String interp) {
        byte[] bytes = interp.getBytes(StandardCharsets.ISO_8859_1);
        return ElfFile.of(Path.of("/hostile"), elf(bytes, new Header(PT_INTERP, 0, bytes.length)));
    }

    @Test
    void theLoaderIsTheInterpretersPathUpToItsFirstNulAsExecveReadsIt() {
        assertThat(withInterpreter("/lib64/ld-linux-x86-64.so.2\0garbage\0").interpreter())
                .isEqualTo("/lib64/ld-linux-x86-64.so.2");
    }

    /** Linux reads the first PT_INTERP and never looks at another (the second wave: the last one was used). */
    @Test
    void onlyTheFirstInterpreterHeaderCounts() {
        byte[] first = "/lib64/ld-linux-x86-64.so.2\0".getBytes(StandardCharsets.US_ASCII);
        ElfFile elf = ElfFile.of(Path.of("/two"), elf(first, new Header(PT_INTERP, 0, first.length),
                new Header(PT_INTERP, 1 << 20, 0)));
        assertThat(elf.interpreter()).isEqualTo("/lib64/ld-linux-x86-64.so.2");
    }

    @Test
    void anInterpreterThatIsEmptyOrNotNulTerminatedIsRefusedAsExecveRefusesIt() {
        for (String bad : List.of("\0", "\0\0/lib64/ld.so\0", "/lib64/ld-linux-x86-64.so.2")) {
            assertThatThrownBy(() -> withInterpreter(bad)).as("%s", bad.replace("\0", "\\0"))
                    .isInstanceOf(ElfException.class).hasMessageContaining("invalid PT_INTERP");
        }
        assertThatThrownBy(() -> withInterpreter("/" + "a".repeat(5000) + "\0"))
                .isInstanceOf(ElfException.class).hasMessageContaining("invalid PT_INTERP");
    }

    /** 512 segments over one 64 MiB region made the start copy 32 GiB; text and data still share a page. */
    @Test
    void segmentsThatLoadTheFileOverAndOverAreRefused() {
        byte[] body = new byte[1 << 20];
        Header[] again = new Header[8];
        Arrays.fill(again, new Header(PT_LOAD, 0, body.length));
        assertThatThrownBy(() -> ElfFile.of(Path.of("/hostile"), elf(body, again)))
                .isInstanceOf(ElfException.class).hasMessageContaining("overlap in the file");
        assertThat(ElfFile.of(Path.of("/shared-page"), elf(body, new Header(PT_LOAD, body.length - 4096, 4096)))
                .segments()).hasSize(2);
    }

    @Test
    void aDynamicSectionOutsideTheFileNamesNoLibraries() throws Exception {
        byte[] interp = "/lib64/ld-linux-x86-64.so.2\0".getBytes(StandardCharsets.US_ASCII);
        for (long offset : new long[] {-16, Long.MIN_VALUE, 1L << 40}) {
            Path file = Files.write(dir.resolve("negative"), elf(interp, new Header(PT_INTERP, 0, interp.length),
                    new Header(PT_DYNAMIC, offset, 32)));
            ElfFile program = ElfFile.read(file);
            assertThat(DynamicDependencies.homes(program)).as("offset %d", offset).isNotEmpty();
            assertThat(DynamicDependencies.of(program, program)).as("offset %d: the loader and its cache only", offset)
                    .containsOnly(file, file.toRealPath(), Path.of("/etc/ld.so.cache"));
        }
    }

    /**
     * 2,048 run paths and 2,048 needed names, each 1 MiB without a NUL, in a 1 MiB file: the host
     * built a string per entry (8 GiB of them for a file of 8 MiB: an OutOfMemoryError) and looked
     * each name up in every run path again for every name.
     */
    @Test
    @Timeout(20)
    void manyLongDynamicStringsAreBoundedNotBuilt() throws Exception {
        int entries = 2048;
        byte[] interp = "/lib64/ld-linux-x86-64.so.2\0".getBytes(StandardCharsets.US_ASCII);
        int stringsAt = interp.length + 16 * (2 * entries + 2);
        ByteBuffer body = ByteBuffer.allocate(stringsAt + (1 << 20)).order(ByteOrder.LITTLE_ENDIAN);
        body.put(interp);
        int bodyAt = 64 + 56 * 3;
        body.putLong(DT_STRTAB).putLong(bodyAt + stringsAt);
        for (int i = 0; i < entries; i++) {
            body.putLong(DT_RUNPATH).putLong(i);
            body.putLong(DT_NEEDED).putLong(i + 1);
        }
        body.putLong(0).putLong(0);
        Arrays.fill(body.array(), stringsAt, body.capacity(), (byte) 'a');
        Path file = Files.write(dir.resolve("strings"), elf(body.array(), new Header(PT_INTERP, 0, interp.length),
                new Header(PT_DYNAMIC, interp.length, 16L * (2 * entries + 2))));
        ElfFile program = ElfFile.read(file);
        assertThat(DynamicDependencies.homes(program)).isNotEmpty();
        assertThat(DynamicDependencies.of(program, program)).as("the loader and its cache only")
                .containsOnly(file, file.toRealPath(), Path.of("/etc/ld.so.cache"));
    }
}
