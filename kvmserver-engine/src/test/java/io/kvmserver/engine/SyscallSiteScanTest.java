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
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableSet;
import java.util.Set;
import java.util.TreeSet;
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
     * right before a {@code syscall}; the {@code xor %eax, %eax} or 64-bit register {@code mov}
     * right before one (short sites);
     * padding runs (nops and int3s) right after a return, a jump or ud2, by start, with their
     * length; and every direct branch's target in the file.
     */
    private record Disassembly(Set<Long> starts, Set<Long> sites, Set<Long> shortSites, Map<Long, Long> pads,
            NavigableSet<Long> targets) {
    }

    private static final Pattern PADDING = Pattern.compile("^((data16|cs|ds) )*(nop[wl]?\\b.*|xchg\\s+%ax,%ax|int3)$");
    private static final Pattern ENDS_FLOW = Pattern.compile("^((repz|bnd|notrack) )*(ret|jmp|ud2)\\b.*");
    private static final Pattern BRANCH = Pattern.compile("^((bnd|notrack|cs|ds) )*(j[a-z]+|call|loop[a-z]*)\\s+([0-9a-f]+)( .*)?$");

    private static Disassembly objdump(Path file) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("objdump", "-d", "-w", file.toString())
                .redirectErrorStream(true).start();
        Set<Long> starts = new HashSet<>();
        Set<Long> sites = new HashSet<>();
        Set<Long> shortSites = new HashSet<>();
        Map<Long, Long> pads = new HashMap<>();
        NavigableSet<Long> targets = new TreeSet<>();
        long previous = -1;
        String previousText = "";
        long pad = -1; // the padding run being read, after an instruction that ends the flow
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
            if (text.startsWith("syscall") && (address - previous == 2 && previousText.matches("xor\\s+%eax,%eax")
                    || address - previous == 3 && previousText.matches("mov\\s+%r[a-z0-9]+,%r[a-z0-9]+"))) {
                shortSites.add(previous);
            }
            boolean padding = PADDING.matcher(text).matches();
            if (padding && (pad >= 0 || ENDS_FLOW.matcher(previousText).matches())) {
                pad = pad >= 0 ? pad : address;
                pads.put(pad, address + m.group(2).split(" ").length - pad);
            } else {
                pad = -1;
            }
            Matcher branch = BRANCH.matcher(text);
            if (branch.matches()) {
                targets.add(Long.parseLong(branch.group(4), 16));
            }
            previous = address;
            previousText = text;
        }
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        return new Disassembly(starts, sites, shortSites, pads, targets);
    }

    private static int totalShortSites;

    /** As {@link #checkAgainstObjdump(Path, int)}, and at least {@code fewestShortSites} short sites. */
    private static void checkAgainstObjdump(Path file, int fewestSites, int fewestShortSites) throws Exception {
        totalShortSites = 0;
        checkAgainstObjdump(file, fewestSites);
        assertThat(totalShortSites).as(file + ": short sites (xor %eax,%eax or mov %r,%r; syscall) with padding")
                .isGreaterThanOrEqualTo(fewestShortSites);
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
            List<long[]> shortSites = new ArrayList<>();
            SyscallSiteScan.scan(bytes, s.offset(), s.vaddr(), s.fileSize(), functions, SyscallNumbers.COUNT,
                    new SyscallSiteScan.Sink() {
                        @Override
                        public void site(long address) {
                            sites.add(address);
                        }

                        @Override
                        public void shortSite(long address, long pad, int padLength) {
                            shortSites.add(new long[] {address, pad, padLength});
                        }
                    });
            assertThat(truth.sites()).as(file + ": every site found is one objdump shows").containsAll(sites);
            assertThat(sites.size()).as(file + ": sites found (objdump shows " + truth.sites().size() + ")")
                    .isGreaterThanOrEqualTo(fewestSites);
            for (long[] site : shortSites) {
                String where = file + ": short site 0x" + Long.toHexString(site[0]) + ", padding at 0x"
                        + Long.toHexString(site[1]);
                assertThat(truth.shortSites()).as(where + ": xor %eax,%eax or mov %r,%r; syscall").contains(site[0]);
                assertThat(truth.pads()).as(where + ": a padding run after a return or jump").containsKey(site[1]);
                assertThat(truth.pads().get(site[1])).as(where + ": its length").isGreaterThanOrEqualTo(site[2]);
                Long target = truth.targets().ceiling(site[1]);
                assertThat(target == null || target >= site[1] + site[2])
                        .as(where + ": no branch of the file into the padding (first target from there: 0x"
                                + Long.toHexString(target == null ? 0 : target) + ")").isTrue();
            }
            totalShortSites += shortSites.size();
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

    /**
     * A hostile symbol table (review of 2026-12-05, third round): 400 functions starting a byte
     * apart in a 4 MiB sled, each spanning it to its end, made the scan decode 1.6 GB (20 s of a
     * host thread at boot, where no time limit reaches; 2^18 such symbols, hours). A scan decodes
     * about twice its segment at most, and aliases of one start once; the site is still found.
     */
    @Test
    @org.junit.jupiter.api.Timeout(10)
    void symbolsThatAllSpanTheSegmentAreDecodedWithinABudget() {
        byte[] code = new byte[4 << 20];
        java.util.Arrays.fill(code, (byte) 0x90);
        byte[] site = {(byte) 0xb8, 39, 0, 0, 0, 0x0f, 0x05}; // mov $39, %eax; syscall
        System.arraycopy(site, 0, code, code.length - site.length, site.length);
        long[] functions = new long[2 * 800];
        for (int i = 0; i < 400; i++) {
            functions[2 * i] = i;
            functions[2 * i + 1] = code.length - i;
            functions[800 + 2 * i] = i; // an alias of each: scanned once
            functions[800 + 2 * i + 1] = code.length - i;
        }
        List<Long> sites = new ArrayList<>();
        SyscallSiteScan.scan(code, 0, 0, code.length, functions, SyscallNumbers.COUNT, sites::add);
        assertThat(sites).isNotEmpty().allMatch(a -> a == code.length - site.length);
        assertThat(sites.size()).as("decoded twice the segment at most").isLessThanOrEqualTo(3);
    }

    /** The short sites the scan reports in one function of {@code code} at address 0: {site, pad, length} each. */
    private static List<long[]> shortSitesOf(int... code) {
        return shortSitesOf(new long[] {0, code.length}, code);
    }

    /** The short sites the scan reports in {@code code} at address 0, whose functions are {start, size} pairs. */
    private static List<long[]> shortSitesOf(long[] functions, int... code) {
        byte[] bytes = new byte[code.length];
        for (int i = 0; i < code.length; i++) {
            bytes[i] = (byte) code[i];
        }
        List<long[]> found = new ArrayList<>();
        SyscallSiteScan.scan(bytes, 0, 0, bytes.length, functions, SyscallNumbers.COUNT,
                new SyscallSiteScan.Sink() {
                    @Override
                    public void site(long address) {
                    }

                    @Override
                    public void shortSite(long address, long pad, int padLength) {
                        found.add(new long[] {address, pad, padLength});
                    }
                });
        return found;
    }

    private static final int[] XOR_SYSCALL = {0x31, 0xc0, 0x0f, 0x05};
    private static final int[] NOP5 = {0x0f, 0x1f, 0x44, 0x00, 0x00};

    private static int[] concat(int[]... parts) {
        return java.util.Arrays.stream(parts).flatMapToInt(java.util.Arrays::stream).toArray();
    }

    /**
     * The padding a short site's jump may take is padding no path of its function executes:
     * after an instruction that never falls through, no direct branch into any of it, no jump
     * through a register anywhere in the function (a switch's table could point into it), at
     * least five bytes, within a rel8 of the site. Each crafted function breaks one rule.
     */
    @Test
    void aShortSitesPaddingIsPaddingNoPathExecutes() {
        int[] test = {0x85, 0xff}; // test %edi, %edi
        int[] ret = {0xc3};
        // je +6: over xor, syscall, ret (to the ret after the padding: 4 + 1 + 5 = 10 bytes on)
        assertThat(shortSitesOf(concat(test, new int[] {0x74, 0x0a}, XOR_SYSCALL, ret, NOP5, ret)))
                .as("the padding after the ret, a branch past it").singleElement()
                .satisfies(f -> assertThat(f).containsExactly(4, 9, 5));
        assertThat(shortSitesOf(concat(test, new int[] {0x74, 0x05}, XOR_SYSCALL, ret, NOP5, ret)))
                .as("a branch into the padding").isEmpty();
        assertThat(shortSitesOf(concat(test, new int[] {0x74, 0x07}, XOR_SYSCALL, ret, NOP5, ret)))
                .as("a branch into the padding's middle").isEmpty();
        assertThat(shortSitesOf(concat(test, new int[] {0x74, 0x0b}, XOR_SYSCALL, new int[] {0x89, 0xc7}, NOP5, ret)))
                .as("padding that mov falls into").isEmpty();
        assertThat(shortSitesOf(concat(test, new int[] {0x74, 0x09}, XOR_SYSCALL, ret, new int[] {0x0f, 0x1f, 0x40, 0x00}, ret)))
                .as("four bytes of padding").isEmpty();
        assertThat(shortSitesOf(concat(new int[] {0xff, 0xe0}, XOR_SYSCALL, ret, NOP5, ret)))
                .as("a function with a jump through a register").isEmpty();
        int[] far = new int[130];
        java.util.Arrays.fill(far, 0x90);
        assertThat(shortSitesOf(concat(XOR_SYSCALL, ret, new int[] {0x48, 0x89, 0xc7}, far, new int[] {0xc3}, NOP5, ret)))
                .as("padding out of a rel8's reach").isEmpty();
        assertThat(shortSitesOf(concat(new int[] {0xeb, 0x05}, NOP5, XOR_SYSCALL, ret)))
                .as("padding before the site, after a jmp over it").singleElement()
                .satisfies(f -> assertThat(f).containsExactly(7, 2, 5));
        assertThat(shortSitesOf(concat(new int[] {0x41, 0x90}, XOR_SYSCALL, ret, new int[] {0x41, 0x90, 0x41, 0x90, 0x90}, ret)))
                .as("xchg %eax, %r8d is no nop").isEmpty();
    }

    /**
     * Go's generic call ({@code runtime/internal/syscall.Syscall6}) moves its first argument into
     * RDI right before the {@code syscall}, and Go pads between functions with {@code int3}s
     * outside their symbols' sizes: a 64-bit register {@code mov} is a short site, and the
     * {@code int3}s after a function's last {@code ret} are its padding, up to the next function's
     * start. Never a {@code mov} with a memory operand, a 32-bit one, {@code nop}s after the
     * function (code without a symbol could start there), or {@code int3}s another function's
     * symbol covers.
     */
    @Test
    void goStyleSitesAndThePaddingAfterTheirFunction() {
        int[] syscall6 = {0x49, 0x89, 0xf2, 0x48, 0x89, 0xdf, 0x0f, 0x05, 0xc3}; // mov %rsi,%r10; mov %rbx,%rdi; syscall; ret
        int[] int3s = {0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc};
        int[] next = {0xc3};
        assertThat(shortSitesOf(new long[] {0, 9, 16, 1}, concat(syscall6, int3s, next)))
                .as("int3s after the function, before the next").singleElement()
                .satisfies(f -> assertThat(f).containsExactly(3, 9, 5));
        assertThat(shortSitesOf(new long[] {0, 9, 12, 4}, concat(syscall6, int3s, next)))
                .as("int3s the next function's symbol covers from the fourth on").isEmpty();
        assertThat(shortSitesOf(new long[] {0, 9, 16, 1}, concat(syscall6, new int[] {0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90}, next)))
                .as("nops after the function").isEmpty();
        assertThat(shortSitesOf(new long[] {0, 9, 16, 1},
                concat(new int[] {0x49, 0x89, 0xf2, 0x48, 0x8b, 0x3f, 0x0f, 0x05, 0xc3}, int3s, next)))
                .as("mov (%rdi), %rdi: a memory operand").isEmpty();
        assertThat(shortSitesOf(new long[] {0, 8, 16, 1},
                concat(new int[] {0x49, 0x89, 0xf2, 0x89, 0xdf, 0x0f, 0x05, 0xc3}, int3s, new int[] {0xcc}, next)))
                .as("mov %ebx, %edi: two bytes, and not one of the shapes").isEmpty();
        assertThat(shortSitesOf(new long[] {0, 9, 16, 1}, concat(new int[] {0x49, 0x89, 0xf2, 0x48, 0x89, 0xdf, 0x0f, 0x05, 0x90},
                int3s, next))).as("int3s after a function whose last instruction falls through").isEmpty();
        assertThat(shortSitesOf(new long[] {0, 9, 16, 1}, concat(new int[] {0x74, 0x0a, 0x90, 0x48, 0x89, 0xdf, 0x0f, 0x05, 0xc3},
                int3s, next))).as("a branch of the function into its int3s").isEmpty();
    }

    /** The Go runtime test guest: every generic call goes through one short site with int3s after its function. */
    @Test
    void aGoProgram() throws Exception {
        checkAgainstObjdump(io.kvmserver.testing.CompiledGuests.go("go-counter"), 20, 1);
    }

    @Test
    void theCLibrarysWrappers() throws Exception {
        checkAgainstObjdump(Path.of("/lib/x86_64-linux-gnu/libc.so.6"), 300, 2); // read's two
    }

    @Test
    void aStaticProgramsOwnAndItsCLibrarys() throws Exception {
        checkAgainstObjdump(GuestPrograms.get("http_server"), 50, 2);
    }

    @Test
    void python3AndNginx() throws Exception {
        checkAgainstObjdump(Path.of("/usr/bin/python3.11"), 0);
        checkAgainstObjdump(Path.of("/usr/sbin/nginx"), 0);
    }
}
