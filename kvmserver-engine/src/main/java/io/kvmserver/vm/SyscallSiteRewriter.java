package io.kvmserver.vm;

import io.kvmserver.elf.ElfFile;
import io.kvmserver.elf.ElfSymbols;
import io.kvmserver.elf.LoadTarget;
import io.kvmserver.host.SyscallNumbers;
import io.kvmserver.linux.AddressSpace;
import io.kvmserver.linux.FileDescription;
import io.kvmserver.linux.LinuxProcess;
import io.kvmserver.linux.SyscallError;
import io.kvmserver.memory.GuestMemory;
import io.kvmserver.x86.GuestCallPages;
import io.kvmserver.x86.GuestLayout;
import io.kvmserver.x86.InstructionKind;
import io.kvmserver.x86.SyscallSiteScan;
import io.kvmserver.x86.SyscallTrampoline;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rewrites the template's system call sites so that they enter the syscall entry with a jump
 * instead of the {@code syscall} instruction, on nested PVM, where that instruction costs ~25 µs
 * before the entry runs (docs/benchmarks.md) and the entry runs at CPL 3, where the program can
 * jump anyway. A call answered in the guest then costs what its code does, and one that goes to
 * the host the exit alone.
 *
 * <p><b>Which sites.</b> Sites where an instruction provably starts, found by the template: in
 * the functions of the code it maps from ELF files (the program, and each library as the dynamic
 * loader maps it), by decoding each function from its start as its symbol gives it
 * ({@link SyscallSiteScan}: so a request's first call of {@code accept4} needs no warmup); and
 * the sites of the calls it makes, which the host learns from the calls that reach it (RCX and RAX
 * at the doorbell) and from the ones the entry answered, which it records on the queue page
 * ({@link GuestCallPages#SITES}): there the instruction ran. A site is rewritten when its seven
 * bytes are {@code mov $nr, %eax; syscall} (a site the scan found may also be the C library's
 * {@code syscall()} function's {@code mov 0x8(%rsp), %r9; syscall}, or, through padding no path
 * executes, the C library's {@code read}, {@code xor %eax, %eax; syscall}, and Go's generic call, a
 * register {@code mov} and {@code syscall}: {@link SyscallSiteScan}), in
 * one mapping that is executable and not writable (a library's or the program's code, not a JIT's):
 * {@link SyscallTrampoline} says why those shapes, and what keeps the rewrite transparent.
 *
 * <p><b>Only the template, before its freeze.</b> Request VMs map the template's memory
 * copy-on-write, so they start with its rewritten sites and trampolines and pay nothing for them;
 * a reset restores them with the rest. They learn nothing: a request is untrusted input driving the
 * program, and a site it named (the program can write the queue page, or jump to the entry with
 * any RCX) that the host rewrote in the template would change the code of every later request.
 * The template's own sites are the program's: whatever it executed before the first connection
 * (and during warmup requests) is what it would have run anyway. At the freeze the host fills the
 * site count ({@link #seal}), so request VMs' entries record nothing.
 *
 * <p><b>Where the trampolines go.</b> A {@code jmp rel32} reaches 2 GiB either way, so trampolines
 * live in areas of {@link #AREA_SIZE} mapped read and execute for the program near the sites
 * (where the next mapping would go, or failing that the nearest free range within reach), listed as
 * {@value #AREA_NAME} in {@code /proc/self/maps}: a mapping like any, which a program that unmaps
 * it breaks only for itself (and a reset gives back). A site with no area in reach and no room for
 * one keeps its {@code syscall}.
 *
 * <p>Host work is per exit of the template only, and allocation-free after the first area.
 */
final class SyscallSiteRewriter implements LinuxProcess.CodeObserver {

    private static final Logger log = LoggerFactory.getLogger(SyscallSiteRewriter.class);

    static final String AREA_NAME = "[kvmserver-syscalls]";
    /** Trampolines per area: {@code AREA_SIZE / SyscallTrampoline.SIZE}. */
    static final long AREA_SIZE = 16 * 1024;
    private static final int MAX_AREAS = 8;
    private static final int SLOTS = (int) (AREA_SIZE / SyscallTrampoline.SIZE);

    /**
     * The most scans of mapped code, bytes of one ELF file read and bytes of one mapping decoded:
     * what a scan holds in the host's heap is at most the two (a library's file, glibc's 2 MiB,
     * and its code), whatever the program maps.
     */
    static final int MAX_SCANS = 1024;
    static final long MAX_FILE_BYTES = 16L << 20;
    static final long MAX_CODE_BYTES = 16L << 20;
    /** The most padding bytes read back for a short site: the jump's five, ended by one whole instruction. */
    private static final int MAX_PAD_CHECKED = SyscallTrampoline.JUMP_LENGTH + 15;

    private final GuestMemory memory;
    private int scans;
    private final long[] areaStart = new long[MAX_AREAS];
    private final int[] areaUsed = new int[MAX_AREAS];
    private int areas;
    private int rewritten;
    private final byte[] site = new byte[SyscallTrampoline.SITE_LENGTH];
    private final byte[] trampoline = new byte[SyscallTrampoline.SIZE];
    private final byte[] jump = new byte[SyscallTrampoline.JUMP_LENGTH];
    private final byte[] shortJump = new byte[SyscallTrampoline.SHORT_JUMP_LENGTH];

    SyscallSiteRewriter(GuestMemory memory) {
        this.memory = memory;
    }

    /** How many sites were rewritten. */
    int rewritten() {
        return rewritten;
    }

    /**
     * The call the template made with return address {@code rcx} and number {@code nr}: rewrites
     * its site if it has the shape and a trampoline fits in reach.
     */
    void learn(AddressSpace space, long rcx, long nr) {
        if (nr < 0 || nr >= SyscallNumbers.COUNT) {
            return;
        }
        long at = rcx - SyscallTrampoline.SITE_LENGTH;
        if (at < GuestLayout.USER_START || rcx > space.limit()) {
            return;
        }
        if (readCode(space, at) && SyscallTrampoline.isSite(site, nr)) { // not rewritten already: a jmp now
            rewriteAt(space, at);
        }
    }

    /**
     * Reads the site at {@code at} into {@link #site}: false unless its seven bytes lie in one
     * mapping that is executable and not writable (a library's or the program's code, not a JIT's).
     */
    private boolean readCode(AddressSpace space, long at) {
        if (!inCode(space, at, at + SyscallTrampoline.SITE_LENGTH)) {
            return false;
        }
        memory.read(at, site, 0, site.length);
        return true;
    }

    /** Whether {@code [from, to)} lies in one mapping that is executable and not writable. */
    private static boolean inCode(AddressSpace space, long from, long to) {
        AddressSpace.Mapping code = space.find(from);
        return code != null && code.end() >= to && (code.prot() & LoadTarget.PROT_EXEC) != 0
                && (code.prot() & LoadTarget.PROT_WRITE) == 0;
    }

    /** Rewrites the site at {@code at}, whose bytes are in {@link #site}, if a trampoline fits. */
    private void rewriteAt(AddressSpace space, long at) {
        long slot = slotNear(space, at);
        if (slot < 0) {
            return;
        }
        SyscallTrampoline.encodeTrampoline(trampoline, slot, site, at);
        memory.write(slot, trampoline);
        // Last: until this write the site makes its call as before.
        SyscallTrampoline.encodeJump(jump, at, slot);
        memory.write(at, jump);
        rewritten++;
    }

    /**
     * Rewrites the short site ({@link SyscallTrampoline#shortSiteLength}: {@code xor %eax, %eax;
     * syscall}, or a register {@code mov} and {@code syscall}) at {@code at}, where the scan decoded
     * it, with {@code padLength} bytes of padding no path executes at {@code pad}: the trampoline,
     * then a {@code jmp rel32} to it at the padding, last a {@code jmp rel8} to the padding in place
     * of the site's instruction. Both checked again in guest memory, in code that is executable and
     * not writable.
     */
    private void rewriteShort(AddressSpace space, long at, long pad, int padLength) {
        long from = Math.min(at, pad);
        long to = Math.max(at + SyscallTrampoline.MAX_SHORT_SITE_LENGTH, pad + padLength);
        if (at < GuestLayout.USER_START || pad < GuestLayout.USER_START || padLength < SyscallTrampoline.JUMP_LENGTH
                || padLength > MAX_PAD_CHECKED || !SyscallTrampoline.reachesShort(at, pad) || !inCode(space, from, to)) {
            return;
        }
        byte[] around = memory.read(from, (int) (to - from));
        int siteAt = (int) (at - from);
        int padAt = (int) (pad - from);
        if (SyscallTrampoline.shortSiteLength(around, siteAt) == 0
                || !InstructionKind.isPaddingRun(around, padAt, padAt + padLength)) {
            return; // rewritten already (a library mapped twice), or not what the scan decoded
        }
        long slot = slotNear(space, pad);
        if (slot < 0) {
            return;
        }
        SyscallTrampoline.encodeShortTrampoline(trampoline, slot, around, siteAt, at);
        memory.write(slot, trampoline);
        SyscallTrampoline.encodeJump(jump, pad, slot);
        memory.write(pad, jump);
        // Last: until this write the site makes its call as before.
        SyscallTrampoline.encodeShortJump(shortJump, at, pad);
        memory.write(at, shortJump);
        rewritten++;
    }

    /** What the scans report to: sites at their address plus {@code bias}, rewritten. */
    private SyscallSiteScan.Sink rewriting(AddressSpace space, long bias) {
        return new SyscallSiteScan.Sink() {
            @Override
            public void site(long address) {
                rewrite(space, address + bias);
            }

            @Override
            public void shortSite(long address, long pad, int padLength) {
                rewriteShort(space, address + bias, pad + bias, padLength);
            }
        };
    }

    /** The sites in the functions of {@code program}, loaded {@code bias} bytes above its addresses. */
    void scanProgram(AddressSpace space, ElfFile program, long bias) {
        long[] functions = ElfSymbols.functions(program.bytes());
        for (ElfFile.Segment s : program.segments()) {
            if (s.type() == ElfFile.PT_LOAD && (s.flags() & ElfFile.PF_X) != 0) {
                SyscallSiteScan.scan(program.bytes(), s.offset(), s.vaddr(), s.fileSize(), functions,
                        SyscallNumbers.COUNT, rewriting(space, bias));
            }
        }
    }

    /**
     * A library's code, as the dynamic loader maps it: its ELF file is read again through the
     * host fd the mapping came from, never by path (its symbols: where functions start), and the code this
     * mapping holds in guest memory (what will run, whatever the file holds by now) is decoded from
     * there. A file that is no regular ELF file, a larger one than {@link #MAX_FILE_BYTES} or a
     * mapping larger than {@link #MAX_CODE_BYTES} gives none, and so does every scan after the
     * first {@link #MAX_SCANS}: what the host reads and decodes for a program is bounded.
     */
    @Override
    public void mapped(AddressSpace space, FileDescription file, long offset, long start, long length) {
        if (scans >= MAX_SCANS || length > MAX_CODE_BYTES || length < SyscallTrampoline.SITE_LENGTH) {
            return;
        }
        scans++;
        byte[] bytes = file.readRegular(MAX_FILE_BYTES);
        if (bytes == null) {
            return; // not a regular file, or a larger one: its sites keep their syscall
        }
        try {
            scanMapped(space, ElfFile.of(Path.of(String.valueOf(file.path())), bytes), offset, start, length);
        } catch (RuntimeException e) {
            // Not an ELF file (ElfException), or one no check foresaw: its sites keep their
            // syscall, and the mmap succeeds.
            log.debug("kvmserver: no call sites taken from {}: {}", file.path(), e.toString());
        }
    }

    private void scanMapped(AddressSpace space, ElfFile elf, long offset, long start, long length) {
        long[] functions = ElfSymbols.functions(elf.bytes());
        byte[] code = null;
        for (ElfFile.Segment s : elf.segments()) {
            long from = Math.max(offset, s.offset());
            long to = Math.min(offset + length, s.offset() + s.fileSize());
            if (s.type() != ElfFile.PT_LOAD || (s.flags() & ElfFile.PF_X) == 0 || from >= to || functions.length == 0) {
                continue;
            }
            if (code == null) {
                code = memory.read(start, (int) length);
            }
            // The mapping's bytes [from - offset, to - offset) are the segment's from address
            // s.vaddr() + (from - s.offset()).
            long vaddr = s.vaddr() + (from - s.offset());
            long base = start - offset + s.offset() - s.vaddr(); // guest address = address + base
            SyscallSiteScan.scan(code, from - offset, vaddr, to - from, functions, SyscallNumbers.COUNT,
                    rewriting(space, base));
        }
    }

    /**
     * Rewrites the site at {@code at}, where an instruction provably starts (the scan decoded to
     * it), if it holds a five-byte instruction a trampoline can run and then {@code syscall}, in
     * code that is executable and not writable, and a trampoline fits.
     */
    private void rewrite(AddressSpace space, long at) {
        if (at >= GuestLayout.USER_START && readCode(space, at) && SyscallTrampoline.isRelocatableSite(site, 0)) {
            rewriteAt(space, at);
        }
    }

    /** The sites the entry recorded since the last exit ({@link GuestCallPages#SITES}). */
    void learnRecorded(AddressSpace space) {
        int count = memory.getInt(GuestCallPages.SITE_COUNT);
        if (count == 0) {
            return;
        }
        // The program can write the count: only the slots there are.
        int n = Integer.compareUnsigned(count, GuestCallPages.SITES_MAX) > 0 ? GuestCallPages.SITES_MAX : count;
        for (int i = 0; i < n; i++) {
            long entry = GuestCallPages.SITES + (long) i * GuestCallPages.SITE_SIZE;
            learn(space, memory.getLong(entry), memory.getLong(entry + 8));
        }
        memory.putInt(GuestCallPages.SITE_COUNT, 0);
    }

    /** At the freeze: the entry of every request VM forked from now on records no site. */
    void seal() {
        memory.putInt(GuestCallPages.SITE_COUNT, GuestCallPages.SITES_MAX);
    }

    /** A free trampoline in reach of a site at {@code at}, in an area mapped for it if need be; -1 if none. */
    private long slotNear(AddressSpace space, long at) {
        for (int i = 0; i < areas; i++) {
            if (areaUsed[i] < SLOTS && inReach(areaStart[i], at)) {
                return areaStart[i] + (long) areaUsed[i]++ * SyscallTrampoline.SIZE;
            }
        }
        if (areas == MAX_AREAS) {
            return -1;
        }
        long start = space.findFree(AREA_SIZE);
        if (start < 0 || !inReach(start, at)) {
            start = space.findFreeBetween(AREA_SIZE, Math.max(GuestLayout.USER_START, at - (1L << 30)), at + (1L << 30));
        }
        if (start < 0) {
            return -1;
        }
        try {
            space.map(start, AREA_SIZE, LoadTarget.PROT_READ | LoadTarget.PROT_EXEC, AREA_NAME);
        } catch (SyscallError e) {
            return -1; // past the program's memory or mapping limits: the site keeps its syscall
        }
        memory.fill(start, AREA_SIZE, (byte) 0xcc); // int3: a jump into an unused trampoline traps
        areaStart[areas] = start;
        areaUsed[areas] = 1;
        areas++;
        return start;
    }

    /** Whether every trampoline of the area at {@code area} and the site at {@code at} reach each other. */
    private static boolean inReach(long area, long at) {
        long margin = AREA_SIZE + SyscallTrampoline.SITE_LENGTH;
        return Math.abs(area - at) < SyscallTrampoline.REACH - margin;
    }
}
