package io.kvmserver.x86;

import io.kvmserver.memory.GuestMemory;

/**
 * Four-level x86-64 page tables, built and edited by the host in a pool of guest physical pages.
 *
 * <p>Guest virtual equals guest physical, so a mapping is only a permission: present, writable,
 * user, no-execute. The one exception is the system call doorbell ({@link #mapDoorbell}). Tables are allocated from a bump pointer in the pool and never freed: the
 * pool is sized for the whole address range, and a request VM's reset restores the bump pointer
 * along with the pages. Intermediate entries grant everything; leaves decide.
 */
public final class PageTables {

    public static final long PRESENT = 1L;
    public static final long WRITABLE = 1L << 1;
    public static final long USER = 1L << 2;
    public static final long NO_EXECUTE = 1L << 63;
    private static final long ADDRESS_MASK = 0x000f_ffff_ffff_f000L;
    private static final long TABLE_FLAGS = PRESENT | WRITABLE | USER;

    private static final long ACCESSED_DIRTY = 0x60L;

    private final GuestMemory memory;
    private final long poolStart;
    private final long poolEnd;
    private long next;
    /**
     * For each pool page: the address shift of its entries (39 for the PML4 ... 12 for a page
     * table) and the first virtual address it maps. A reset needs them to tell which
     * translations a restored table page takes away. Grown as tables are allocated: the pool is
     * sized for the whole address range, and a program uses a sliver of it.
     */
    private byte[] entryShift;
    private long[] baseAddress;
    /** A table page of this VM's and the template's, read whole by {@link #forEachRestoredTranslation}. */
    private final long[] entriesNow = new long[512];
    private final long[] entriesThen = new long[512];

    public PageTables(GuestMemory memory, long poolStart, long poolEnd) {
        this.memory = memory;
        this.poolStart = poolStart;
        this.poolEnd = poolEnd;
        this.next = poolStart + GuestLayout.PAGE_SIZE; // the first pool page is the PML4
        this.entryShift = new byte[64];
        this.baseAddress = new long[64];
        entryShift[0] = 39;
        memory.expose(poolStart, GuestLayout.PAGE_SIZE);
    }

    private PageTables(PageTables template, GuestMemory memory) {
        this.memory = memory;
        this.poolStart = template.poolStart;
        this.poolEnd = template.poolEnd;
        this.next = template.next;
        int used = (int) ((template.next - template.poolStart) / GuestLayout.PAGE_SIZE);
        this.entryShift = java.util.Arrays.copyOf(template.entryShift, Math.max(64, used));
        this.baseAddress = java.util.Arrays.copyOf(template.baseAddress, Math.max(64, used));
    }

    /** The same tables over another VM's (copy-on-write) view of the memory. */
    public PageTables fork(GuestMemory forkedMemory) {
        return new PageTables(this, forkedMemory);
    }

    /** Whether {@code address} lies in the page-table pool. */
    public boolean inPool(long address) {
        return address >= poolStart && address < poolEnd;
    }

    /**
     * Before a reset copies the template's version of the pool pages {@code [address, address +
     * length)} back: reports every virtual range whose translation the template's version removes
     * or changes (ignoring accessed and dirty bits), so that the caller can drop what KVM cached
     * for it. Tables created after the snapshot are skipped: their parent entries cover them.
     */
    public void forEachRestoredTranslation(GuestMemory template, long address, long length, long snapshotCursor,
            RangeConsumer changed) {
        long from = Math.max(address, poolStart);
        long to = Math.min(address + length, Math.min(poolEnd, snapshotCursor));
        for (long page = from & -GuestLayout.PAGE_SIZE; page < to; page += GuestLayout.PAGE_SIZE) {
            int index = (int) ((page - poolStart) / GuestLayout.PAGE_SIZE);
            int shift = index < entryShift.length ? entryShift[index] : 0;
            if (shift == 0) {
                continue;
            }
            memory.read(page, entriesNow, 0, 512);
            template.read(page, entriesThen, 0, 512);
            for (int i = 0; i < 512; i++) {
                long now = entriesNow[i];
                long then = entriesThen[i];
                if ((now & PRESENT) != 0 && ((now ^ then) & ~ACCESSED_DIRTY) != 0) {
                    changed.range(baseAddress[index] + ((long) i << shift), 1L << shift);
                }
            }
        }
    }

    /** Receives a virtual address range. */
    @FunctionalInterface
    public interface RangeConsumer {
        void range(long address, long length);
    }

    /** Pool pages needed to map {@code addressRange} bytes with 4 KiB pages, plus the PML4. */
    public static long poolSizeFor(long addressRange) {
        long pages = (addressRange + GuestLayout.PAGE_SIZE - 1) / GuestLayout.PAGE_SIZE;
        long pts = (pages + 511) / 512;
        long pds = (pts + 511) / 512 + 1;
        long pdpts = (pds + 511) / 512 + 1;
        return (pts + pds + pdpts + 2) * GuestLayout.PAGE_SIZE;
    }

