package io.kvmserver.vdso;

import com.sun.jna.Pointer;
import io.kvmserver.x86.GuestLayout;

/**
 * The vDSO's data page ({@code [vvar]}) in one template's guest memory, as the host writes it;
 * {@code vdso.S} reads the same offsets ({@code VdsoCodeTest} compares them).
 *
 * <pre>
 * 0x00  u32  seq          publications so far; the current slot is seq &amp; 1
 * 0x08  u64  user start   pointers below it get the system call (EFAULT), not a write
 * 0x10  u64  user end     end of the program's address range
 * 0x40  slot 0, 0x100 slot 1: for each clock id 0..7 {u64 tsc base, u64 ns at tsc base, u64 mult}
 *       ns(tsc) = base + ((tsc - tsc base) * mult &gt;&gt; 32); mult 0: the vDSO makes the system call
 * </pre>
 *
 * <p>Two slots instead of a classic seqlock, so that the guest never waits for the host: the host
 * fills the slot readers are not using, then increments {@code seq}; a reader retries only if a
 * publication happened while it read. The page is the template's (written through its
 * {@code MAP_SHARED} view); request VMs see every publication through their copy-on-write view,
 * since no one ever writes it there: the program maps it read-only, and it lies outside anything
 * the program can map, unmap or hand to a system call.
 *
 * <p>Not thread-safe: {@link GuestClock} publishes under its lock.
 */
public final class TimePage implements AutoCloseable {

    public static final int SEQ = 0x00;
    public static final int USER_START = 0x08;
    public static final int USER_END = 0x10;
    public static final int SLOTS = 0x40;
    public static final int SLOT_SIZE = 0xc0;
    public static final int CLOCK_TSC_BASE = 0x00;
    public static final int CLOCK_BASE_NS = 0x08;
    public static final int CLOCK_MULT = 0x10;
    public static final int CLOCK_SIZE = 0x18;
    /** Clock ids 0 ({@code CLOCK_REALTIME}) to 7 ({@code CLOCK_BOOTTIME}) have an entry. */
    public static final int CLOCKS = 8;

    private final GuestClock clock;
    private final Pointer page;
    private final long hostAddress;
    private int seq;

    /**
     * A zeroed page at {@code hostAddress} (the host's address of {@link GuestLayout#VVAR}): every
     * clock goes to the system call until the first {@link #publish}.
     */
    TimePage(GuestClock clock, long hostAddress, long userStart, long userEnd) {
        this.clock = clock;
        this.hostAddress = hostAddress;
        this.page = new Pointer(hostAddress);
        page.setMemory(0, GuestLayout.PAGE_SIZE, (byte) 0);
        page.setLong(USER_START, userStart);
        page.setLong(USER_END, userEnd);
    }

    long hostAddress() {
        return hostAddress;
    }

    /**
     * Writes {@code clocks} ({@link #CLOCKS} entries of {tsc base, ns, mult}) into the slot no
     * reader uses, then makes it current. Each store is a JNA native call, which neither the JIT
     * nor the CPU (x86 keeps stores in order) moves past the final store of {@code seq}.
     */
    void publish(long[] clocks) {
        int next = seq + 1;
        long slot = SLOTS + (long) (next & 1) * SLOT_SIZE;
        page.write(slot, clocks, 0, CLOCKS * 3);
        page.setInt(SEQ, next);
        seq = next;
    }

    /** Publications so far. */
    int seq() {
        return seq;
    }

    /** Stops the updates; call before the guest memory holding the page is unmapped. */
    @Override
    public void close() {
        clock.detach(this);
    }
}
