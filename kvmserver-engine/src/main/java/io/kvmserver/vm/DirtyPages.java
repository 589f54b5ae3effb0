package io.kvmserver.vm;

import com.sun.jna.Memory;
import io.kvmserver.kvm.VmFd;

/**
 * The pages a request VM changed since its last reset: those KVM saw the guest write (the dirty
 * log of its memory slot) and those the host wrote for it (system call results, page-table
 * edits), which KVM cannot see. Harvesting can run from a watchdog thread while the vCPU runs,
 * hence the lock.
 */
final class DirtyPages implements GuestMemory.HostWriteListener {

    private static final int PAGE_SHIFT = 12;

    private final VmFd vm;
    private final long[] bits;
    private final long[] scratch;
    private final Memory kvmBitmap;

    DirtyPages(VmFd vm, long memorySize) {
        this.vm = vm;
        long pages = memorySize >>> PAGE_SHIFT;
        int words = (int) ((pages + 63) / 64);
        this.bits = new long[words];
        this.scratch = new long[words];
        this.kvmBitmap = new Memory(words * 8L);
        kvmBitmap.clear();
    }

    @Override
    public synchronized void written(long address, long length) {
        if (length <= 0) {
            return;
        }
        long first = address >>> PAGE_SHIFT;
        long last = (address + length - 1) >>> PAGE_SHIFT;
        for (long p = first; p <= last; p++) {
            bits[(int) (p >>> 6)] |= 1L << (p & 63);
        }
    }

    /** Adds KVM's log since the last harvest (and clears it there). */
    synchronized void harvest() {
        vm.getDirtyLog(0, kvmBitmap);
        kvmBitmap.read(0, scratch, 0, scratch.length);
        for (int i = 0; i < bits.length; i++) {
            bits[i] |= scratch[i];
        }
    }

    synchronized long count() {
        long n = 0;
        for (long w : bits) {
            n += Long.bitCount(w);
        }
        return n;
    }

    /** Receives runs of consecutive dirty pages as byte ranges. */
    @FunctionalInterface
    interface RangeConsumer {
        void range(long address, long length);
    }

    /** Hands every dirty range to {@code consumer} and forgets them; returns the page count. */
    synchronized long drain(RangeConsumer consumer) {
        long pages = 0;
        long runStart = -1;
        long runEnd = -1;
        for (int i = 0; i < bits.length; i++) {
            long w = bits[i];
            if (w == 0) {
                continue;
            }
            bits[i] = 0;
            while (w != 0) {
                int b = Long.numberOfTrailingZeros(w);
                w &= w - 1;
                long page = ((long) i << 6) + b;
                pages++;
                if (page == runEnd) {
                    runEnd++;
                } else {
                    if (runStart >= 0) {
                        consumer.range(runStart << PAGE_SHIFT, (runEnd - runStart) << PAGE_SHIFT);
                    }
                    runStart = page;
                    runEnd = page + 1;
                }
            }
        }
        if (runStart >= 0) {
            consumer.range(runStart << PAGE_SHIFT, (runEnd - runStart) << PAGE_SHIFT);
        }
        return pages;
    }

    void close() {
        kvmBitmap.close();
    }
}