    public long root() {
        return poolStart;
    }

    public long poolStart() {
        return poolStart;
    }

    public long poolEnd() {
        return poolEnd;
    }

    /** The allocation cursor, saved with a snapshot so that a reset can restore it. */
    public long cursor() {
        return next;
    }

    public void restoreCursor(long cursor) {
        this.next = cursor;
    }

    /** Leaf flags for a mapping with the given {@code PROT_*} bits, or 0 for an inaccessible page. */
    public static long leafFlags(int prot, boolean user) {
        if ((prot & 7) == 0) {
            return 0;
        }
        long flags = PRESENT | (user ? USER : 0);
        if ((prot & 2) != 0) {
            flags |= WRITABLE;
        }
        if ((prot & 4) == 0) {
            flags |= NO_EXECUTE;
        }
        return flags;
    }

    /**
     * Sets the leaf entries of {@code [address, address + length)} (page-aligned) to
     * {@code flags}; flags 0 unmaps. Returns whether an entry that was present lost a permission
     * (present, writable, user or executable), in which case translations the guest or KVM cached
     * must be dropped before it runs again. A gained permission needs nothing: the stale
     * translation faults and the page tables are walked again.
     */
    public boolean set(long address, long length, long flags) {
        if (flags != 0) {
            memory.expose(address, length); // what the guest can reach must be guest memory KVM knows
        }
        boolean downgraded = false;
        long end = address + length;
        long va = address;
        while (va < end) {
            long pt = table(va, flags != 0);
            long chunkEnd = Math.min(end, (va | 0x1fffffL) + 1);
            if (pt == 0) {
                va = chunkEnd;
                continue;
            }
            for (; va < chunkEnd; va += GuestLayout.PAGE_SIZE) {
                long slot = pt + ((va >>> 12) & 511) * 8;
                long old = memory.getLong(slot);
                long entry = flags == 0 ? 0 : (va & ADDRESS_MASK) | flags;
                if (old != entry) {
                    if ((old & PRESENT) != 0 && losesPermission(old, entry)) {
                        downgraded = true;
                    }
                    memory.putLong(slot, entry);
                }
            }
        }
        return downgraded;
    }

    /**
     * Maps the page at {@code address} to {@code physical}, a guest-physical page outside guest
     * memory, writable from CPL 3 and never executable: every access to it is an MMIO exit. The
     * only mapping that is not the identity, set once in a template and copied by its forks
     * (accessed and dirty already, so that no access ever writes the table page).
     */
    public void mapDoorbell(long address, long physical) {
        if (physical < memory.size()) {
            throw new IllegalArgumentException("the doorbell must be outside guest memory: 0x" + Long.toHexString(physical));
        }
        long pt = table(address, true);
        memory.putLong(pt + ((address >>> 12) & 511) * 8,
                (physical & ADDRESS_MASK) | PRESENT | WRITABLE | USER | NO_EXECUTE | ACCESSED_DIRTY);
    }

    private static boolean losesPermission(long old, long entry) {
        long granted = PRESENT | WRITABLE | USER;
        return (old & granted & ~entry) != 0 || ((entry & NO_EXECUTE) & ~old) != 0
                || (old & ADDRESS_MASK) != (entry & ADDRESS_MASK);
    }

    /** The leaf entry for {@code address}, or 0 when not mapped. */
    public long entry(long address) {
        long pt = table(address, false);
        return pt == 0 ? 0 : memory.getLong(pt + ((address >>> 12) & 511) * 8);
    }

    /** The page table covering {@code va}, created on demand; 0 when absent and not created. */
    private long table(long va, boolean create) {
        long table = poolStart;
        for (int shift = 39; shift >= 21; shift -= 9) {
            long slot = table + ((va >>> shift) & 511) * 8;
            long entry = memory.getLong(slot);
            if ((entry & PRESENT) == 0) {
                if (!create) {
                    return 0;
                }
                long page = allocate();
                int index = (int) ((page - poolStart) / GuestLayout.PAGE_SIZE);
                if (index >= entryShift.length) {
                    entryShift = java.util.Arrays.copyOf(entryShift, Math.max(index + 1, entryShift.length * 2));
                    baseAddress = java.util.Arrays.copyOf(baseAddress, entryShift.length);
                }
                entryShift[index] = (byte) (shift - 9);
                baseAddress[index] = va & -(1L << shift);
                entry = page | TABLE_FLAGS;
                memory.putLong(slot, entry);
            }
            table = entry & ADDRESS_MASK;
        }
        return table;
    }

    private long allocate() {
        if (next >= poolEnd) {
            throw new IllegalStateException("page-table pool exhausted");
        }
        long page = next;
        next += GuestLayout.PAGE_SIZE;
        memory.expose(page, GuestLayout.PAGE_SIZE);
        memory.fill(page, GuestLayout.PAGE_SIZE, (byte) 0);
        return page;
    }
}
