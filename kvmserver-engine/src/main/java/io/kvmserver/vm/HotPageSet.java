package io.kvmserver.vm;

import java.util.Arrays;

/**
 * The hot pages of a request VM: pages KVM leaves writable across resets, so that a request does
 * not take a write-protection fault on each page an interpreter rewrites in every request (~10-22
 * µs each on nested hosts). Kept apart from {@link DirtyPages}, which harvests KVM's log, because
 * this is a policy of its own (which pages become hot, which are probed and go cold) with its own
 * invariant: <b>a page the guest can write without KVM logging it is hot</b>, and every hot page
 * is restored at every reset, whether the request wrote it or not.
 *
 * <p>A page the ring reported in two requests in a row becomes hot ({@link #promote}); when its
 * ring entry is handed back, {@link DirtyPages} makes the entry's slot invalid first, and KVM,
 * which skips entries of no slot, leaves the page writable. A hot page is never reported again,
 * so it counts as dirty in every request (the meters and {@code max-request-memory} see it from
 * the request's first instruction), and {@link #restore} puts each one back at every reset (a
 * page the last reset found changed is copied without a compare, and compared again at one reset
 * in {@link #COMPARE_CHANGED_EVERY}). A hot
 * page whose content was the template's at {@link #PROBE_IDLE_RESETS} resets in a row is probed:
 * made cold for one request, its private copy given back ({@link PageRestorer#discard}: KVM drops
 * its translation of that page alone, and logs its next write); a page the guest wrote is hot
 * again, the others stay cold. KVM that did protect a hot page anyway would only log its next
 * write (costing the fault again), so nothing depends on KVM honouring the invalid slot beyond
 * speed.
 *
 * <p>Hot pages exist only with the dirty ring; without {@link #configure} the set stays empty.
 * Not thread-safe: {@link DirtyPages} calls it under its lock, and allocates nothing here after
 * {@link #configure}.
 */
final class HotPageSet {

    private static final int PAGE_SHIFT = 12;
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
    /**
     * A hot page the last reset found changed is copied back without a compare, except at one
     * reset in this many (staggered over the pages), where the compare tells whether it has gone
     * idle. Such a page is usually changed again, and the compare, which stops at the first
     * difference, read half a page of each side on average for nothing: the memcmp was 7% of a
     * python3 request's CPU (410 hot pages, 286 of them changed at each reset).
     */
    static final int COMPARE_CHANGED_EVERY = 8;

    /** Restores a hot page at a reset, and drops the translations of one that goes cold. */
    interface PageRestorer {
        /** Puts the template's content back at {@code address}; false if it was there already. */
        boolean restore(long address);

        /** Puts the template's content back at {@code address}, without looking first. */
        void copy(long address);

        /**
         * Gives the private copy of a page back to the host (it reads as the template's again):
         * KVM drops its translation of that page alone, and logs the next write to it.
         */
        void discard(long address);
    }

    private final PageBitmap hot;
    /**
     * {@link DirtyPages}' record of the pages it has seen, hot ones included: a page that leaves
     * the hot set must leave it too, or KVM's next report of it would be taken for a duplicate.
     */
    private final PageBitmap seen;
    private long[] list = new long[0];
    /** Per hot page: resets in a row it held the template's content, and how many make it a probe. */
    private int[] idle = new int[0];
    private int[] probeAfter = new int[0];
    private int count;
    /** The page being probed in this request (-1: none), and its threshold if it stays hot. */
    private long probePage = -1;
    private int probeAgainAfter;
    private int resetsSinceProbe;
    /** Resets so far, to stagger the compares of changed pages ({@link #COMPARE_CHANGED_EVERY}). */
    private int resets;
    private int limit;
    /** Pages that may become hot: the program's own range, never the engine's (time page, page tables). */
    private long first;
    private long end;
    /** Pages the ring reported in this request (unsorted, may repeat) and, sorted, in the last one. */
    private long[] reported = new long[0];
    private int reportedCount;
    private long[] reportedBefore = new long[0];
    private int reportedBeforeCount;

    HotPageSet(int chunkCount, int chunkPageShift, PageBitmap seen) {
        this.hot = new PageBitmap(chunkCount, chunkPageShift);
        this.seen = seen;
    }

