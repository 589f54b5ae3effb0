package io.kvmserver.elf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The functions an ELF file's symbol tables name ({@code .symtab} and {@code .dynsym}): where each
 * starts and how long it is. A function's start is where an instruction starts, which is what a
 * sweep of its code needs ({@code SyscallSiteScan}). Any file may be read here (a library a
 * program maps), so every offset and count is checked, and a malformed table gives nothing.
 */
public final class ElfSymbols {

    private ElfSymbols() {
    }

    private static final int SHT_SYMTAB = 2;
    private static final int SHT_DYNSYM = 11;
    private static final int STT_FUNC = 2;
    private static final int SECTION_HEADER_SIZE = 64;
    private static final int SYMBOL_SIZE = 24;
    /**
     * The most functions read from one file: far more than any library has (glibc ~3,000, a large
     * static program ~100,000), and a bound on what a crafted file (many symbol tables, each the
     * whole file) makes the host allocate.
     */
    public static final int MAX_FUNCTIONS = 1 << 18;

    /**
     * The defined functions of {@code elf} with a size, as {start, size} pairs sorted by start,
     * each start once (aliases share it); empty when it has no symbol table or a malformed one.
     */
    public static long[] functions(byte[] elf) {
        if (elf.length < 64) {
            return new long[0];
        }
        ByteBuffer b = ByteBuffer.wrap(elf).order(ByteOrder.LITTLE_ENDIAN);
        long sectionHeaders = b.getLong(0x28);
        int entrySize = Short.toUnsignedInt(b.getShort(0x3a));
        int count = Short.toUnsignedInt(b.getShort(0x3c));
        if (entrySize != SECTION_HEADER_SIZE || sectionHeaders <= 0
                || sectionHeaders > elf.length - (long) count * SECTION_HEADER_SIZE) {
            return new long[0];
        }
        long[] found = new long[0];
        int n = 0;
        boolean symtab = false;
        boolean dynsym = false;
        for (int i = 0; i < count; i++) {
            int header = (int) sectionHeaders + i * SECTION_HEADER_SIZE;
            int type = b.getInt(header + 4);
            // One table of each kind, as a linker writes them.
            if (type == SHT_SYMTAB && !symtab) {
                symtab = true;
            } else if (type == SHT_DYNSYM && !dynsym) {
                dynsym = true;
            } else {
                continue;
            }
            long offset = b.getLong(header + 24);
            long size = b.getLong(header + 32);
            if (offset < 0 || size < 0 || offset > elf.length || size > elf.length - offset) {
                return new long[0];
            }
            int symbols = (int) Math.min(size / SYMBOL_SIZE, MAX_FUNCTIONS - n);
            found = Arrays.copyOf(found, 2 * (n + symbols));
            for (int s = 0; s < symbols; s++) {
                int symbol = (int) offset + s * SYMBOL_SIZE;
                int info = elf[symbol + 4] & 0xff;
                int section = Short.toUnsignedInt(b.getShort(symbol + 6));
                long value = b.getLong(symbol + 8);
                long length = b.getLong(symbol + 16);
                if ((info & 0xf) == STT_FUNC && section != 0 && length > 0 && value > 0) {
                    found[2 * n] = value;
                    found[2 * n + 1] = length;
                    n++;
                }
            }
        }
        return sortedUnique(found, n);
    }

    private static long[] sortedUnique(long[] pairs, int n) {
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Long.compareUnsigned(pairs[2 * a], pairs[2 * b]));
        long[] out = new long[2 * n];
        int m = 0;
        for (int i : order) {
            if (m > 0 && out[2 * (m - 1)] == pairs[2 * i]) {
                continue;
            }
            out[2 * m] = pairs[2 * i];
            out[2 * m + 1] = pairs[2 * i + 1];
            m++;
        }
        return Arrays.copyOf(out, 2 * m);
    }
}
