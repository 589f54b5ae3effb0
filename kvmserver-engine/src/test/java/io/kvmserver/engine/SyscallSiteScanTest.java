package io.kvmserver.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.elf.ElfFile;
import io.kvmserver.elf.ElfSymbols;
import io.kvmserver.host.SyscallNumbers;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.x86.InstructionLength;
import io.kvmserver.x86.SyscallSiteScan;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The decoder that proves where instructions start ({@link InstructionLength}) and the scan of a
 * file's functions for call sites ({@link SyscallSiteScan}), against {@code objdump -d} on real
 * code: the host's C library, python3, nginx and a static C program. Every instruction start the
 * decoder reaches from a function's start must be one objdump decodes, and every site the scan
 * reports must be a {@code mov $nr, %eax} that objdump shows right before a {@code syscall}: a
 * wrong length would make the engine rewrite bytes inside another instruction.
 */
class SyscallSiteScanTest {

    private static final Pattern LINE = Pattern.compile("^\\s*([0-9a-f]+):\\t([0-9a-f ]+?)\\s*\\t(.*)$");

    /**
     * Instruction starts objdump decodes, and the {@code mov $nr, %eax} or {@code mov 0x8(%rsp), %r9}
     * right before a {@code syscall}.
     */
    private record Disassembly(Set<Long> starts, Set<Long> sites) {
    }

    private static Disassembly objdump(Path file) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("objdump", "-d", "-w", file.toString())
                .redirectErrorStream(true).start();
        Set<Long> starts = new HashSet<>();
        Set<Long> sites = new HashSet<>();
        long previous = -1;
        String previousText = "";
        for (String line : new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
            Matcher m = LINE.matcher(line);
            if (!m.matches()) {
                continue;
            }
            long address = Long.parseLong(m.group(1), 16);
            String text = m.group(3).trim();
            starts.add(address);
            if (text.startsWith("syscall") && address - previous == 5
                    && (previousText.matches("mov\\s+\\$0x[0-9a-f]+,%eax.*")
                            || previousText.matches("mov\\s+0x8\\(%rsp\\),%r9.*"))) {
                sites.add(previous);
            }
            previous = address;
            previousText = text;
        }
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        return new Disassembly(starts, sites);
    }

    private static void checkAgainstObjdump(Path file, int fewestSites) throws Exception {
        ElfFile elf = ElfFile.read(file);
        long[] functions = ElfSymbols.functions(elf.bytes());
        assertThat(functions.length).as(file + ": functions").isGreaterThan(20);
        Disassembly truth = objdump(file);
        List<Long> wrong = new ArrayList<>();
        long decoded = 0;
        for (ElfFile.Segment s : elf.segments()) {
            if (s.type() != ElfFile.PT_LOAD || (s.flags() & ElfFile.PF_X) == 0) {
                continue;
            }
            byte[] bytes = elf.bytes();
            for (int f = 0; f < functions.length; f += 2) {
                long start = functions[f];
                if (start < s.vaddr() || start - s.vaddr() >= s.fileSize()) {
                    continue;
                }
                int at = (int) (s.offset() + start - s.vaddr());
                int end = (int) Math.min(s.offset() + s.fileSize(), at + functions[f + 1]);
                while (at < end) {
                    long address = s.vaddr() + at - s.offset();
                    if (!truth.starts().contains(address) && wrong.size() < 10) {
                        wrong.add(address);
                    }
                    int length = InstructionLength.of(bytes, at, end);
                    if (length == InstructionLength.UNKNOWN) {
                        break;
                    }
                    decoded++;
                    at += length;
                }
            }
            List<Long> sites = new ArrayList<>();
            SyscallSiteScan.scan(bytes, s.offset(), s.vaddr(), s.fileSize(), functions, SyscallNumbers.COUNT,
                    sites::add);
            assertThat(truth.sites()).as(file + ": every site found is one objdump shows").containsAll(sites);
            assertThat(sites.size()).as(file + ": sites found (objdump shows " + truth.sites().size() + ")")
                    .isGreaterThanOrEqualTo(fewestSites);
        }
        assertThat(wrong).as(file + ": instruction starts objdump does not decode (of " + decoded + ")").isEmpty();
        assertThat(decoded).as(file + ": instructions decoded").isGreaterThan(1000);
    }

    /**
     * A crafted file (a program may map any file it can read executable): 60,000 symbol tables,
     * each the same 500,000 functions. One table of each kind is read, and at most
     * {@link ElfSymbols#MAX_FUNCTIONS} functions: what the host allocates for a file stays bounded
     * (reading every table overflowed the array's size: an exception out of the host's mmap).
     */
    @Test
    void aCraftedFileWithManySymbolTablesIsReadOnce() {
        int sections = 60_000;
        int size = 16 << 20;
        byte[] elf = new byte[size];
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(elf).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        long headers = size - (long) sections * 64;
        b.putLong(0x28, headers).putShort(0x3a, (short) 64).putShort(0x3c, (short) sections);
        for (int i = 0; i < sections; i++) {
            int h = (int) headers + i * 64;
            b.putInt(h + 4, i % 2 == 0 ? 2 : 11).putLong(h + 24, 0).putLong(h + 32, headers);
        }
        for (int sym = 72; sym + 24 <= headers; sym += 24) {
            b.put(sym + 4, (byte) 2).putShort(sym + 6, (short) 1).putLong(sym + 8, sym).putLong(sym + 16, 8);
        }
        long[] functions = ElfSymbols.functions(elf);
        assertThat(functions.length / 2).isGreaterThan(250_000).isLessThanOrEqualTo(ElfSymbols.MAX_FUNCTIONS);
    }

    @Test
    void theCLibrarysWrappers() throws Exception {
        checkAgainstObjdump(Path.of("/lib/x86_64-linux-gnu/libc.so.6"), 300);
    }

    @Test
    void aStaticProgramsOwnAndItsCLibrarys() throws Exception {
        checkAgainstObjdump(GuestPrograms.get("http_server"), 50);
    }

    @Test
    void python3AndNginx() throws Exception {
        checkAgainstObjdump(Path.of("/usr/bin/python3.11"), 0);
        checkAgainstObjdump(Path.of("/usr/sbin/nginx"), 0);
    }
}
