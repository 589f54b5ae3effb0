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
 * newly dirtied page: the cost follows the pages a request touched), or else through the memory
 * slot's dirty bitmap (one bit per page of the whole slot: the cost follows guest memory size).
 * Pages are kept as a list, with a bitmap only to drop duplicates, so that counting and draining
 * never scan guest memory.
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
    private final long[] seen;
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

    /** Tracks through the dirty {@code ring} of the VM's vCPU, or, if null, the slot's bitmap. */
    DirtyPages(VmFd vm, long memorySize, Pointer ring, int ringEntries) {
        this.vm = vm;
        this.ringEntries = ringEntries;
        long totalPages = memorySize >>> PAGE_SHIFT;
        int words = (int) ((totalPages + 63) / 64);
        this.seen = new long[words];
        this.ring = ring;
        this.scratch = ring == null ? new long[words] : null;
        this.kvmBitmap = ring == null ? new Memory(words * 8L) : null;
    }

    private void add(long page) {
        int word = (int) (page >>> 6);
        long bit = 1L << (page & 63);
        if (word < 0 || word >= seen.length || (seen[word] & bit) != 0) {
            return;
        }
        seen[word] |= bit;
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
            int word = (int) (p >>> 6);
            if (word >= 0 && word < seen.length && (seen[word] & (1L << (p & 63))) == 0) {
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
            add(ring.getLong(entry + 8));
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
        vm.getDirtyLog(0, kvmBitmap);
        kvmBitmap.read(0, scratch, 0, scratch.length);
        for (int i = 0; i < scratch.length; i++) {
            long w = scratch[i];
            while (w != 0) {
                int b = Long.numberOfTrailingZeros(w);
                w &= w - 1;
                add(((long) i << 6) + b);
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
            seen[(int) (start >>> 6)] &= ~(1L << (start & 63));
            i++;
            while (i < count && pages[i] == end) {
                seen[(int) (end >>> 6)] &= ~(1L << (end & 63));
                end++;
                i++;
            }
            consumer.range(start << PAGE_SHIFT, (end - start) << PAGE_SHIFT);
        }
        long drained = count;
        count = 0;
        return drained;
    }

    /** Stops all tracking; later calls from any thread do nothing (the ring may be unmapped next). */
    synchronized void close() {
        closed = true;
        if (kvmBitmap != null) {
            kvmBitmap.close();
        }
    }
}
