package io.kvmserver.vm;

import io.kvmserver.memory.GuestMemory;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.kvm.KvmAbi;
import io.kvmserver.kvm.VmFd;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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
 *
 * <p><b>Hot pages.</b> Pages the guest rewrites in every request stay writable across resets
 * ({@link HotPageSet}, which keeps the invariant the reset relies on: a page the guest can write
 * without KVM logging it is hot). This class feeds it what the ring reports, hands hot pages'
 * entries back to KVM without their slot, and counts hot pages as dirty in every request.
 */
final class DirtyPages implements GuestMemory.HostWriteListener {

    private static final int PAGE_SHIFT = 12;
    /** Ring entries per vCPU, at most: a request that dirties more exits to be harvested, and goes on. */
    static final int MAX_RING_ENTRIES = 16384;
    private static final int MIN_RING_ENTRIES = 1024;
    /** A slot number KVM never has ({@code KVM_USER_MEM_SLOTS} is 32764): it skips such entries. */
    private static final int NO_SLOT = 0xffff;

    private final VmFd vm;
    private final GuestMemory memory;
    /** log2 of the pages per chunk. */
    private final int chunkPageShift;
    /** The pages already in {@link #pages} or hot. */
    private final PageBitmap seen;
    /** Pages dirtied in this request, hot pages aside, in the order they were seen. */
    private long[] pages = new long[1024];
    private int listed;
    /** Dirty pages in all: the listed ones and the hot ones. */
    private int count;
    private final ByteBuffer ring;
    private final int ringEntries;
    /** The next ring entry to read. */
    private long ringIndex;
    /** Ring entries before this one have been handed back to KVM. */
    private long recycledIndex;
    private long limitPages = Long.MAX_VALUE;
    private boolean closed;
    private final long[] scratch;
    private final Memory kvmBitmap;
    /** Hot pages (with the ring only; empty otherwise). */
    private final HotPageSet hot;

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
        this.seen = new PageBitmap(memory.chunkCount(), chunkPageShift);
        this.ring = ring == null ? null
                : ring.getByteBuffer(0, (long) ringEntries * KvmAbi.DIRTY_GFN_SIZE).order(ByteOrder.nativeOrder());
        int chunkWords = (1 << chunkPageShift) / 64;
        this.scratch = ring == null ? new long[chunkWords] : null;
        this.kvmBitmap = ring == null ? new Memory(chunkWords * 8L) : null;
        this.hot = new HotPageSet(memory.chunkCount(), chunkPageShift, seen);
    }

    /** Records {@code page} unless it is recorded already, or outside memory. */
    private void add(long page) {
        if (!seen.covers(page) || seen.add(page)) {
            return;
        }
        if (listed == pages.length) {
            pages = Arrays.copyOf(pages, listed * 2);
        }
        pages[listed++] = page;
        count++;
    }

    boolean hasRing() {
        return ring != null;
    }

    /**
     * Sets how many pages may be dirty before {@link #overLimit()} (and host writes fail), and
     * lets pages in {@code [firstHot, endHot)} become hot (with the ring only).
     */
    synchronized void setLimit(long pages, long firstHot, long endHot) {
        this.limitPages = pages;
        if (ring != null) {
            hot.configure(pages, firstHot, endHot);
        }
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
            if (seen.covers(p) && !seen.contains(p)) {
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
            int entry = (int) (ringIndex % ringEntries) * KvmAbi.DIRTY_GFN_SIZE;
            int flags = ring.getInt(entry);
            if ((flags & (KvmAbi.KVM_DIRTY_GFN_F_DIRTY | KvmAbi.KVM_DIRTY_GFN_F_RESET))
                    != KvmAbi.KVM_DIRTY_GFN_F_DIRTY) {
                return;
            }
            // KVM publishes the flags last: the slot and offset must not be read before them.
            VarHandle.acquireFence();
            long page = entryPage(entry);
            add(page);
            hot.reported(page);
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

    /**
     * The harvest of a reset: collects the ring, makes hot the pages the guest wrote in this
     * request and in the one before ({@code learn}), and hands the entries back to KVM, which
     * write-protects every page again except the hot ones.
     */
    synchronized void harvestForReset(boolean learn) {
        if (closed) {
            return;
        }
        if (ring == null) {
            harvestBitmap();
            return;
        }
        collect();
        if (learn) {
            hot.promote();
        } else {
            hot.forgetReported();
        }
        recycle();
    }

    /**
     * The page a ring entry names: its slot is the chunk (slot number = chunk index, see
     * {@link MemorySlots}) and its offset the page within the chunk.
     */
    private long entryPage(int entry) {
        int slot = ring.getInt(entry + 4) & 0xffff;
        return ((long) slot << chunkPageShift) + ring.getLong(entry + 8);
    }

    /**
     * Hands every collected ring entry back to KVM, which write-protects those pages again; a
     * hot page's entry loses its slot first, so that KVM leaves that page writable.
     */
    private void recycle() {
        if (recycledIndex == ringIndex) {
            return;
        }
        for (long i = recycledIndex; i < ringIndex; i++) {
            int entry = (int) (i % ringEntries) * KvmAbi.DIRTY_GFN_SIZE;
            if (hot.contains(entryPage(entry))) {
                ring.putInt(entry + 4, NO_SLOT);
            }
            ring.putInt(entry, KvmAbi.KVM_DIRTY_GFN_F_RESET);
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

    /** Pages dirty since the last reset, as far as collected (hot pages included); safe from any thread. */
    synchronized long count() {
        return count;
    }

    /** Pages hot now. */
    synchronized int hotCount() {
        return hot.count();
    }

    /** Receives runs of consecutive dirty pages as byte ranges. */
    @FunctionalInterface
    interface RangeConsumer {
        void range(long address, long length);
    }

    /**
     * Hands every dirty range but the hot pages to {@code consumer}, in address order, and forgets
     * them; then {@link #restoreHot} must follow. Returns the pages handed over.
     */
    synchronized long drain(RangeConsumer consumer) {
        Arrays.sort(pages, 0, listed);
        int n = listed;
        int i = 0;
        long drained = 0;
        while (i < n) {
            long start = pages[i];
            i++;
            if (hot.contains(start)) {
                continue;
            }
            long end = start + 1;
            seen.remove(start);
            while (i < n && pages[i] == end && !hot.contains(end)) {
                seen.remove(end);
                end++;
                i++;
            }
            drained += end - start;
            consumer.range(start << PAGE_SHIFT, (end - start) << PAGE_SHIFT);
        }
        listed = 0;
        count = hot.count();
        return drained;
    }

    /**
     * The reset's part for hot pages ({@link HotPageSet#restore}): the next request starts with
     * every page still hot counted as dirty. Returns the hot pages whose content was restored or
     * discarded.
     */
    synchronized long restoreHot(boolean keep, HotPageSet.PageRestorer memory) {
        long restored = hot.restore(keep, memory);
        count = hot.count();
        return restored;
    }

    /** Stops all tracking; later calls from any thread do nothing (the ring may be unmapped next). */
    synchronized void close() {
        closed = true;
        if (kvmBitmap != null) {
            kvmBitmap.close();
        }
    }
}