    /**
     * Lets pages in {@code [firstAddress, endAddress)} become hot, at most a sixteenth of
     * {@code limitPages}, the pages a request may dirty.
     */
    void configure(long limitPages, long firstAddress, long endAddress) {
        this.limit = (int) Math.min(MAX_HOT_PAGES, limitPages / 16);
        this.first = firstAddress >>> PAGE_SHIFT;
        this.end = endAddress >>> PAGE_SHIFT;
        this.list = new long[limit];
        this.idle = new int[limit];
        this.probeAfter = new int[limit];
        this.reported = new long[2 * limit];
        this.reportedBefore = new long[2 * limit];
    }

    /** KVM's ring reported {@code page} in this request: a candidate for {@link #promote}. */
    void reported(long page) {
        if (reportedCount < reported.length && page >= first && page < end) {
            reported[reportedCount++] = page;
        }
    }

    /** Forgets what this request reported, so that it makes no page hot. */
    void forgetReported() {
        reportedCount = 0;
    }

    /**
     * Makes hot each page the ring reported in this request and in the one before, and settles
     * the probe of the request: a probed page the guest wrote is hot again at once.
     */
    void promote() {
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
            } else if (!contains(page) && Arrays.binarySearch(reportedBefore, 0, reportedBeforeCount, page) >= 0) {
                makeHot(page, PROBE_IDLE_RESETS);
            }
        }
        probePage = -1; // settled: a probed page the guest left alone for a whole request stays cold
        long[] before = reportedBefore;
        reportedBefore = reported;
        reportedBeforeCount = unique;
        reported = before;
        reportedCount = 0;
    }

    private void makeHot(long page, int idleResetsToProbe) {
        if (count == limit) {
            return;
        }
        hot.add(page);
        list[count] = page;
        idle[count] = 0;
        probeAfter[count] = idleResetsToProbe;
        count++;
    }

    /** Whether {@code page} is hot: KVM does not log its writes. */
    boolean contains(long page) {
        return count > 0 && page >= first && page < end && hot.contains(page);
    }

    /** Pages hot now. */
    int count() {
        return count;
    }

    /**
     * The reset's part for hot pages: each is restored (with {@code keep}) or discarded. Without
     * {@code keep} there are no hot pages any more: a discarded page's translations are gone, so
     * KVM logs its next write. The hot page that held the template's content for the most resets
     * past its threshold is probed: cold for the next request, its translations dropped so that
     * KVM logs a write to it ({@link #promote} settles it). Returns the hot pages whose content
     * was restored or discarded.
     */
    long restore(boolean keep, PageRestorer memory) {
        resets++;
        long restored = 0;
        int probe = -1;
        int i = 0;
        while (i < count) {
            long page = list[i];
            long address = page << PAGE_SHIFT;
            if (!keep) {
                memory.discard(address);
                restored++;
                remove(i, page);
                continue;
            }
            if (idle[i] == 0 && (resets + i) % COMPARE_CHANGED_EVERY != 0) {
                memory.copy(address);
                restored++;
            } else if (memory.restore(address)) {
                idle[i] = 0;
                restored++;
            } else if (idle[i] < MAX_PROBE_IDLE_RESETS) {
                idle[i]++;
            }
            if (idle[i] >= probeAfter[i]
                    && (probe < 0 || idle[i] - probeAfter[i] > idle[probe] - probeAfter[probe])) {
                probe = i;
            }
            i++;
        }
        if (probe >= 0 && probePage < 0 && ++resetsSinceProbe >= PROBE_INTERVAL) {
            resetsSinceProbe = 0;
            long page = list[probe];
            probePage = page;
            probeAgainAfter = Math.min(MAX_PROBE_IDLE_RESETS, probeAfter[probe] * 2);
            remove(probe, page);
            memory.discard(page << PAGE_SHIFT);
        }
        return restored;
    }

    /** Takes the hot page at {@code index} out of the set (the last one takes its place). */
    private void remove(int index, long page) {
        hot.remove(page);
        seen.remove(page);
        count--;
        list[index] = list[count];
        idle[index] = idle[count];
        probeAfter[index] = probeAfter[count];
    }
}
