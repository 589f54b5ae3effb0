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
 * <p><b>Hot pages.</b> An interpreter rewrites the same few hundred pages in every request; each
 * would cost a write-protection fault after every reset (~10-22 µs on nested hosts). A page the
 * guest wrote in two requests in a row becomes <em>hot</em>: when its ring entry is handed back,
 * the entry's slot is made invalid first, and KVM, which skips entries of no slot, leaves the page
 * writable. A hot page is then never reported again, so it is restored at every reset whether
 * the request wrote it or not ({@link #restoreHot}), and counts as dirty in every request: the
 * meters and the limit see it from the request's first instruction. A hot page whose content was
 * the template's at {@link #PROBE_IDLE_RESETS} resets in a row is probed: made cold for one
 * request, its private copy given back ({@link HotPages#discard}: KVM drops its translation of
 * that page alone, and logs its next write); a page the guest wrote is hot again, the others stay cold. The
 * invariant the reset relies on: a page the guest can write without KVM logging it is hot. KVM
 * that did protect such a page anyway would only log its next write (costing the fault again), so
 * nothing depends on KVM honouring the invalid slot beyond speed.
 */
final class DirtyPages implements GuestMemory.HostWriteListener {

    private static final int PAGE_SHIFT = 12;
    /** Ring entries per vCPU, at most: a request that dirties more exits to be harvested, and goes on. */
    static final int MAX_RING_ENTRIES = 16384;
    private static final int MIN_RING_ENTRIES = 1024;
    /**
     * Hot pages per VM, at most (16 MiB), and never more than a sixteenth of the request limit:
     * they count towards it in every request, so a request may be stopped that much earlier.
     */
    static final int MAX_HOT_PAGES = 4096;
    /**
     * Resets in a row at which a hot page held the template's content before it is probed: made
     * cold for one request, to see whether the guest still writes it. Doubles for a page the
     * guest turned out to write (an interpreter's reference counts go up and down within one
     * request and leave the page as it was).
     */
    static final int PROBE_IDLE_RESETS = 64;
    private static final int MAX_PROBE_IDLE_RESETS = 1 << 20;
    /** Resets between two probes, at least: a probe of a page the guest still writes costs a fault. */
    private static final int PROBE_INTERVAL = 4;
    /** A slot number KVM never has ({@code KVM_USER_MEM_SLOTS} is 32764): it skips such entries. */
    private static final int NO_SLOT = 0xffff;

    private final VmFd vm;
    private final GuestMemory memory;
    /** log2 of the pages per chunk. */
    private final int chunkPageShift;
    /** Per chunk, one bit per page already in {@link #pages} or hot; null until the chunk has one. */
    private final long[][] seen;
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

    // ---- hot pages (with the ring only) ----
    /** Per chunk, one bit per hot page; null until the chunk has one. */
    private final long[][] hot;
    private long[] hotList = new long[0];
    /** Per hot page: resets in a row it held the template's content, and how many make it a probe. */
    private int[] hotIdle = new int[0];
    private int[] hotProbeAfter = new int[0];
    private int hotCount;
    /** The page being probed in this request (-1: none), and its threshold if it stays hot. */
    private long probePage = -1;
    private int probeAgainAfter;
    private int resetsSinceProbe;
    private int hotLimit;
    /** Pages that may become hot: the program's own range, never the engine's (time page, page tables). */
    private long hotFirst;
    private long hotEnd;
    /** Pages the ring reported in this request (unsorted, may repeat) and, sorted, in the last one. */
    private long[] reported = new long[0];
    private int reportedCount;
    private long[] reportedBefore = new long[0];
    private int reportedBeforeCount;
    private long promotedTotal;
    private long demotedTotal;

    /** Restores a hot page at a reset, and drops the translations of one that goes cold. */
    interface HotPages {
        /** Puts the template's content back at {@code address}; false if it was there already. */
        boolean restore(long address);

        /**
         * Gives the private copy of a page back to the host (it reads as the template's again):
         * KVM drops its translation of that page alone, and logs the next write to it.
         */
        void discard(long address);
    }

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
        this.ring = ring == null ? null
                : ring.getByteBuffer(0, (long) ringEntries * KvmAbi.DIRTY_GFN_SIZE).order(ByteOrder.nativeOrder());
        int chunkWords = (1 << chunkPageShift) / 64;
        this.scratch = ring == null ? new long[chunkWords] : null;
        this.kvmBitmap = ring == null ? new Memory(chunkWords * 8L) : null;
        this.hot = ring == null ? null : new long[memory.chunkCount()][];
    }

    /** Whether {@code page} is recorded; with {@code mark}, records it. True for a page outside memory. */
    private boolean seen(long page, boolean mark) {
        return page < 0 || (page >>> chunkPageShift) >= seen.length || testBit(seen, page, mark);
    }

    /**
     * Whether {@code page}'s bit is set in a map of per-chunk bitmaps (each made when its chunk
     * first has a bit set); with {@code mark}, sets it. {@code page} must be inside memory.
     */
    private boolean testBit(long[][] map, long page, boolean mark) {
        int chunk = (int) (page >>> chunkPageShift);
        long[] bits = map[chunk];
        if (bits == null) {
            if (!mark) {
                return false;
            }
            bits = new long[(1 << chunkPageShift) / 64];
            map[chunk] = bits;
        }
        int index = (int) (page & ((1 << chunkPageShift) - 1));
        long bit = 1L << (index & 63);
        boolean was = (bits[index >>> 6] & bit) != 0;
        if (mark) {
            bits[index >>> 6] |= bit;
        }
        return was;
    }

    private void clearBit(long[][] map, long page) {
        long[] bits = map[(int) (page >>> chunkPageShift)];
        if (bits != null) {
            int index = (int) (page & ((1 << chunkPageShift) - 1));
            bits[index >>> 6] &= ~(1L << (index & 63));
        }
    }

    private void add(long page) {
        if (seen(page, true)) {
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
            this.hotLimit = (int) Math.min(MAX_HOT_PAGES, pages / 16);
            this.hotFirst = firstHot >>> PAGE_SHIFT;
            this.hotEnd = endHot >>> PAGE_SHIFT;
            this.hotList = new long[hotLimit];
            this.hotIdle = new int[hotLimit];
            this.hotProbeAfter = new int[hotLimit];
            this.reported = new long[2 * hotLimit];
            this.reportedBefore = new long[2 * hotLimit];
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
            if (reportedCount < reported.length && page >= hotFirst && page < hotEnd) {
                reported[reportedCount++] = page;
            }
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
            promote();
        } else {
            reportedCount = 0;
        }
        recycle();
    }

    /**
     * Makes hot each page the ring reported in this request and in the one before, and settles
     * the probe of the request: a probed page the guest wrote is hot again at once.
     */
    private void promote() {
        Arrays.sort(reported, 0, reportedCount);
        int unique = 0;
        for (int i = 0; i < reportedCount; i++) {
            long page = reported[i];
            if (unique > 0 && reported[unique - 1] == page) {
                continue;
            }
            reported[unique++] = page;
            if (page == probePage) {
                makeHot(page, probeAgainAfter);
                probePage = -1;
            } else if (!isHot(page) && Arrays.binarySearch(reportedBefore, 0, reportedBeforeCount, page) >= 0) {
                makeHot(page, PROBE_IDLE_RESETS);
            }
        }
        if (probePage >= 0) {
            demotedTotal++; // the guest left it alone for a whole request: it stays cold
            probePage = -1;
        }
        long[] before = reportedBefore;
        reportedBefore = reported;
        reportedBeforeCount = unique;
        reported = before;
        reportedCount = 0;
    }

    private void makeHot(long page, int probeAfter) {
        if (hotCount == hotLimit) {
            return;
        }
        testBit(hot, page, true);
        hotList[hotCount] = page;
        hotIdle[hotCount] = 0;
        hotProbeAfter[hotCount] = probeAfter;
        hotCount++;
        promotedTotal++;
    }

    private boolean isHot(long page) {
        return hotCount > 0 && page >= hotFirst && page < hotEnd && testBit(hot, page, false);
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
            if (isHot(entryPage(entry))) {
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
        return hotCount;
    }

    /** Pages made hot, and gone cold again, since the VM was made. */
    synchronized long promotedTotal() {
        return promotedTotal;
    }

    synchronized long demotedTotal() {
        return demotedTotal;
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
            if (isHot(start)) {
                continue;
            }
            long end = start + 1;
            forget(start);
            while (i < n && pages[i] == end && !isHot(end)) {
                forget(end);
                end++;
                i++;
            }
            drained += end - start;
            consumer.range(start << PAGE_SHIFT, (end - start) << PAGE_SHIFT);
        }
        listed = 0;
        count = hotCount;
        return drained;
    }

    /**
     * The reset's part for hot pages: each is restored (with {@code keep}) or discarded, and the
     * next request starts with all of them counted as dirty. Without {@code keep} there are no
     * hot pages any more: a discarded page's translations are gone, so KVM logs its next write.
     * The hot page that held the template's content for the most resets past its threshold is
     * probed: cold for the next request, its translations dropped so that KVM logs a write to it
     * ({@link #promote} settles it). Returns the hot pages whose content was restored or discarded.
     */
    synchronized long restoreHot(boolean keep, HotPages memory) {
        long restored = 0;
        int probe = -1;
        int i = 0;
        while (i < hotCount) {
            long page = hotList[i];
            long address = page << PAGE_SHIFT;
            if (!keep) {
                memory.discard(address);
                restored++;
                forgetHot(i, page);
                continue;
            }
            if (memory.restore(address)) {
                hotIdle[i] = 0;
                restored++;
            } else if (hotIdle[i] < MAX_PROBE_IDLE_RESETS) {
                hotIdle[i]++;
            }
            if (hotIdle[i] >= hotProbeAfter[i]
                    && (probe < 0 || hotIdle[i] - hotProbeAfter[i] > hotIdle[probe] - hotProbeAfter[probe])) {
                probe = i;
            }
            i++;
        }
        if (probe >= 0 && probePage < 0 && ++resetsSinceProbe >= PROBE_INTERVAL) {
            resetsSinceProbe = 0;
            long page = hotList[probe];
            probePage = page;
            probeAgainAfter = Math.min(MAX_PROBE_IDLE_RESETS, hotProbeAfter[probe] * 2);
            forgetHot(probe, page);
            memory.discard(page << PAGE_SHIFT);
        }
        count = hotCount;
        return restored;
    }

    /** Takes the hot page at {@code index} out of the hot set (the last one takes its place). */
    private void forgetHot(int index, long page) {
        clearBit(hot, page);
        forget(page);
        hotCount--;
        hotList[index] = hotList[hotCount];
        hotIdle[index] = hotIdle[hotCount];
        hotProbeAfter[index] = hotProbeAfter[hotCount];
    }

    private void forget(long page) {
        clearBit(seen, page);
    }

    /** Stops all tracking; later calls from any thread do nothing (the ring may be unmapped next). */
    synchronized void close() {
        closed = true;
        if (kvmBitmap != null) {
            kvmBitmap.close();
        }
    }
}
