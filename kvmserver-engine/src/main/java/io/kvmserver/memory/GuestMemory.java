package io.kvmserver.memory;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.HostCallException;
import io.kvmserver.host.LibC;
import io.kvmserver.host.StructStat;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Guest physical memory: one {@code memfd} mapped into the host, whose offsets are guest
 * physical addresses.
 *
 * <p>The template maps the memfd {@code MAP_SHARED}; a request VM maps the same memfd
 * {@code MAP_PRIVATE}, so the host kernel gives it copy-on-write pages that the template and
 * other VMs can never see. Both are {@code MAP_NORESERVE}: the host allocates only pages that are
 * touched.
 *
 * <p>Every access is bounds-checked here with overflow-safe arithmetic; whether the guest's
 * <em>page tables</em> allow an access is the address space's business, not this class's. Every
 * host write goes through this class so that a request VM can record the pages the host dirtied
 * (KVM's dirty log only sees the guest's own writes).
 *
 * <p><b>Exposure.</b> The memory spans the program's whole address range (guest virtual equals
 * guest physical), mostly never touched: reservations of many GiB that runtimes make and never use
 * cost nothing here, because the memfd and the host mapping are sparse. What would cost is telling
 * KVM about all of it: KVM keeps metadata for every page of a memory slot (under shadow paging,
 * 8 bytes of reverse map per 4 KiB page, allocated when the slot is created), which measured on the
 * nested PVM host at ~0.25 % of the slot's size in kernel memory and 75-330 ms per VM for one
 * 128 GiB slot. So the memory is exposed to the VM in {@linkplain #chunkSize() chunks}, each a slot
 * of its own, and only once something in it can be reached: {@link #expose} is called for every
 * range the page tables map (and every page-table page), and the VM's {@link ExposureListener}
 * registers the new chunks. A PROT_NONE reservation is never mapped, so it is never exposed.
 */
public final class GuestMemory implements AutoCloseable {

    private final AtomicBoolean closed = new AtomicBoolean();

    private final int memfd;
    private final boolean ownsMemfd;
    private final long size;
    private final long hostBase;
    private final Pointer base;
    /**
     * {@code ByteBuffer} views of the host mapping, one per {@link #VIEW_SHIFT}-sized span, made
     * when first used: the engine's reads and writes of guest memory and the reset's page copies
     * go through them, compiled to plain loads, stores and the JIT's copy loops, where a JNA call
     * per access costs a JNI transition (the reset's page copy: 0.24 µs a page against 0.31-0.57
     * through {@code memcpy}, measured here). Absolute operations only, so that threads share them.
     */
    private final ByteBuffer[] views;
    private HostWriteListener writeListener = HostWriteListener.NONE;
    /** Chunks are {@code 1 << chunkShift} bytes. */
    private final int chunkShift;
    /** One bit per chunk: exposed to the VM. */
    private final long[] exposed;
    /** The reference's exposure, copied here by {@link #trimExposure} at every reset (without allocating). */
    private final long[] trimScratch;
    private ExposureListener exposureListener;

    /** Bytes a view spans: {@code ByteBuffer} indexes are ints. */
    private static final int VIEW_SHIFT = 30;
    /**
     * Views are published with release and read with acquire: a request VM's reset makes the
     * template's views, which other VMs' threads then use, and a buffer seen before its address
     * field was would be an access at the wrong host address.
     */
    private static final VarHandle VIEWS = MethodHandles.arrayElementVarHandle(ByteBuffer[].class);
    private static final long VIEW_MASK = (1L << VIEW_SHIFT) - 1;

    /**
     * The smallest chunk: 64 MiB costs ~170 KiB of KVM metadata and ~0.05 ms to register, so that a
     * small program needs a handful of chunks (its low pages, its mmap area, its stack).
     */
    private static final int MIN_CHUNK_SHIFT = 26;
    /**
     * The most chunks, far below KVM's slot limit ({@code KVM_CAP_NR_MEMSLOTS}: 32764 on x86): a
     * larger memory gets larger chunks.
     */
    private static final int MAX_CHUNKS = 4096;

    /**
     * A host write on the guest's behalf that would take a request past its memory limit: the
     * run is stopped before the write happens.
     */
    public static final class LimitExceeded extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public LimitExceeded(long dirtyPages, long limitPages) {
            super("request dirtied " + dirtyPages + " pages, the limit is " + limitPages, null, false, false);
        }
    }

    /** Told about each chunk of guest memory when it is first exposed to the VM, and when it is withdrawn. */
    public interface ExposureListener {
        /** Chunk {@code index} covers guest physical {@code [address, address + length)}. */
        void exposed(int index, long address, long length);

        /** Chunk {@code index}, exposed before, is no longer reachable by the VM. */
        void withdrawn(int index, long address, long length);
    }

    /** Told about every host write into guest memory, page by page; may refuse it by throwing. */
    @FunctionalInterface
    public interface HostWriteListener {
        HostWriteListener NONE = (address, length) -> { };

        void written(long address, long length);
    }

    private GuestMemory(int memfd, boolean ownsMemfd, long size, int mapFlags, long[] exposed) {
        this.memfd = memfd;
        this.ownsMemfd = ownsMemfd;
        this.size = size;
        this.chunkShift = chunkShiftFor(size);
        long chunks = ((size - 1) >>> chunkShift) + 1;
        this.exposed = exposed != null ? exposed.clone() : new long[(int) ((chunks + 63) >>> 6)];
        this.trimScratch = new long[this.exposed.length];
        try {
            this.hostBase = LibC.mmap(0, size, LibC.PROT_READ | LibC.PROT_WRITE,
                    mapFlags | LibC.MAP_NORESERVE, memfd, 0);
        } catch (LastErrorException e) {
            throw new HostCallException("cannot map " + (size >> 20) + " MiB of guest memory", e.getErrorCode());
        }
        this.base = new Pointer(hostBase);
        this.views = new ByteBuffer[(int) (((size - 1) >>> VIEW_SHIFT) + 1)];
    }

    /**
     * The view holding {@code [address, address + length)}, which {@link #check} has passed, or
     * null when the range crosses from one view into the next (a JNA call does those).
     */
    private ByteBuffer view(long address, long length) {
        int index = (int) (address >>> VIEW_SHIFT);
        if ((address & VIEW_MASK) + length > 1L << VIEW_SHIFT) {
            return null;
        }
        ByteBuffer v = (ByteBuffer) VIEWS.getAcquire(views, index);
        if (v == null) {
            // Two threads may both make one: either is a view of the same bytes.
            long start = (long) index << VIEW_SHIFT;
            v = base.getByteBuffer(start, Math.min(1L << VIEW_SHIFT, size - start)).order(ByteOrder.LITTLE_ENDIAN);
            VIEWS.setRelease(views, index, v);
        }
        return v;
    }

    private static int offset(long address) {
        return (int) (address & VIEW_MASK);
    }

    /** Creates fresh, zeroed guest memory of {@code size} bytes, shared with future forks. */
    public static GuestMemory create(String name, long size) {
        int fd;
        try {
            fd = LibC.memfd_create(name, LibC.MFD_CLOEXEC);
        } catch (LastErrorException e) {
            throw new HostCallException("memfd_create failed", e.getErrorCode());
        }
        try {
            LibC.ftruncate(fd, size);
            return new GuestMemory(fd, true, size, LibC.MAP_SHARED, null);
        } catch (LastErrorException e) {
            LibC.close(fd);
            throw new HostCallException("cannot size guest memory to " + (size >> 20) + " MiB", e.getErrorCode());
        } catch (RuntimeException e) {
            LibC.close(fd);
            throw e;
        }
    }

    /**
     * A private copy-on-write view of this memory, for a request VM, with the chunks this memory
     * exposed so far already exposed (a listener set on it registers them first).
     */
    public GuestMemory forkPrivate() {
        synchronized (this) {
            return new GuestMemory(memfd, false, size, LibC.MAP_PRIVATE, exposed);
        }
    }

    private static int chunkShiftFor(long size) {
        int shift = MIN_CHUNK_SHIFT;
        while (((size - 1) >>> shift) + 1 > MAX_CHUNKS) {
            shift++;
        }
        return shift;
    }

    /** The size of the chunks in which this memory is exposed to the VM: a power of two. */
    public long chunkSize() {
        return 1L << chunkShift;
    }

    /** How many chunks the memory has (the last may be shorter). */
    public int chunkCount() {
        return (int) (((size - 1) >>> chunkShift) + 1);
    }

    /**
     * Makes {@code [address, address + length)} reachable by the VM: every chunk it touches that
     * was not yet exposed is reported to the listener (once the VM has set one).
     */
    public synchronized void expose(long address, long length) {
        check(address, length);
        if (length == 0) {
            return;
        }
        int last = (int) ((address + length - 1) >>> chunkShift);
        for (int chunk = (int) (address >>> chunkShift); chunk <= last; chunk++) {
            long bit = 1L << (chunk & 63);
            if ((exposed[chunk >>> 6] & bit) == 0) {
                if (exposureListener != null) {
                    exposureListener.exposed(chunk, chunkStart(chunk), chunkLength(chunk));
                }
                exposed[chunk >>> 6] |= bit; // only once the VM has the chunk
            }
        }
    }

    /** How many chunks of {@code [address, address + length)} are not exposed yet. */
    public synchronized int unexposedChunks(long address, long length) {
        check(address, length);
        int count = 0;
        if (length > 0) {
            int last = (int) ((address + length - 1) >>> chunkShift);
            for (int chunk = (int) (address >>> chunkShift); chunk <= last; chunk++) {
                count += (exposed[chunk >>> 6] & (1L << (chunk & 63))) == 0 ? 1 : 0;
            }
        }
        return count;
    }

    /** How many chunks are exposed. */
    public synchronized int exposedChunkCount() {
        int count = 0;
        for (long word : exposed) {
            count += Long.bitCount(word);
        }
        return count;
    }

    /**
     * Withdraws every chunk exposed here but not in {@code reference} (the template this private
     * view was forked from), once there are more than {@code keep} of them: a request VM keeps the
     * few chunks its requests keep using, but one request cannot leave it holding many.
     */
    public synchronized void trimExposure(GuestMemory reference, int keep) {
        long[] base = trimScratch;
        synchronized (reference) {
            System.arraycopy(reference.exposed, 0, base, 0, base.length);
        }
        int extra = 0;
        for (int w = 0; w < exposed.length; w++) {
            extra += Long.bitCount(exposed[w] & ~base[w]);
        }
        if (extra <= keep) {
            return;
        }
        for (int w = 0; w < exposed.length; w++) {
            for (long word = exposed[w] & ~base[w]; word != 0; word &= word - 1) {
                int chunk = (w << 6) + Long.numberOfTrailingZeros(word);
                if (exposureListener != null) {
                    exposureListener.withdrawn(chunk, chunkStart(chunk), chunkLength(chunk));
                }
                exposed[w] &= ~(1L << (chunk & 63));
            }
        }
    }

    /** Sets who registers exposed chunks with the VM, and tells it every chunk exposed so far. */
    public synchronized void setExposureListener(ExposureListener listener) {
        this.exposureListener = listener;
        for (int chunk : exposedChunks()) {
            listener.exposed(chunk, chunkStart(chunk), chunkLength(chunk));
        }
    }

    /** The chunks exposed so far, in ascending order. */
    public synchronized int[] exposedChunks() {
        int count = 0;
        for (long word : exposed) {
            count += Long.bitCount(word);
        }
        int[] chunks = new int[count];
        int n = 0;
        for (int w = 0; w < exposed.length; w++) {
            for (long word = exposed[w]; word != 0; word &= word - 1) {
                chunks[n++] = (w << 6) + Long.numberOfTrailingZeros(word);
            }
        }
        return chunks;
    }

    /** Where chunk {@code index} starts. */
    public long chunkStart(int index) {
        return (long) index << chunkShift;
    }

    /** How long chunk {@code index} is (the last one may be shorter than the others). */
    public long chunkLength(int index) {
        return Math.min(chunkSize(), size - chunkStart(index));
    }

    public void setWriteListener(HostWriteListener listener) {
        this.writeListener = listener == null ? HostWriteListener.NONE : listener;
    }

    public long size() {
        return size;
    }

    public long hostBase() {
        return hostBase;
    }

    /** Whether {@code [address, address + length)} lies inside guest memory; overflow-safe. */
    public boolean contains(long address, long length) {
        return address >= 0 && length >= 0 && address <= size && length <= size - address;
    }

    private void check(long address, long length) {
        if (!contains(address, length)) {
            throw new IllegalArgumentException("guest range 0x" + Long.toHexString(address) + "+" + length
                    + " outside guest memory");
        }
    }

    /** The host address of a guest byte, for handing guest buffers to host system calls. */
    public long host(long address, long length) {
        check(address, length);
        return hostBase + address;
    }

    /** Call before a host system call writes into {@code [address, address+length)}. */
    public void willWrite(long address, long length) {
        check(address, length);
        writeListener.written(address, length);
    }

    public long getLong(long address) {
        check(address, 8);
        ByteBuffer v = view(address, 8);
        return v != null ? v.getLong(offset(address)) : base.getLong(address);
    }

    public int getInt(long address) {
        check(address, 4);
        ByteBuffer v = view(address, 4);
        return v != null ? v.getInt(offset(address)) : base.getInt(address);
    }

    public byte getByte(long address) {
        check(address, 1);
        return view(address, 1).get(offset(address));
    }

    public void read(long address, byte[] dest, int offset, int length) {
        check(address, length);
        base.read(address, dest, offset, length);
    }

    /** Reads {@code count} longs in one native copy (a JNA call per long costs more than the copy). */
    public void read(long address, long[] dest, int offset, int count) {
        check(address, count * 8L);
        base.read(address, dest, offset, count);
    }

    public byte[] read(long address, int length) {
        byte[] b = new byte[length];
        read(address, b, 0, length);
        return b;
    }

    public void putLong(long address, long value) {
        willWrite(address, 8);
        ByteBuffer v = view(address, 8);
        if (v != null) {
            v.putLong(offset(address), value);
        } else {
            base.setLong(address, value);
        }
    }

    public void putInt(long address, int value) {
        willWrite(address, 4);
        ByteBuffer v = view(address, 4);
        if (v != null) {
            v.putInt(offset(address), value);
        } else {
            base.setInt(address, value);
        }
    }

    public void putShort(long address, short value) {
        willWrite(address, 2);
        ByteBuffer v = view(address, 2);
        if (v != null) {
            v.putShort(offset(address), value);
        } else {
            base.setShort(address, value);
        }
    }

    public void putByte(long address, byte value) {
        willWrite(address, 1);
        view(address, 1).put(offset(address), value);
    }

    public void write(long address, byte[] src, int offset, int length) {
        willWrite(address, length);
        base.write(address, src, offset, length);
    }

    public void write(long address, byte[] src) {
        write(address, src, 0, src.length);
    }

    public void fill(long address, long length, byte value) {
        willWrite(address, length);
        base.setMemory(address, length, value);
    }

    /** Copies page contents from another memory of the same size (a reset from the template). */
    public void copyFrom(GuestMemory source, long address, long length) {
        check(address, length);
        source.check(address, length);
        copy(source, address, length);
    }

    private void copy(GuestMemory source, long address, long length) {
        ByteBuffer to = view(address, length);
        ByteBuffer from = source.view(address, length);
        if (to != null && from != null) {
            to.put(offset(address), from, offset(address), (int) length);
        } else {
            LibC.memcpy(hostBase + address, source.hostBase + address, length);
        }
    }

    /**
     * Puts {@code source}'s content back at {@code [address, address + length)} unless it is
     * there already: a compare stops at the first difference, where a copy always writes the
     * whole range. Returns whether anything was copied.
     */
    public boolean restoreFrom(GuestMemory source, long address, long length) {
        check(address, length);
        source.check(address, length);
        if (LibC.memcmp(hostBase + address, source.hostBase + address, length) == 0) {
            return false;
        }
        copy(source, address, length);
        return true;
    }

    /**
     * Makes a page-aligned range read as zeros, as freshly mapped anonymous memory must, without
     * the host allocating memory for the guest: an unmap of gigabytes it never touched must cost
     * nothing. The template punches a hole in the memfd (freeing the pages). A private view
     * drops its own copies, so that the template's pages show through again, and writes zeros only
     * where the template holds data ({@code SEEK_DATA}): the copies it makes there are bounded by
     * the template's size, and they are host writes, counted like any other.
     *
     * <p>Either way the host's MMU notifier fires for exactly the range, so KVM drops every
     * translation it cached for it, as {@link #invalidateTranslations} would (callers rely on it).
     */
    public void zero(long address, long length) {
        check(address, length);
        if (ownsMemfd) {
            try {
                LibC.fallocate(memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, address, length);
                return;
            } catch (LastErrorException e) {
                // file systems without hole punching: write zeros, and drop the translations
                fill(address, length, (byte) 0);
                invalidateTranslations(address, length);
                return;
            }
        }
        discard(address, length);
        forEachData(address, address + length, zeroData);
    }

    /** Made once: {@link #zero} runs on unmaps, which a request may make in every request. */
    private final DataRange zeroData = (data, stop) -> fill(data, stop - data, (byte) 0);

    /** A range {@code [start, end)} where the template's memfd holds data. */
    @FunctionalInterface
    private interface DataRange {
        void at(long start, long end);
    }

    /** Calls {@code range} for each part of {@code [from, end)} where the template's memfd holds data ({@code SEEK_DATA}). */
    private void forEachData(long from, long end, DataRange range) {
        long at = from;
        while (at < end) {
            long data = seek(at, SEEK_DATA);
            if (data < 0 || data >= end) {
                return;
            }
            long hole = seek(data, SEEK_HOLE);
            long stop = hole < 0 ? end : Math.min(hole, end);
            range.at(data, stop);
            at = stop;
        }
    }

    private static final int SEEK_DATA = 3;
    private static final int SEEK_HOLE = 4;

    /**
     * The ranges of this template memory that hold no data now, as {start, end} pairs in
     * ascending order: where, once the template is frozen, nothing ever belongs. A request VM that
     * reads there (fresh memory it mapped, or memory the template mapped and never touched) faults
     * on a hole of the shared memfd, and the host kernel fills it with a zeroed page of the memfd's
     * own: memory no view wrote, which no reset takes back and no meter counts
     * ({@link #punchHoles} frees it again).
     */
    public long[] holes() {
        requireTemplate();
        long[] pairs = new long[16];
        int n = 0;
        long at = 0;
        while (at < size) {
            long data = seek(at, SEEK_DATA);
            long end = data < 0 ? size : data;
            if (end > at) {
                if (n == pairs.length) {
                    pairs = Arrays.copyOf(pairs, n * 2);
                }
                pairs[n++] = at;
                pairs[n++] = end;
            }
            if (data < 0) {
                break;
            }
            long hole = seek(data, SEEK_HOLE);
            at = hole < 0 ? size : hole;
        }
        return Arrays.copyOf(pairs, n);
    }

    /** Bytes of host memory this template memory's memfd holds ({@code st_blocks}). */
    public long allocatedBytes() {
        requireTemplate();
        try (Memory stat = new Memory(StructStat.SIZE)) {
            StructStat.fstat(memfd, stat);
            return stat.getLong(StructStat.ST_BLOCKS) * 512;
        }
    }

    /**
     * Punches {@link #holes} taken earlier again: the pages reads filled them with are freed, and
     * every view reads zeros there as before (the host zaps its mappings of them and KVM its
     * translations; a view's own copies stay). Safe while request VMs run: nothing the template
     * holds lies in a hole.
     */
    public void punchHoles(long[] holes) {
        requireTemplate();
        for (int i = 0; i + 1 < holes.length; i += 2) {
            try {
                LibC.fallocate(memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, holes[i], holes[i + 1] - holes[i]);
            } catch (LastErrorException e) {
                return; // a file system without hole punching: nothing to free this way
            }
        }
    }

    private void requireTemplate() {
        if (!ownsMemfd) {
            throw new IllegalStateException("only the template's memory owns its memfd");
        }
    }

    /** lseek on the template's memfd ({@code SEEK_DATA}, {@code SEEK_HOLE}); -1 past the last data. */
    private long seek(long offset, int whence) {
        try {
            return LibC.lseek(memfd, offset, whence);
        } catch (LastErrorException e) {
            return -1; // ENXIO: no data at or after offset
        }
    }

    private static final int FALLOC_FL_KEEP_SIZE = 1;
    private static final int FALLOC_FL_PUNCH_HOLE = 2;

    /**
     * Copies guest memory within this VM (as {@code mremap} moves pages) into a range that reads
     * as zeros. The template copies only what its memfd holds ({@code SEEK_DATA}): a copy of a
     * whole reservation would fill the holes of both ranges with pages (a 4 GiB {@code PROT_NONE}
     * reservation moved at start took 6.8 GB of host memory and seconds); the rest of the target
     * reads as zeros already, as the source did.
     */
    public void move(long to, long from, long length) {
        check(from, length);
        check(to, length);
        willWrite(to, length);
        if (!ownsMemfd) {
            LibC.memmove(hostBase + to, hostBase + from, length);
            return;
        }
        forEachData(from, from + length, (data, stop) -> LibC.memmove(hostBase + to + (data - from), hostBase + data,
                stop - data));
    }

    /** Gives pages back to the host; a private mapping falls back to the template's contents. */
    public void discard(long address, long length) {
        check(address, length);
        try {
            LibC.madvise(hostBase + address, length, LibC.MADV_DONTNEED);
        } catch (LastErrorException e) {
            throw new HostCallException("madvise(MADV_DONTNEED) failed", e.getErrorCode());
        }
    }

    /**
     * Makes KVM forget every translation it cached for {@code [address, address + length)}, so that
     * the next guest access walks the guest page tables again.
     *
     * <p>Why this is needed: the host edits the guest's page tables through its own mapping, which
     * KVM does not see. Under shadow paging (the nested PVM hosts, and any host without EPT/NPT)
     * KVM keeps write-protected shadow copies of the guest's page tables and trusts them until the
     * <em>guest</em> writes to them, so neither {@code KVM_SET_SREGS} nor a guest CR3 reload makes
     * it re-read an entry the host changed: a page made read-only by {@code mprotect} stays
     * writable for the guest. Changing the host protection of the data pages, here to read-only
     * and back, fires KVM's MMU notifier for them, and KVM zaps every shadow entry that maps
     * them; the guest's next access faults into KVM, which then builds the entry from the current
     * guest page tables. The contents are untouched. Only for permission downgrades: upgrades are
     * seen anyway, because the stale entry faults and KVM re-walks.
     *
     * <p>The template's shared mapping gets {@code MADV_DONTNEED} instead, which unmaps the pages
     * and leaves their contents in the memfd: the notifier fires for exactly the range. The pair
     * of {@code mprotect}s splits the host mapping, and splitting it inside a 2 MiB block makes
     * the kernel fire the notifier for the whole block, so a private view (where
     * {@code MADV_DONTNEED} would drop the request's data) pays with faults on its neighbours.
     */
    public void invalidateTranslations(long address, long length) {
        if (address >= size) {
            return;
        }
        length = Math.min(length, size - address);
        check(address, length);
        if (ownsMemfd) {
            discard(address, length);
            return;
        }
        try {
            LibC.mprotect(hostBase + address, length, LibC.PROT_READ);
            LibC.mprotect(hostBase + address, length, LibC.PROT_READ | LibC.PROT_WRITE);
        } catch (LastErrorException e) {
            throw new HostCallException("mprotect of guest memory failed", e.getErrorCode());
        }
    }

    public int memfd() {
        return memfd;
    }

    @Override
    /** Unmaps the memory (and closes the memfd it owns); idempotent. */
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        LibC.munmap(hostBase, size);
        if (ownsMemfd) {
            LibC.close(memfd);
        }
    }
}
