package io.kvmserver.linux;

import io.kvmserver.elf.LoadTarget;
import io.kvmserver.host.Errno;
import io.kvmserver.memory.GuestMemory;
import io.kvmserver.sandbox.GuestPaths;
import io.kvmserver.x86.GuestLayout;
import io.kvmserver.x86.PageTables;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The program's virtual memory: the list of mappings (what {@code /proc/self/maps} would show),
 * the program break, and the page tables that enforce them.
 *
 * <p>Every guest pointer a system call receives is checked here against the mappings, with
 * overflow-safe arithmetic, before the host touches guest memory: a bad one is {@code EFAULT},
 * exactly as on Linux. The mapping list and the break are part of the per-VM state that a reset
 * restores ({@link #copy()}).
 *
 * <p>Two limits, as Linux has address-space and memory limits: the address range ({@code limit},
 * the option {@code max-address-space}) holds every mapping, reservations included, and the bytes
 * mapped with some access ({@code maxAccessibleBytes}, the option {@code max-main-memory}) bound
 * what the program can make the host allocate. A {@code PROT_NONE} reservation counts only against
 * the range: its pages are absent from the page tables (so an access faults) and cost the host
 * nothing. Accessible mappings count whether or not they were made with {@code MAP_NORESERVE}, as
 * Linux counts them under strict overcommit ({@code vm.overcommit_memory=2}): every page the
 * program can touch, it can make the host allocate, and the engine has no cheaper moment than the
 * mapping to refuse it (guest page faults do not reach it).
 */
public final class AddressSpace implements LoadTarget {

    private static final long PAGE = GuestLayout.PAGE_SIZE;
    /** No access: a reservation, or a guard page. */
    public static final int PROT_NONE = 0;
    /**
     * Beside the protection bits of a {@link Mapping}: the mapping may never be made writable (a
     * shared mapping of a file, which the guest's own memory cannot keep coherent with the file;
     * Linux's missing {@code VM_MAYWRITE}). {@code mprotect} to writable is {@code EACCES}.
     */
    public static final int NEVER_WRITABLE = 1 << 30;
    /**
     * Beside the protection bits: a {@code MAP_SHARED} mapping, whose pages are the object's
     * ({@code madvise(MADV_DONTNEED)} leaves them, {@code MADV_FREE} refuses them).
     */
    public static final int SHARED = 1 << 29;
    /** Beside the protection bits: a mapping of a file ({@code MADV_FREE} and {@code MADV_REMOVE} differ). */
    public static final int FILE = LoadTarget.FILE_BACKED;
    /** The bits beside the protection that a mapping keeps through {@code mprotect}. */
    private static final int KIND = NEVER_WRITABLE | SHARED | FILE;
    private static final int ACCESS = PROT_READ | PROT_WRITE | PROT_EXEC;
    /**
     * Linux's default {@code vm.max_map_count}: more mappings than this are {@code ENOMEM}, so
     * that a guest cannot grow the engine's bookkeeping without bound. Adjacent mappings alike in
     * protection and name are merged, as Linux merges them, so ordinary programs stay far below.
     */
    public static final int MAX_MAP_COUNT = 65530;

    /** One mapping: {@code [start, end)} with its protection and a name for maps output. */
    public record Mapping(long start, long end, int prot, String name) {
        long length() {
            return end - start;
        }
    }

    private final GuestMemory memory;
    private final PageTables tables;
    private final long limit;
    private final long maxAccessibleBytes;
    private TreeMap<Long, Mapping> mappings = new TreeMap<>();
    private int changes;
    private long lastMapped;
    /**
     * The mapping the last pointer check found wholly covering its range, or null. A system call
     * checks several pointers into one mapping (each {@code iovec} of a {@code writev}, each
     * field read), and a lookup in {@link #mappings} boxes its key on every call. Every change to
     * the list goes through {@link #putMapping} or {@link #removeMapping}, which forget it.
     */
    private Mapping lastChecked;
    /**
     * Whether {@link #mappings} is shared with the address space it was copied from or into: a
     * reset copies the template's list, and most requests never change it, so the copy shares it
     * and whichever side changes it first takes a private copy then ({@link #ownMappings}).
     * Volatile: the template's flag is set by the forks of request VMs, on their threads.
     */
    private volatile boolean mappingsShared;
    private long mappedBytes;
    private long accessibleBytes;
    private long brkStart;
    private long brk;
    private long mmapTop;
    /**
     * The reservation ({@link #reserve}): {@code [reservedStart, reservedEnd)}, empty when they are
     * equal. Mapped read-write in the page tables, absent from {@link #mappings}.
     */
    private long reservedStart;
    private long reservedEnd;
    /**
     * What {@link #surveyReservation} found above the reservation: the longest free gap below the
     * top of the mmap area ({@link #roomAboveReservation}), or -1 until it looks again after a
     * change of the list; whether a mapping (or that top) starts at its end; where a mapping taken
     * from it ends once merged ({@link #reservedMappingExtentEnd}). Copied with the list.
     */
    private long roomAbove = -1;
    private boolean reservationAtTop;
    private long reservedExtentEnd;

    /**
     * @param limit              one past the highest address the program may map
     * @param maxAccessibleBytes the most bytes the program may map readable, writable or executable
     */
    public AddressSpace(GuestMemory memory, PageTables tables, long limit, long maxAccessibleBytes) {
        this.memory = memory;
        this.tables = tables;
        this.limit = limit;
        this.maxAccessibleBytes = maxAccessibleBytes;
        this.mmapTop = limit;
    }

    public GuestMemory memory() {
        return memory;
    }

    public PageTables pageTables() {
        return tables;
    }

    /** One past the highest address a program may use. */
    @Override
    public long limit() {
        return limit;
    }

    public static long pageUp(long value) {
        return (value + PAGE - 1) & -PAGE;
    }

    public static long pageDown(long value) {
        return value & -PAGE;
    }

    // ---- mapping ----

    /** Whether {@code [start, start + length)} is a valid user range (aligned, in bounds). */
    public boolean isUserRange(long start, long length) {
        return (start & (PAGE - 1)) == 0 && length > 0 && start >= GuestLayout.USER_START && start <= limit
                && length <= limit - start;
    }

    /**
     * Maps a page-aligned range, replacing whatever was there. Throws ENOMEM outside the range,
     * past the accessible-bytes limit or past {@link #MAX_MAP_COUNT}.
     */
    public void map(long start, long length, int prot, String name) {
        if (!isUserRange(start, length)) {
            throw new SyscallError(Errno.ENOMEM);
        }
        requireAccessible(start, start + length, prot);
        requireRoomFor(countAfterCut(start, start + length) + 1);
        releaseReservationOver(start, start + length);
        cut(start, start + length, true);
        Mapping mapping = new Mapping(start, start + length, prot, name);
        insert(mapping);
        account(mapping, 1);
        applyPageTables(start, length, prot);
        lastMapped = start;
    }

    /**
     * How many more guest memory chunks than its accessible bytes fill a program may reach: its
     * mappings need not be packed, but scattering pages over the whole range would make the VM
     * hold a KVM memory slot (kernel memory) per chunk. See {@code MemorySlots}.
     */
    public static final int EXPOSURE_SLACK = 16;

    /**
     * ENOMEM when giving {@code [start, end)} protection {@code prot} would pass the accessible-bytes
     * limit, or spread the program over more chunks of guest memory than that limit justifies.
     */
    private void requireAccessible(long start, long end, int prot) {
        if (!counted(prot)) {
            return;
        }
        if (accessibleBytes - covered(start, end, true) + (end - start) > maxAccessibleBytes) {
            throw new SyscallError(Errno.ENOMEM);
        }
        long chunk = memory.chunkSize();
        long allowed = (maxAccessibleBytes + chunk - 1) / chunk + EXPOSURE_SLACK;
        if (memory.exposedChunkCount() + memory.unexposedChunks(start, end - start) > allowed) {
            throw new SyscallError(Errno.ENOMEM);
        }
    }

    /**
     * Whether a mapping of protection {@code prot} counts against the accessible-bytes limit: an
     * accessible one, and a file mapping whatever its protection, since mmap fills it from the
     * file at once (the eighth review: PROT_NONE mappings of a 2 GiB sparse file, each read into
     * host memory, past any limit); a reservation of PROT_NONE anonymous memory costs nothing.
     */
    private static boolean counted(int prot) {
        return (prot & ACCESS) != PROT_NONE || (prot & FILE) != 0;
    }

    /** Adds ({@code sign} 1) or removes (-1) a mapping's bytes from the totals. */
    private void account(Mapping m, int sign) {
        mappedBytes += sign * m.length();
        if (counted(m.prot())) {
            accessibleBytes += sign * m.length();
        }
    }

    /** ENOMEM when the mapping list would grow past {@link #MAX_MAP_COUNT}. */
    private void requireRoomFor(int count) {
        if (count > MAX_MAP_COUNT) {
            throw new SyscallError(Errno.ENOMEM);
        }
    }

    /** How many mappings there would be after removing {@code [start, end)}. */
    private int countAfterCut(long start, long end) {
        int count = mappings.size();
        for (Mapping m : mappings.subMap(floorStart(start), true, end, false).values()) {
            if (m.end() > start) {
                count += (m.start() < start ? 1 : 0) + (m.end() > end ? 1 : 0) - 1;
            }
        }
        return count;
    }

    /** Adds a mapping, merged with neighbours that touch it and are alike, as Linux merges areas. */
    private void insert(Mapping m) {
        long start = m.start();
        long end = m.end();
        Map.Entry<Long, Mapping> before = mappings.lowerEntry(start);
        if (before != null && before.getValue().end() == start && alike(before.getValue(), m)) {
            start = before.getKey();
            removeMapping(start);
        }
        Mapping after = mappings.get(end);
        if (after != null && alike(after, m)) {
            end = after.end();
            removeMapping(after.start());
        }
        putMapping(new Mapping(start, end, m.prot(), m.name()));
    }

    private void putMapping(Mapping m) {
        ownMappings();
        lastChecked = null;
        roomAbove = -1;
        changes++;
        mappings.put(m.start(), m);
    }

    private void removeMapping(long start) {
        ownMappings();
        lastChecked = null;
        roomAbove = -1;
        changes++;
        mappings.remove(start);
    }

    /** Counts the changes of the mapping list: what a caller computed from it holds while this stays. */
    public int changes() {
        return changes;
    }

    /** Where {@link #map} last mapped: the program's newest mapping, the likeliest to be resized or unmapped next. */
    public long lastMapped() {
        return lastMapped;
    }

    /** Before a change: a list still shared with another address space is copied first. */
    private void ownMappings() {
        if (mappingsShared) {
            mappings = new TreeMap<>(mappings);
            mappingsShared = false;
        }
    }

    private static boolean alike(Mapping a, Mapping b) {
        return a.prot() == b.prot() && java.util.Objects.equals(a.name(), b.name());
    }

    /**
     * Unmaps a page-aligned range; unmapped parts are fine (as {@code munmap}). ENOMEM when it
     * would split a mapping past {@link #MAX_MAP_COUNT}, as Linux's munmap.
     */
    public void unmap(long start, long length) {
        requireRoomFor(countAfterCut(start, start + length));
        releaseReservationOver(start, start + length);
        cut(start, start + length, true);
        setPageTables(start, length, 0);
    }

    @Override
    public boolean tryMap(long start, long length, int prot, String name) {
        try {
            map(start, length, prot, name);
            return true;
        } catch (SyscallError e) {
            return false;
        }
    }

    @Override
    public void load(long address, byte[] bytes, int offset, int length) {
        memory.write(address, bytes, offset, length);
    }

    /**
     * Changes protection; ENOMEM when part of the range is not mapped (as {@code mprotect}), or
     * when it would pass the accessible-bytes limit.
     */
    public void protect(long start, long length, int prot) {
        long end = start + length;
        if (covered(start, end, false) != length) {
            throw new SyscallError(Errno.ENOMEM);
        }
        requireAccessible(start, end, prot);
        TreeMap<Long, Mapping> pieces = new TreeMap<>();
        for (Mapping m : mappings.subMap(floorStart(start), true, end, false).values()) {
            if (m.end() > start) {
                if ((prot & PROT_WRITE) != 0 && (m.prot() & NEVER_WRITABLE) != 0) {
                    throw new SyscallError(Errno.EACCES);
                }
                pieces.put(m.start(), m);
            }
        }
        requireRoomFor(countAfterCut(start, end) + pieces.size());
        cut(start, end, false);
        for (Mapping m : pieces.values()) {
            long s = Math.max(start, m.start());
            long e = Math.min(end, m.end());
            Mapping piece = new Mapping(s, e, prot | (m.prot() & KIND), m.name());
            insert(piece);
            account(piece, 1);
            applyPageTables(s, e - s, prot);
        }
    }

    private void applyPageTables(long start, long length, int prot) {
        setPageTables(start, length, PageTables.leafFlags(prot, true));
    }

    /**
     * Edits the page tables; when a page loses a permission, also drops what KVM cached for the
     * range ({@link GuestMemory#invalidateTranslations}). That is the whole TLB flush: the host's
     * MMU notifier makes KVM zap every shadow entry for the range (shadow paging), or flush the
     * guest's translations with the EPT/NPT entries it zaps (hardware), so no stale permission
     * survives, and no {@code KVM_SET_SREGS} round trip is needed (two vCPU ioctls, ~10 µs each on
     * nested hosts, which python3 paid twice a request for its {@code mremap}s).
     */
    private void setPageTables(long start, long length, long flags) {
        if (tables.set(start, length, flags)) {
            memory.invalidateTranslations(start, length);
        }
    }

    /** Bytes of {@code [start, end)} that are mapped (with {@code accessible}: not PROT_NONE). */
    private long covered(long start, long end, boolean accessible) {
        long total = 0;
        for (Mapping m : mappings.subMap(floorStart(start), true, end, false).values()) {
            if (!accessible || counted(m.prot())) {
                total += Math.max(0, Math.min(end, m.end()) - Math.max(start, m.start()));
            }
        }
        return total;
    }

    private long floorStart(long address) {
        Long k = mappings.floorKey(address);
        return k == null ? 0 : k;
    }

    /**
     * Removes {@code [start, end)} from the mapping list, splitting mappings at the edges, and
     * with {@code zero}, unmaps and zeroes the pages it removed: unmapped memory always reads as
     * zeros, so that a later anonymous mapping of the same range is clean, as Linux promises.
     */
    private void cut(long start, long end, boolean zero) {
        Map<Long, Mapping> hit = new TreeMap<>(mappings.subMap(floorStart(start), true, end, false));
        for (Mapping m : hit.values()) {
            if (m.end() <= start) {
                continue;
            }
            if (zero) {
                long zs = Math.max(start, m.start());
                long length = Math.min(end, m.end()) - zs;
                // Zeroing gives the pages back to the host, which drops what KVM cached for them:
                // clearing their entries needs no invalidateTranslations, whose mprotect pair
                // would split the host mapping and make KVM drop a whole 2 MiB around the range.
                tables.set(zs, length, 0);
                memory.zero(zs, length);
            }
            removeMapping(m.start());
            account(m, -1);
            if (m.start() < start) {
                Mapping before = new Mapping(m.start(), start, m.prot(), m.name());
                putMapping(before);
                account(before, 1);
            }
            if (m.end() > end) {
                Mapping after = new Mapping(end, m.end(), m.prot(), m.name());
                putMapping(after);
                account(after, 1);
            }
        }
    }

    /**
     * Finds a free range of {@code length} bytes, top-down below the mmap area's top, as Linux
     * does. Returns -1 when there is none.
     */
    @Override
    public long findFree(long length) {
        long candidateEnd = mmapTop;
        for (Mapping m : mappings.descendingMap().values()) {
            if (m.start() >= candidateEnd) {
                continue;
            }
            if (m.end() <= candidateEnd - length && candidateEnd - length >= brkLimit()) {
                return candidateEnd - length;
            }
            candidateEnd = Math.min(candidateEnd, m.start());
        }
        long start = candidateEnd - length;
        return start >= brkLimit() && start >= GuestLayout.USER_START ? start : -1;
    }

    /**
     * Finds a free range of {@code length} bytes in {@code [low, high)} (clipped to the program's
     * range), bottom-up, as Linux places {@code MAP_32BIT} mappings. Returns -1 when there is none.
     */
    public long findFreeBetween(long length, long low, long high) {
        long end = Math.min(high, limit);
        long candidate = Math.max(low, GuestLayout.USER_START);
        for (Mapping m : mappings.subMap(floorStart(candidate), true, end, false).values()) {
            if (m.end() <= candidate) {
                continue;
            }
            if (m.start() >= candidate && m.start() - candidate >= length) {
                break;
            }
            candidate = Math.max(candidate, m.end());
        }
        return candidate < end && end - candidate >= length ? candidate : -1;
    }

    /** The break may not grow into the mmap area; leave it room to grow into the first gigabyte. */
    private long brkLimit() {
        return brk + PAGE;
    }

    @Override
    public boolean isFree(long start, long length) {
        return isUserRange(start, length) && covered(start, start + length, false) == 0;
    }

    /** Whether every page of the user range {@code [start, start + length)} is mapped, whatever its protection. */
    public boolean isMapped(long start, long length) {
        return isUserRange(start, length) && covered(start, start + length, false) == length;
    }

    public void setMmapTop(long top) {
        this.mmapTop = top;
    }

    /** The engine's pages the guest sees, below the program's: the vDSO's data page and image. */
    private static final List<Mapping> ENGINE_MAPPINGS = List.of(
            new Mapping(GuestLayout.VVAR, GuestLayout.VVAR + PAGE, PROT_READ, "[vvar]"),
            new Mapping(GuestLayout.VDSO, GuestLayout.VDSO + GuestLayout.VDSO_SIZE, PROT_READ | PROT_EXEC, "[vdso]"));

    /**
     * The first mapping that contains or lies above {@code address}, or null, for
     * {@code /proc/self/maps}: the engine's vDSO pages first, then the program's.
     */
    public Mapping mappingAtOrAbove(long address) {
        for (Mapping m : ENGINE_MAPPINGS) {
            if (m.end() > address) {
                return m;
            }
        }
        Mapping containing = find(address);
        if (containing != null) {
            return containing;
        }
        Map.Entry<Long, Mapping> e = mappings.ceilingEntry(address);
        return e == null ? null : e.getValue();
    }

    /** The mapping containing {@code address}, or null. */
    public Mapping find(long address) {
        Map.Entry<Long, Mapping> e = mappings.floorEntry(address);
        return e != null && e.getValue().end() > address ? e.getValue() : null;
    }

    // ---- the reservation ----

    /**
     * Reserves {@code length} bytes where the next anonymous mapping of that length would go (the
     * top of the highest free gap that holds it), for mappings the syscall entry makes in the guest
     * ({@code GuestCalls}): their pages are mapped read-write in the page tables now, so that
     * taking them later changes no page table entry (no exit, and no translation KVM has to build
     * again), while the mapping list, {@code /proc/self/maps} and every check of a pointer treat
     * them as free until {@link #mapReserved} takes them. Their memory is zero, as all free memory
     * is. False, and nothing reserved, when there is no room for them, when they would pass the
     * accessible-bytes limit or when a reservation exists already.
     */
    public boolean reserve(long length) {
        long start = findFree(length);
        if (reservedEnd != reservedStart || start < 0 || !isUserRange(start, length)) {
            return false;
        }
        try {
            requireAccessible(start, start + length, PROT_READ | PROT_WRITE);
        } catch (SyscallError e) {
            return false;
        }
        tables.set(start, length, PageTables.leafFlags(PROT_READ | PROT_WRITE, true));
        reservedStart = start;
        reservedEnd = start + length;
        roomAbove = -1;
        surveyReservation(); // once, in the template: its copies start with it
        changes++;
        return true;
    }

    /** Where the reservation starts (the same as {@link #reservedEnd()} when there is none). */
    public long reservedStart() {
        return reservedStart;
    }

    /** Where it ends: a mapping taken from it ends here. */
    public long reservedEnd() {
        return reservedEnd;
    }

    /**
     * Whether an anonymous mapping taken from the top of the reservation goes where
     * {@link #findFree} would put it: a mapping (or the top of the mmap area) starts at its end,
     * so no free page above it belongs to its gap, the mapping list leaves room for a split per
     * queue entry, and all of it fits the accessible-bytes limit.
     */
    public boolean reservationAtTopOfItsGap(int entries) {
        if (reservedEnd == reservedStart || mappings.size() + entries > MAX_MAP_COUNT
                || accessibleBytes + (reservedEnd - reservedStart) > maxAccessibleBytes) {
            return false;
        }
        surveyReservation();
        return reservationAtTop;
    }

    /**
     * The longest free gap above the reservation (below the top of the mmap area): a mapping that
     * long or shorter goes there ({@link #findFree} looks from the top down), one longer to the
     * reservation.
     */
    public long roomAboveReservation() {
        surveyReservation();
        return roomAbove;
    }

    /**
     * The end of the mapping {@link #mapReserved} would make: the mapping that starts at the
     * reservation's end, when it is an anonymous read-write one it merges with, or that end.
     */
    public long reservedMappingExtentEnd() {
        surveyReservation();
        return reservedExtentEnd;
    }

    /**
     * One walk of the mappings above the reservation, kept until the list changes: the template
     * makes it when it reserves, and every request VM starts with its result (no lookup, no boxed
     * key, per request).
     */
    private void surveyReservation() {
        if (roomAbove >= 0) {
            return;
        }
        long room = 0;
        long free = reservedEnd;
        Mapping first = null;
        for (Mapping m : mappings.tailMap(reservedEnd, true).values()) {
            if (m.start() >= mmapTop) {
                break;
            }
            if (first == null) {
                first = m;
            }
            room = Math.max(room, m.start() - free);
            free = Math.max(free, m.end());
        }
        roomAbove = Math.max(room, mmapTop - free);
        Mapping above = first != null && first.start() == reservedEnd ? first : null;
        reservationAtTop = reservedEnd == mmapTop || above != null;
        reservedExtentEnd = above != null && alike(above, RESERVED_KIND) ? above.end() : reservedEnd;
    }

    /** What a mapping taken from the reservation is: anonymous, read-write ({@link #alike} compares the rest). */
    private static final Mapping RESERVED_KIND = new Mapping(0, 0, PROT_READ | PROT_WRITE, null);

    /**
     * Makes {@code [start, start + length)}, the top of the reservation, an anonymous read-write
     * mapping (the one the syscall entry answered an mmap with) without touching the page tables;
     * false, and nothing changed, for any other range or when the mapping would pass a limit.
     */
    public boolean mapReserved(long start, long length) {
        if (length <= 0 || (length & (PAGE - 1)) != 0 || start < reservedStart || start + length != reservedEnd) {
            return false;
        }
        try {
            requireAccessible(start, start + length, PROT_READ | PROT_WRITE);
            requireRoomFor(mappings.size() + 1);
        } catch (SyscallError e) {
            return false;
        }
        Mapping mapping = new Mapping(start, start + length, PROT_READ | PROT_WRITE, null);
        insert(mapping);
        account(mapping, 1);
        lastMapped = start;
        reservedEnd = start;
        return true;
    }

    /**
     * Before the host maps or unmaps {@code [start, end)}: a reservation that range meets is given
     * up whole (its page table entries cleared, its memory zeroed, as the program may have written
     * there), so that a mapping made over it is clean and a touch of what is left of it faults.
     */
    private void releaseReservationOver(long start, long end) {
        if (reservedStart < reservedEnd && start < reservedEnd && end > reservedStart) {
            long length = reservedEnd - reservedStart;
            tables.set(reservedStart, length, 0);
            memory.zero(reservedStart, length);
            reservedStart = 0;
            reservedEnd = 0;
            roomAbove = -1;
            changes++;
        }
    }

    // ---- the program break ----

    public void initBreak(long start) {
        this.brkStart = start;
        this.brk = start;
    }

    public long brk() {
        return brk;
    }

    /** {@code brk(2)}: moves the break if the new one is valid and free, returns the current break. */
    public long setBreak(long requested) {
        if (requested < brkStart || requested >= limit) {
            return brk;
        }
        long oldEnd = pageUp(brk);
        long newEnd = pageUp(requested);
        try {
            if (newEnd > oldEnd) {
                if (!isFree(oldEnd, newEnd - oldEnd)) {
                    return brk;
                }
                map(oldEnd, newEnd - oldEnd, PROT_READ | PROT_WRITE, "[heap]");
            } else if (newEnd < oldEnd) {
                unmap(newEnd, oldEnd - newEnd);
            }
        } catch (SyscallError e) {
            return brk;
        }
        brk = requested;
        return brk;
    }

    // ---- pointer checks ----

    /** Linux's {@code TASK_SIZE_MAX} on x86-64 with 4-level paging: where user space ends. */
    static final long TASK_SIZE_MAX = 0x7fff_ffff_f000L;

    /** Linux's {@code access_ok}: {@code [address, address + length)} lies within user space. */
    static boolean accessOk(long address, long length) {
        return address >= 0 && length >= 0 && address <= TASK_SIZE_MAX && length <= TASK_SIZE_MAX - address;
    }

    /** Linux's {@code MAX_RW_COUNT}: the most one read or write moves. */
    static final long MAX_RW_COUNT = 0x7fff_f000L;

    /**
     * Linux's checks of an iovec array of {@code count} entries at {@code iov} (its
     * {@code import_iovec}), in its order: any negative length {@code EINVAL}, then any buffer
     * beyond user space {@code EFAULT}: its whole length, before a call cuts the total, but for a
     * single buffer, which Linux cuts to {@link #MAX_RW_COUNT} first (a send of one buffer of
     * 2^47 bytes is {@code EMSGSIZE} natively, of two {@code EFAULT}); 0 if none.
     */
    int vectorError(long iov, int count) {
        for (int i = 0; i < count; i++) {
            if (readLong(iov + i * 16L + 8) < 0) {
                return Errno.EINVAL;
            }
        }
        for (int i = 0; i < count; i++) {
            long length = readLong(iov + i * 16L + 8);
            if (!accessOk(readLong(iov + i * 16L), count == 1 ? Math.min(length, MAX_RW_COUNT) : length)) {
                return Errno.EFAULT;
            }
        }
        return 0;
    }

    /**
     * Checks that {@code [address, address + length)} is mapped with at least {@code prot};
     * throws {@code EFAULT} otherwise. Zero-length ranges are valid anywhere in user space, as
     * Linux's {@code access_ok} has it; beyond it (kernel or non-canonical) they are EFAULT too.
     */
    public void check(long address, long length, int prot) {
        if (length == 0) {
            if (address < 0 || address > TASK_SIZE_MAX) {
                throw new SyscallError(Errno.EFAULT);
            }
            return;
        }
        if (address < 0 || length < 0 || address > limit || length > limit - address) {
            throw new SyscallError(Errno.EFAULT);
        }
        long end = address + length;
        Mapping last = lastChecked;
        if (last != null && address >= last.start() && end <= last.end() && grants(last, prot)) {
            return;
        }
        long at = address;
        Map.Entry<Long, Mapping> e = mappings.floorEntry(address);
        if (e != null && e.getValue().end() >= end && grants(e.getValue(), prot)) {
            lastChecked = e.getValue();
            return;
        }
        while (at < end) {
            if (e == null || e.getValue().end() <= at || !grants(e.getValue(), prot)) {
                throw new SyscallError(Errno.EFAULT);
            }
            at = e.getValue().end();
            if (at < end) {
                e = mappings.ceilingEntry(at);
                if (e == null || e.getKey() != at) {
                    throw new SyscallError(Errno.EFAULT);
                }
            }
        }
    }

    /**
     * Whether mapping {@code m} allows {@code prot}: on x86 a page that may be written or executed
     * may be read too (the page tables have no read bit), so {@code PROT_WRITE} alone grants a
     * read, as the guest's own loads find (the third wave of the eighth review: a {@code write}
     * from a write-only page was {@code EFAULT}, natively it is written).
     */
    private static boolean grants(Mapping m, int prot) {
        int have = m.prot();
        if ((have & ACCESS) != PROT_NONE) {
            have |= PROT_READ;
        }
        return (have & prot) == prot;
    }

    /** Host address of a readable guest range. */
    public long readable(long address, long length) {
        check(address, length, PROT_READ);
        return length == 0 ? emptyRange() : memory.host(address, length);
    }

    /** Host address of a writable guest range, recorded as written by the host. */
    public long writable(long address, long length) {
        check(address, length, PROT_WRITE);
        if (length == 0) {
            return emptyRange();
        }
        memory.willWrite(address, length);
        return memory.host(address, length);
    }

    /**
     * What a zero-length range gives the host call: the start of guest memory, never touched.
     * The guest's own address may lie anywhere in user space, far outside guest memory, and is
     * not translated (the fuzzer found {@code read(fd, wild, 0)} throwing here).
     */
    private long emptyRange() {
        return memory.host(0, 0);
    }

    public byte[] readBytes(long address, int length) {
        check(address, length, PROT_READ);
        return length == 0 ? new byte[0] : memory.read(address, length);
    }

    /** Zero bytes to a valid user address are nothing to do (the address may lie outside guest memory). */
    public void writeBytes(long address, byte[] bytes, int offset, int length) {
        check(address, length, PROT_WRITE);
        if (length > 0) {
            memory.write(address, bytes, offset, length);
        }
    }

    public void writeBytes(long address, byte[] bytes) {
        writeBytes(address, bytes, 0, bytes.length);
    }

    public long readLong(long address) {
        check(address, 8, PROT_READ);
        return memory.getLong(address);
    }

    public int readInt(long address) {
        check(address, 4, PROT_READ);
        return memory.getInt(address);
    }

    public void writeLong(long address, long value) {
        check(address, 8, PROT_WRITE);
        memory.putLong(address, value);
    }

    public void writeInt(long address, int value) {
        check(address, 4, PROT_WRITE);
        memory.putInt(address, value);
    }

    /**
     * Reads a NUL-terminated string of at most {@code max} bytes; {@code ENAMETOOLONG} when no
     * NUL comes first, {@code EFAULT} when it runs into unmapped memory.
     */
    public byte[] readCString(long address, int max) {
        byte[] buf = new byte[Math.min(max, 256)];
        int n = 0;
        while (true) {
            if (n == max) {
                throw new SyscallError(Errno.ENAMETOOLONG);
            }
            // One mapping check per page, then the bytes up to the page's end in one copy.
            long at = address + n;
            if (at < 0) {
                throw new SyscallError(Errno.EFAULT);
            }
            int chunk = (int) Math.min(max - n, PAGE - (at & (PAGE - 1)));
            check(at, chunk, PROT_READ);
            if (buf.length < n + chunk) {
                buf = java.util.Arrays.copyOf(buf, Math.min(max, Math.max(buf.length * 2, n + chunk)));
            }
            memory.read(at, buf, n, chunk);
            for (int i = n; i < n + chunk; i++) {
                if (buf[i] == 0) {
                    return java.util.Arrays.copyOf(buf, i);
                }
            }
            n += chunk;
        }
    }

    public String readPath(long address) {
        byte[] raw = readCString(address, 4096);
        return pathOf(raw, 0, raw.length);
    }

    /**
     * A guest's path or socket name ({@link GuestPaths#decode}), or {@code EILSEQ} when it is not
     * UTF-8, as a file system that takes only UTF-8 names answers.
     */
    static String pathOf(byte[] raw, int offset, int length) {
        String path = GuestPaths.decode(raw, offset, length);
        if (path == null) {
            throw new SyscallError(Errno.EILSEQ);
        }
        return path;
    }

    // ---- introspection ----

    /** Bytes mapped, reservations included. */
    public long mappedBytes() {
        return mappedBytes;
    }

    /** Bytes mapped readable, writable or executable: what counts against {@link #maxAccessibleBytes()}. */
    public long accessibleBytes() {
        return accessibleBytes;
    }

    /** The most bytes the program may map accessible (the option {@code max-main-memory}). */
    public long maxAccessibleBytes() {
        return maxAccessibleBytes;
    }

    /** A copy of the bookkeeping (not the memory): part of a VM snapshot. */
    public AddressSpace copy(GuestMemory otherMemory, PageTables otherTables) {
        AddressSpace c = new AddressSpace(otherMemory, otherTables, limit, maxAccessibleBytes);
        mappingsShared = true;
        c.mappings = mappings;
        c.mappingsShared = true;
        c.mappedBytes = mappedBytes;
        c.accessibleBytes = accessibleBytes;
        c.brkStart = brkStart;
        c.brk = brk;
        c.mmapTop = mmapTop;
        c.lastMapped = lastMapped;
        c.reservedStart = reservedStart;
        c.reservedEnd = reservedEnd;
        c.roomAbove = roomAbove;
        c.reservationAtTop = reservationAtTop;
        c.reservedExtentEnd = reservedExtentEnd;
        return c;
    }

    /** One line of {@code /proc/self/maps} for a mapping. */
    public static String mapsLine(Mapping m) {
        return String.format("%08x-%08x %c%c%c%c 00000000 00:00 0 %s%n", m.start(), m.end(),
                (m.prot() & PROT_READ) != 0 ? 'r' : '-', (m.prot() & PROT_WRITE) != 0 ? 'w' : '-',
                (m.prot() & PROT_EXEC) != 0 ? 'x' : '-', (m.prot() & SHARED) != 0 ? 's' : 'p',
                m.name() == null ? "" : "                          " + m.name());
    }

    /** How many mappings the program has (at most {@link #MAX_MAP_COUNT}). */
    public int mappingCount() {
        return mappings.size();
    }
}
