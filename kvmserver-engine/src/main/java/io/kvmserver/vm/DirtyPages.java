package io.kvmserver.vm;

import io.kvmserver.memory.GuestMemory;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.kvm.KvmAbi;
import io.kvmserver.kvm.VmFd;
import java.util.Arrays;

/**
 * The pages a request VM changed since its last reset: those KVM saw the guest write and those
 * the host wrote for it (system call results, page-table edits), which KVM cannot see.
 *
 * <p>KVM reports guest writes through the vCPU's dirty ring when the host has one (one entry per
 * newly dirtied page, naming its slot: the cost follows the pages a request touched), or else
 * through each memory slot's dirty bitmap (one bit per page of every exposed chunk, see
 * {@link MemorySlots}). Pages are kept as a list, with a bitmap per chunk (made when the chunk first
 * has a dirty page) only to drop duplicates, so that counting and draining never scan guest memory
 * and a VM whose address range is mostly reservations pays nothing for them.
 *
 * <p>The limit on what one request may dirty ({@code max-request-memory}) holds when pages get
 * dirtied: a host write on the guest's behalf past it throws {@link GuestMemory.LimitExceeded}
 * before it happens, and the vCPU loop {@link #collect() collects} the ring after every exit
 * and stops the run once the count passes the limit. Collecting only reads ring entries; they
 * are handed back to KVM (which write-protects those pages again) when the ring fills up or at
 * the reset, so a page the request rewrites does not fault twice. With the bitmap fallback the
 * guest's writes are only seen at a harvest (a watchdog polls), hence the lock.
 */
final class DirtyPages implements GuestMemory.HostWriteListener {

    private static final int PAGE_SHIFT = 12;
    /** Ring entries per vCPU, at most: a request that dirties more exits to be harvested, and goes on. */
    static final int MAX_RING_ENTRIES = 16384;
    private static final int MIN_RING_ENTRIES = 1024;

    private final VmFd vm;
    private final GuestMemory memory;
    /** log2 of the pages per chunk. */
    private final int chunkPageShift;
    /** Per chunk, one bit per page already in {@link #pages}; null until the chunk has one. */
    private final long[][] seen;
    private long[] pages = new long[1024];
    private int count;
    private final Pointer ring;
    private final int ringEntries;
    /** The next ring entry to read. */
    private long ringIndex;
    /** Ring entries before this one have been handed back to KVM. */
    private long recycledIndex;
    private long limitPages = Long.MAX_VALUE;
    private boolean closed;
    private final long[] scratch;
    private final Memory kvmBitmap;

    /**
     * The ring size for a VM whose requests may dirty {@code limitBytes}: a quarter of the limit
     * in pages (a power of two between 1024 and 16384), so that a guest that dirties memory
     * without making a system call is stopped within a quarter of its limit past it.
     */
    static int ringEntriesFor(long limitBytes) {
        long pages = Math.max(1, (limitBytes >>> PAGE_SHIFT) / 4);
        int entries = Integer.highestOneBit((int) Math.min(pages, MAX_RING_ENTRIES));
        return Math.max(MIN_RING_ENTRIES, entries);
    }

    /**
     * Tracks the VM's writes to {@code memory} through the dirty {@code ring} of its vCPU, or, if
     * null, the bitmaps of its memory slots.
     */
    DirtyPages(VmFd vm, GuestMemory memory, Pointer ring, int ringEntries) {
        this.vm = vm;
        this.memory = memory;
        this.ringEntries = ringEntries;
        this.chunkPageShift = Long.numberOfTrailingZeros(memory.chunkSize()) - PAGE_SHIFT;
        this.seen = new long[memory.chunkCount()][];
        this.ring = ring;
        int chunkWords = (1 << chunkPageShift) / 64;
        this.scratch = ring == null ? new long[chunkWords] : null;
        this.kvmBitmap = ring == null ? new Memory(chunkWords * 8L) : null;
    }

    /** Whether {@code page} is recorded; with {@code mark}, records it. False for a page outside memory. */
    private boolean seen(long page, boolean mark) {
        long chunk = page >>> chunkPageShift;
        if (page < 0 || chunk >= seen.length) {
            return true;
        }
        long[] bits = seen[(int) chunk];
        if (bits == null) {
            if (!mark) {
                return false;
            }
            bits = new long[(1 << chunkPageShift) / 64];
            seen[(int) chunk] = bits;
        }
        int index = (int) (page & ((1 << chunkPageShift) - 1));
        long bit = 1L << (index & 63);
        boolean was = (bits[index >>> 6] & bit) != 0;
        if (mark) {
            bits[index >>> 6] |= bit;
        }
        return was;
    }

    private void add(long page) {
        if (seen(page, true)) {
            return;
        }
        if (count == pages.length) {
            pages = Arrays.copyOf(pages, count * 2);
        }
        pages[count++] = page;
    }

    boolean hasRing() {
        return ring != null;
    }

