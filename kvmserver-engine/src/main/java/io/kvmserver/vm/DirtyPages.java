package io.kvmserver.vm;

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
 * never scan guest memory. Harvesting can run from a watchdog thread while the vCPU runs, hence
 * the lock.
 */
final class DirtyPages implements GuestMemory.HostWriteListener {

    private static final int PAGE_SHIFT = 12;
    /** Ring entries per vCPU: a request that dirties more exits to be harvested, and goes on. */
    static final int RING_ENTRIES = 16384;

    private final VmFd vm;
    private final long[] seen;
    private long[] pages = new long[1024];
    private int count;
    private final Pointer ring;
    private long ringIndex;
    private final long[] scratch;
    private final Memory kvmBitmap;

    /** Tracks through the dirty {@code ring} of the VM's vCPU, or, if null, the slot's bitmap. */
    DirtyPages(VmFd vm, long memorySize, Pointer ring) {
        this.vm = vm;
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

    @Override
    public synchronized void written(long address, long length) {
        if (length <= 0) {
            return;
        }
        long last = (address + length - 1) >>> PAGE_SHIFT;
        for (long p = address >>> PAGE_SHIFT; p <= last; p++) {
            add(p);
        }
    }

    /** Collects what KVM logged since the last harvest, and re-arms its tracking. */
    synchronized void harvest() {
        if (ring != null) {
            harvestRing();
        } else {
            harvestBitmap();
        }
    }

    private void harvestRing() {
        boolean any = false;
        while (true) {
            long entry = (ringIndex % RING_ENTRIES) * KvmAbi.DIRTY_GFN_SIZE;
            int flags = ring.getInt(entry);
            if ((flags & (KvmAbi.KVM_DIRTY_GFN_F_DIRTY | KvmAbi.KVM_DIRTY_GFN_F_RESET))
                    != KvmAbi.KVM_DIRTY_GFN_F_DIRTY) {
                break;
            }
            add(ring.getLong(entry + 8));
            ring.setInt(entry, KvmAbi.KVM_DIRTY_GFN_F_RESET);
            ringIndex++;
            any = true;
        }
        if (any) {
            vm.resetDirtyRings();
        }
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

    void close() {
        if (kvmBitmap != null) {
            kvmBitmap.close();
        }
    }
}
