package io.kvmserver.vm;

/**
 * A set of guest pages as one bit per page, in a bitmap per memory chunk made when the chunk first
 * has a page in the set: a VM whose address range is mostly reservations pays nothing for them
 * (see {@link MemorySlots}). Shared by {@link DirtyPages} and {@link HotPageSet}, which both key
 * pages this way. Not thread-safe: its owner's lock guards it.
 */
final class PageBitmap {

    /** log2 of the pages per chunk. */
    private final int chunkPageShift;
    private final long[][] chunks;

    PageBitmap(int chunkCount, int chunkPageShift) {
        this.chunkPageShift = chunkPageShift;
        this.chunks = new long[chunkCount][];
    }

    /** Whether {@code page} lies inside the memory this map covers. */
    boolean covers(long page) {
        return page >= 0 && (page >>> chunkPageShift) < chunks.length;
    }

    /** Whether {@code page}, which must be covered, is in the set. */
    boolean contains(long page) {
        return test(page, false);
    }

    /** Puts {@code page}, which must be covered, in the set; whether it was there already. */
    boolean add(long page) {
        return test(page, true);
    }

    private boolean test(long page, boolean mark) {
        int chunk = (int) (page >>> chunkPageShift);
        long[] bits = chunks[chunk];
        if (bits == null) {
            if (!mark) {
                return false;
            }
            bits = new long[(1 << chunkPageShift) / 64];
            chunks[chunk] = bits;
        }
        int index = (int) (page & ((1 << chunkPageShift) - 1));
        long bit = 1L << (index & 63);
        boolean was = (bits[index >>> 6] & bit) != 0;
        if (mark) {
            bits[index >>> 6] |= bit;
        }
        return was;
    }

    /** Takes {@code page}, which must be covered, out of the set. */
    void remove(long page) {
        long[] bits = chunks[(int) (page >>> chunkPageShift)];
        if (bits != null) {
            int index = (int) (page & ((1 << chunkPageShift) - 1));
            bits[index >>> 6] &= ~(1L << (index & 63));
        }
    }
}