    /** Sets how many pages may be dirty before {@link #overLimit()} (and host writes fail). */
    synchronized void setLimit(long pages) {
        this.limitPages = pages;
    }

    /**
     * A host write into guest memory: its pages are recorded before the write happens, and a
     * write that would take the count past the limit throws instead, so the engine never
     * allocates memory past the limit for the guest.
     */
    @Override
    public synchronized void written(long address, long length) {
        if (length <= 0) {
            return;
        }
        long first = address >>> PAGE_SHIFT;
        long last = (address + length - 1) >>> PAGE_SHIFT;
        if (count + (last - first + 1) > limitPages) {
            long fresh = newPages(first, last);
            if (fresh > 0 && count + fresh > limitPages) {
                throw new GuestMemory.LimitExceeded(count + fresh, limitPages);
            }
        }
        for (long p = first; p <= last; p++) {
            add(p);
        }
    }

    private long newPages(long first, long last) {
        long fresh = 0;
        for (long p = first; p <= last; p++) {
            if (!seen(p, false)) {
                fresh++;
            }
        }
        return fresh;
    }

    /** Whether more pages are dirty than the limit allows. */
    synchronized boolean overLimit() {
        return count > limitPages;
    }

    /**
     * Reads what the ring logged since the last call, without handing entries back to KVM: cheap
     * enough for every exit (one read when nothing is new). A no-op with the bitmap fallback.
     */
    synchronized void collect() {
        if (closed || ring == null) {
            return;
        }
        while (true) {
            long entry = (ringIndex % ringEntries) * KvmAbi.DIRTY_GFN_SIZE;
            int flags = ring.getInt(entry);
            if ((flags & (KvmAbi.KVM_DIRTY_GFN_F_DIRTY | KvmAbi.KVM_DIRTY_GFN_F_RESET))
                    != KvmAbi.KVM_DIRTY_GFN_F_DIRTY) {
                return;
            }
            // The entry names its slot (the chunk, see MemorySlots) and the page's offset in it.
            int slot = ring.getInt(entry + 4) & 0xffff;
            add(((long) slot << chunkPageShift) + ring.getLong(entry + 8));
            ringIndex++;
        }
    }

    /** Collects everything KVM logged and re-arms its tracking (the ring, or the bitmap). */
    synchronized void harvest() {
        if (closed) {
            return;
        }
        if (ring != null) {
            collect();
            recycle();
        } else {
            harvestBitmap();
        }
    }

    /** Hands every collected ring entry back to KVM, which write-protects those pages again. */
    private void recycle() {
        if (recycledIndex == ringIndex) {
            return;
        }
        for (long i = recycledIndex; i < ringIndex; i++) {
            ring.setInt((i % ringEntries) * KvmAbi.DIRTY_GFN_SIZE, KvmAbi.KVM_DIRTY_GFN_F_RESET);
        }
        recycledIndex = ringIndex;
        vm.resetDirtyRings();
    }

    private void harvestBitmap() {
        for (int chunk : memory.exposedChunks()) {
            try {
                vm.getDirtyLog(chunk, kvmBitmap);
            } catch (io.kvmserver.kvm.KvmException e) {
                continue; // withdrawn by a reset meanwhile (MemorySlots): nothing of it is dirty any more
            }
            kvmBitmap.read(0, scratch, 0, scratch.length);
            long base = (long) chunk << chunkPageShift;
            for (int i = 0; i < scratch.length; i++) {
                long w = scratch[i];
                while (w != 0) {
                    int b = Long.numberOfTrailingZeros(w);
                    w &= w - 1;
                    add(base + ((long) i << 6) + b);
                }
            }
        }
    }

    /** Pages dirty since the last reset, as far as collected; safe from any thread. */
    synchronized long count() {
        return count;
    }

    /** Receives runs of consecutive dirty pages as byte ranges. */
    @FunctionalInterface
    interface RangeConsumer {
        void range(long address, long length);
    }

    /** Hands every dirty range to {@code consumer}, in address order, and forgets them. */
    synchronized long drain(RangeConsumer consumer) {
        Arrays.sort(pages, 0, count);
        int i = 0;
        while (i < count) {
            long start = pages[i];
            long end = start + 1;
            forget(start);
            i++;
            while (i < count && pages[i] == end) {
                forget(end);
                end++;
                i++;
            }
            consumer.range(start << PAGE_SHIFT, (end - start) << PAGE_SHIFT);
        }
        long drained = count;
        count = 0;
        return drained;
    }

    private void forget(long page) {
        int index = (int) (page & ((1 << chunkPageShift) - 1));
        seen[(int) (page >>> chunkPageShift)][index >>> 6] &= ~(1L << (index & 63));
    }

    /** Stops all tracking; later calls from any thread do nothing (the ring may be unmapped next). */
    synchronized void close() {
        closed = true;
        if (kvmBitmap != null) {
            kvmBitmap.close();
        }
    }
}
