package io.kvmserver.elf;

import io.kvmserver.config.Option;
import io.kvmserver.x86.GuestLayout;
import java.util.List;

/**
 * Loads an executable, and its dynamic loader when it has one, into a fresh address space, as the
 * Linux kernel's {@code execve} does: the program at its own addresses (or at
 * {@link #PIE_BASE} when position-independent), the loader where {@code mmap} would put it.
 */
public final class ElfLoader {

    /** Where position-independent executables go: low, so that small address spaces fit. */
    public static final long PIE_BASE = 0x40_0000L;

    private ElfLoader() {
    }

    public static LoadedProgram load(LoadTarget memory, ElfFile program, ElfFile interpreter) {
        long bias = program.isPositionIndependent() ? PIE_BASE - program.lowAddress() : 0;
        long low = program.lowAddress() + bias;
        long high = pageUp(program.highAddress() + bias);
        if (low < GuestLayout.USER_START) {
            throw new ElfException("program " + program.path() + " wants addresses from 0x" + Long.toHexString(low)
                    + ", below 0x" + Long.toHexString(GuestLayout.USER_START) + ", where no program may map (Linux's"
                    + " vm.mmap_min_addr; the engine keeps its own pages there): link it at a higher address, or"
                    + " position-independent");
        }
        if (!memory.isFree(low, high - low)) {
            throw new ElfException("program " + program.path() + " wants addresses 0x" + Long.toHexString(low)
                    + "-0x" + Long.toHexString(high) + ", outside the guest's " + (memory.limit() >> 20)
                    + " MiB address space", List.of(Option.MAX_ADDRESS_SPACE));
        }
        mapSegments(memory, program, bias);
        long interpreterBase = 0;
        long entry = program.entry() + bias;
        if (interpreter != null) {
            long span = pageUp(interpreter.highAddress()) - interpreter.lowAddress();
            long base = memory.findFree(span);
            if (base < 0) {
                throw new ElfException("no room for the dynamic loader " + interpreter.path()
                        + " in the guest address space", List.of(Option.MAX_ADDRESS_SPACE));
            }
            long interpBias = base - interpreter.lowAddress();
            mapSegments(memory, interpreter, interpBias);
            interpreterBase = base;
            entry = interpreter.entry() + interpBias;
        }
        return new LoadedProgram(entry, program.entry() + bias, programHeaderAddress(program) + bias,
                program.programHeaderCount(), interpreterBase, program.highAddress() + bias);
    }

    private static void mapSegments(LoadTarget memory, ElfFile elf, long bias) {
        long previousEnd = 0;
        int previousProt = 0;
        for (ElfFile.Segment s : elf.segments()) {
            if (s.type() != ElfFile.PT_LOAD || s.memSize() == 0) {
                continue;
            }
            long start = pageDown(s.vaddr() + bias);
            long end = pageUp(s.vaddr() + bias + s.memSize());
            int prot = protection(s.flags()) | LoadTarget.FILE_BACKED;
            String name = elf.path().toString();
            boolean mapped = memory.tryMap(start, end - start, prot, name);
            if (mapped && start < previousEnd) {
                // Two segments share a page: it needs the permissions of both.
                mapped = memory.tryMap(start, Math.min(previousEnd, end) - start, prot | previousProt, name);
            }
            if (!mapped) {
                throw new ElfException("program " + elf.path() + " does not fit in the guest address space"
                        + " (segment at 0x" + Long.toHexString(start) + ")",
                        List.of(Option.MAX_MAIN_MEMORY, Option.MAX_ADDRESS_SPACE));
            }
            previousEnd = end;
            previousProt = prot;
        }
        // Copy contents only once every page is mapped: mapping zeroes what it replaces.
        for (ElfFile.Segment s : elf.segments()) {
            if (s.type() == ElfFile.PT_LOAD && s.fileSize() > 0) {
                memory.load(s.vaddr() + bias, elf.bytes(), (int) s.offset(), (int) s.fileSize());
            }
        }
    }

    private static long pageUp(long value) {
        return (value + GuestLayout.PAGE_SIZE - 1) & -GuestLayout.PAGE_SIZE;
    }

    private static long pageDown(long value) {
        return value & -GuestLayout.PAGE_SIZE;
    }

    private static int protection(int flags) {
        int prot = 0;
        if ((flags & ElfFile.PF_R) != 0) {
            prot |= LoadTarget.PROT_READ;
        }
        if ((flags & ElfFile.PF_W) != 0) {
            prot |= LoadTarget.PROT_WRITE;
        }
        if ((flags & ElfFile.PF_X) != 0) {
            prot |= LoadTarget.PROT_EXEC;
        }
        return prot;
    }

    /** The unrelocated address of the program headers: from PT_PHDR, or the segment holding them. */
    private static long programHeaderAddress(ElfFile elf) {
        for (ElfFile.Segment s : elf.segments()) {
            if (s.type() == ElfFile.PT_PHDR) {
                return s.vaddr();
            }
        }
        long phoff = elf.programHeaderOffset();
        for (ElfFile.Segment s : elf.segments()) {
            if (s.type() == ElfFile.PT_LOAD && phoff >= s.offset() && phoff < s.offset() + s.fileSize()) {
                return s.vaddr() + (phoff - s.offset());
            }
        }
        throw new ElfException("program " + elf.path() + " does not load its own program headers");
    }
}
