package io.kvmserver.x86;

/**
 * The two pages through which the PVM syscall entry ({@link TrapStub#FAST_SYSCALL_ENTRY}) answers
 * calls in the guest, laid out as {@code trap-stub.S} reads and writes them.
 *
 * <p>The <em>answer page</em> is written only by the host, before every entry into the guest, and
 * is read-only for the program: what the entry may answer without the host (the served
 * connection, whether its close and writes may be queued and how many bytes it takes without
 * blocking, a listener with nothing to accept). The <em>queue page</em> is the entry's, and so the
 * program's too: the calls it queued, their bytes, a save area and a few bytes of stack. The host
 * reads it only while the vCPU is stopped and checks each entry as it would the call itself.
 */
public final class GuestCallPages {

    private GuestCallPages() {
    }

    /** The answer page: read-only for the program, never executable. */
    public static final long ANSWERS = 0xb000;
    /** {@code int}: the guest fd of the connection the VM serves, or -1. */
    public static final long CONNECTION_FD = ANSWERS;
    /** {@code int}: {@link #WRITES_QUEUED} when writes to that connection may be queued. */
    public static final long CONNECTION_FLAGS = ANSWERS + 4;
    /** {@code int}: a listener whose {@code accept} fails with {@code EAGAIN} now, or -1. */
    public static final long LISTENER_FD = ANSWERS + 8;
    /** {@code int}: bytes the connection takes without blocking now, at most {@link #DATA_SIZE}. */
    public static final long WRITE_BUDGET = ANSWERS + 12;
    public static final int WRITES_QUEUED = 2;

    /** The queue page: written by the entry (and maybe the program), never executable. */
    public static final long QUEUE = 0xc000;
    /** {@code int}: entries queued. */
    public static final long COUNT = QUEUE;
    /** {@code int}: data bytes queued. */
    public static final long BYTES = QUEUE + 4;
    /** Where the entry saved RCX, RSI and RDI before copying a buffer (see {@link TrapStub#FAST_COPY_RIP}). */
    public static final long SAVED_RCX = QUEUE + 24;
    public static final long SAVED_RSI = QUEUE + 32;
    public static final long SAVED_RDI = QUEUE + 40;
    /** 16 bytes each: {@code u32} system call number, fd, data offset, data length. */
    public static final long ENTRIES = QUEUE + 128;
    public static final int ENTRY_SIZE = 16;
    public static final int MAX_ENTRIES = 8;
    /** The bytes of queued writes. */
    public static final long DATA = QUEUE + 256;
    public static final int DATA_SIZE = (int) (GuestLayout.PAGE_SIZE - 256);
}
