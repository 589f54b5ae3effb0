package io.kvmserver.linux;

import io.kvmserver.host.SyscallNumbers;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import io.kvmserver.host.HostCallException;
import io.kvmserver.host.LibC;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Where a VM's thread blocks when the guest waits: every blocking wait is a host {@code poll}
 * that also watches this waiter's eventfd, so that another thread can end any wait at once
 * ({@link #kick()}) to stop a request that ran out of time or to shut down.
 *
 * <p>Each VM blocks only on its own thread; the waiter is handed to every operation that may block
 * (system calls reach it through their {@link Syscall} context), so file descriptions hold no
 * reference to their VM and a template's can be forked into any VM.
 */
public final class HostWaiter implements AutoCloseable {

    private final AtomicBoolean closed = new AtomicBoolean();

    public static final short POLLIN = 0x001;
    public static final short POLLPRI = 0x002;
    public static final short POLLOUT = 0x004;
    public static final short POLLERR = 0x008;
    public static final short POLLHUP = 0x010;
    public static final short POLLNVAL = 0x020;
    public static final short POLLRDNORM = 0x040;
    public static final short POLLRDBAND = 0x080;
    public static final short POLLWRNORM = 0x100;
    public static final short POLLWRBAND = 0x200;
    public static final short POLLRDHUP = 0x2000;
    private static final int EFD_NONBLOCK = 04000;
    private static final int EFD_CLOEXEC = 02000000;
    private static final int EINTR = 4;
    private static final long FIONREAD = 0x541b;
    /** A wait that ended because of {@link #kick()}. */
    public static final long KICKED = -1;

    private final int kickFd;
    private final Memory pollfds = new Memory((FdTable.LIMIT + 2) * 8L);
    /**
     * The 1 that {@link #kick} and {@link #wake} add to the eventfd: written once, only read, since
     * other threads kick while the vCPU thread uses {@link #readable}.
     */
    private final Memory one = new Memory(8);
    /** {@code FIONREAD}'s answer, for the vCPU thread alone. */
    private final Memory readable = new Memory(8);
    private final Memory timespec = new Memory(16);
    private final Memory drain = new Memory(8);
    private volatile boolean kicked;
    private ConnectionTracker connections = ConnectionTracker.UNLIMITED;
    private final Readiness readiness = new Readiness(this);
    /**
     * Host fds of the shared listeners this VM's waits have polled since its reset: the template's,
     * which outlive every request VM, so the VM holds no host fd for them. A VM has at most
     * {@link FdTable#LIMIT} listeners.
     */
    private final int[] listenerFds = new int[FdTable.LIMIT];
    private int listenerCount;
    /**
     * Whether the VM waits with every thread parked and the shared listener among what it waits
     * for: back at its wait for clients, however long its connections stay open. Written by the
     * vCPU thread, read by the time-limit check ({@link #waitingForClients}).
     */
    private volatile boolean waitingForClients;
    /** When the last such wait ended ({@link System#nanoTime()}), 0 if none did since the reset. */
    private volatile long clientWaitEnded = System.nanoTime();

    public HostWaiter() {
        one.setLong(0, 1);
        try {
            kickFd = (int) LibC.syscall(SyscallNumbers.EVENTFD2, 0, EFD_NONBLOCK | EFD_CLOEXEC, 0, 0, 0, 0);
        } catch (LastErrorException e) {
            throw new HostCallException("eventfd2 failed", e.getErrorCode());
        }
    }

    /**
     * The fd a wait polls for connections on the shared listener at host fd {@code listenerFd}:
     * the listener itself, remembered so that a wait that holds it counts as a wait for clients
     * ({@link #waitingForClients}). Every idle VM polls it, so a connection wakes each of them;
     * one accepts, the others find {@code EAGAIN} and wait again. A per-VM epoll registered with
     * {@code EPOLLEXCLUSIVE} would not spare them: the exclusive wake-up reaches only a thread
     * blocked in {@code epoll_wait} on it, and a VM's wait is a {@code ppoll} (it must also watch
     * its kick fd and whatever else the program waits for), which every such epoll wakes.
     */
    public int listenerWaitFd(int listenerFd) {
        for (int i = 0; i < listenerCount; i++) {
            if (listenerFds[i] == listenerFd) {
                return listenerFd;
            }
        }
        if (listenerCount < listenerFds.length) {
            listenerFds[listenerCount++] = listenerFd;
        }
        return listenerFd;
    }

    Readiness readiness() {
        return readiness;
    }

    /** How this VM takes connections from a shared listener. */
    public ConnectionTracker connections() {
        return connections;
    }

    public void setConnections(ConnectionTracker tracker) {
        this.connections = tracker;
    }

    /** Ends the current wait, and makes every later one end at once until {@link #reset()}. */
    public void kick() {
        kicked = true;
        addOne();
    }

    /**
     * Ends the current wait (or the next one) once, with {@code EINTR}, without making later
     * waits end: a nudge, as the warmup gives the template so that it reaches its next wait.
     */
    public void wake() {
        addOne();
    }

    private void addOne() {
        try {
            LibC.write(kickFd, com.sun.jna.Pointer.nativeValue(one), 8);
        } catch (LastErrorException ignored) {
            // the counter is already non-zero: the wait ends anyway
        }
    }

    public boolean isKicked() {
        return kicked;
    }

    public void reset() {
        listenerCount = 0;
        waitingForClients = false;
        clientWaitEnded = System.nanoTime(); // it resumes at the frozen wait, which it left at the freeze
        if (!kicked) {
            return; // nothing was written to the eventfd: spare the reset a host call
        }
        kicked = false;
        drainWake();
    }

    /** Whether one of the first {@code count} pollfds is a shared listener ({@link #listenerWaitFd}). */
    private boolean watchesListener(int count) {
        for (int i = 0; i < count; i++) {
            int fd = pollfds.getInt(i * 8L);
            for (int j = 0; j < listenerCount; j++) {
                if (fd == listenerFds[j]) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * Whether the VM is waiting for its clients now: every thread parked, the shared listener
     * among what they wait for. Without ephemeral, such a VM is idle as a server process between
     * requests is, however long its connections stay open.
     */
    public boolean waitingForClients() {
        return waitingForClients;
    }

    /**
     * When the VM last stopped waiting for its clients ({@link System#nanoTime()}), or was made or
     * reset (it resumes at the frozen wait, which the template left at its freeze): a program that
     * never gets back to a wait (an {@code accept} that fails at once, spun on) is limited from there.
     */
    public long clientWaitEnded() {
        return clientWaitEnded;
    }

    /** Empties the kick eventfd, unless a kick is in force (then every wait must keep ending). */
    private void drainWake() {
        if (kicked) {
            return;
        }
        try {
            LibC.read(kickFd, com.sun.jna.Pointer.nativeValue(drain), 8);
        } catch (LastErrorException ignored) {
            // nothing to drain
        }
    }

    /** The {@code struct pollfd} array to fill before {@link #poll(int, long)}. */
    public Memory pollfds() {
        return pollfds;
    }

    public static void setPollfd(Memory buffer, int index, int fd, short events) {
        long at = index * 8L;
        buffer.setInt(at, fd);
        buffer.setShort(at + 4, events);
        buffer.setShort(at + 6, (short) 0);
    }

    public static short revents(Memory buffer, int index) {
        return buffer.getShort(index * 8L + 6);
    }

    // ---- parking: a thread's wait while other threads may run ----

    /** {@link #poll}: the wait was recorded, not performed: the calling thread must park. */
    public static final long PARKED = -2;

    private boolean parking;
    private long retryDeadline = Deadline.NEVER;
    private boolean retrying;
    private final int[] recordedFds = new int[FdTable.LIMIT + 2];
    private final short[] recordedEvents = new short[FdTable.LIMIT + 2];
    private int recordedCount;
    private long recordedDeadline = Deadline.NEVER;
    private long recordedFutex = -1;
    private int recordedBitset;
    private long recordedSignals;
    private final java.util.List<FileDescription> recordedEdgeFiles = new java.util.ArrayList<>();

    /**
     * Whether a wait must not block the host thread but be recorded for the scheduler: when other
     * guest threads could run meanwhile, or when the scheduler tries a parked call again.
     */
    public void setParking(boolean parking) {
        this.parking = parking;
    }

    public boolean parking() {
        return parking;
    }

    /**
     * The scheduler tries a parked call again: its waits use the deadline it parked with, not a
     * new one from its relative timeout ({@link #deadlineAfter}).
     */
    void beginRetry(long deadline) {
        retrying = true;
        retryDeadline = deadline;
    }

    void endRetry() {
        retrying = false;
        retryDeadline = Deadline.NEVER;
    }

    /** Whether the call running is a parked call tried again. */
    public boolean retrying() {
        return retrying;
    }

    /**
     * The deadline of a wait of {@code timeoutNanos} (negative: none) starting now; for a call
     * tried again, the deadline it first had, so that waiting again does not start its time over.
     */
    public long deadlineAfter(long timeoutNanos) {
        if (timeoutNanos == 0) {
            return Deadline.after(0);
        }
        return retrying ? retryDeadline : Deadline.after(timeoutNanos);
    }

    /** Records a futex wait for the scheduler (see {@link #takeRecorded}). */
    public void recordFutex(long address, int bitset, long deadline) {
        clearRecorded();
        recordedFutex = address;
        recordedBitset = bitset;
        recordedDeadline = deadline;
    }

    /** Records a wait for any signal in {@code set} (rt_sigsuspend, rt_sigtimedwait, pause). */
    public void recordSignalWait(long set, long deadline) {
        clearRecorded();
        recordedSignals = set;
        recordedDeadline = deadline;
    }

    /**
     * Adds to the wait just recorded a file an edge-triggered epoll left out of it (see
     * {@link GuestThread.Parked#edgeFiles}).
     */
    void recordEdgeFile(FileDescription f) {
        recordedEdgeFiles.add(f);
    }

    private void clearRecorded() {
        recordedEdgeFiles.clear();
        recordedCount = 0;
        recordedFutex = -1;
        recordedBitset = 0;
        recordedSignals = 0;
        recordedDeadline = Deadline.NEVER;
    }

    /** What the last parked wait waits for, as the scheduler keeps it, for the call {@code number(args)}. */
    GuestThread.Parked takeRecorded(long number, long[] args) {
        GuestThread.Parked p = new GuestThread.Parked(number, args.clone(),
                java.util.Arrays.copyOf(recordedFds, recordedCount), java.util.Arrays.copyOf(recordedEvents,
                        recordedCount), recordedCount, recordedDeadline, recordedFutex, recordedBitset,
                recordedSignals);
        if (!recordedEdgeFiles.isEmpty()) {
            p.edgeFiles = recordedEdgeFiles.toArray(new FileDescription[0]);
            p.edgeEpochs = new long[p.edgeFiles.length];
            for (int i = 0; i < p.edgeFiles.length; i++) {
                p.edgeEpochs[i] = p.edgeFiles[i].ioEpoch();
            }
        }
        clearRecorded();
        return p;
    }

    /**
     * Polls the first {@code count} entries of {@link #pollfds()} for up to {@code timeoutNanos}
     * (negative: forever). Returns the number of ready entries, 0 on timeout, {@link #KICKED}
     * when kicked, or {@code -errno}; or {@link #PARKED} when parking (a wait that would block
     * is recorded instead of performed).
     */
    public long poll(int count, long timeoutNanos) {
        if (kicked) {
            return KICKED;
        }
        if (parking && timeoutNanos != 0) {
            // Whatever is ready now is the answer; only a wait that would block is recorded.
            long now = pollAll(count, 0);
            if (now != 0) {
                return now;
            }
            clearRecorded();
            for (int i = 0; i < count; i++) {
                recordedFds[i] = pollfds.getInt(i * 8L);
                recordedEvents[i] = pollfds.getShort(i * 8L + 4);
            }
            recordedCount = count;
            recordedDeadline = retrying ? retryDeadline : Deadline.after(timeoutNanos);
            return PARKED;
        }
        return pollAll(count, timeoutNanos);
    }

    /**
     * {@link #poll}, always performed: the scheduler's wait on behalf of every parked thread,
     * which only the deadline, a kick or a ready fd ends.
     */
    public long pollAll(int count, long timeoutNanos) {
        if (kicked) {
            return KICKED;
        }
        // A wait that may block is made with every guest thread waiting (one thread's own call,
        // or the scheduler's wait for all of them): with the listener among its fds, the VM is
        // back at its wait for clients.
        boolean forClients = timeoutNanos != 0 && watchesListener(count);
        if (!forClients) {
            return pollHost(count, timeoutNanos);
        }
        waitingForClients = true;
        try {
            return pollHost(count, timeoutNanos);
        } finally {
            clientWaitEnded = System.nanoTime(); // before the flag: a reader that sees it clear sees this
            waitingForClients = false;
        }
    }

    private long pollHost(int count, long timeoutNanos) {
        // A wait that may block also watches the request's connection: if its client hangs up
        // while the program waits for something else, the request is over.
        int watch = timeoutNanos != 0 ? connections.hangupWatchFd() : -1;
        int extra = 0;
        if (watch >= 0) {
            setPollfd(pollfds, count, watch, POLLRDHUP);
            extra = 1;
        }
        int kickIndex = count + extra;
        setPollfd(pollfds, kickIndex, kickFd, POLLIN);
        long deadline = Deadline.after(timeoutNanos);
        while (true) {
            long left = Deadline.remaining(deadline);
            if (left >= 0) {
                timespec.setLong(0, left / 1_000_000_000L);
                timespec.setLong(8, left % 1_000_000_000L);
            }
            long n;
            try {
                n = LibC.syscall(SyscallNumbers.PPOLL, com.sun.jna.Pointer.nativeValue(pollfds), kickIndex + 1,
                        left < 0 ? 0 : com.sun.jna.Pointer.nativeValue(timespec), 0, 8, 0);
            } catch (LastErrorException e) {
                if (e.getErrorCode() == EINTR) {
                    continue;
                }
                return -e.getErrorCode();
            }
            if (kicked) {
                return KICKED;
            }
            if (revents(pollfds, kickIndex) != 0) {
                drainWake();
                return KICKED;
            }
            if (extra != 0 && revents(pollfds, count) != 0) {
                if (n - 1 > 0) {
                    // The program's own fds are ready too: it learns what it waited for first (a
                    // read of this very connection finds the end of the stream, and a client that
                    // only shut down its side still gets its response); the next wait looks again.
                    return n - 1;
                }
                if (nothingToRead(watch) && connections.clientHungUp()) {
                    return KICKED;
                }
                // Hung up with data left (the program will read it), or only shut down its side
                // after its request: stop watching until the program has used the connection.
                connections.clientHungUpWithData();
                return n - 1 > 0 ? n - 1 : pollAll(count, Deadline.remaining(deadline));
            }
            return n;
        }
    }

    /**
     * Sleeps for {@code nanos} (a guest's nanosleep), waking early only when kicked: a sleeping
     * request still ends at its time limit. Returns {@link #WAIT_TIMED_OUT} when the full time
     * passed, {@link #WAIT_KICKED}, or {@link #WAIT_PARKED} when parking.
     */
    public int sleep(long nanos) {
        long n = poll(0, Math.max(0, nanos));
        return n == PARKED ? WAIT_PARKED : n == 0 ? WAIT_TIMED_OUT : WAIT_KICKED;
    }

    private boolean nothingToRead(int fd) {
        return bytesToRead(fd) <= 0; // -1: the connection is broken, nothing will ever be read from it
    }

    /** The bytes the socket at host fd {@code fd} holds ({@code FIONREAD}), or -1 when it cannot say; the vCPU thread's. */
    int bytesToRead(int fd) {
        readable.setInt(0, 0);
        try {
            LibC.ioctl(fd, FIONREAD, com.sun.jna.Pointer.nativeValue(readable));
            return readable.getInt(0);
        } catch (LastErrorException e) {
            return -1;
        }
    }

    /** {@link #awaitOne(int, short, long)}: the fd became ready. */
    public static final int WAIT_READY = 1;
    /** {@link #awaitOne(int, short, long)}: the timeout passed first. */
    public static final int WAIT_TIMED_OUT = 0;
    /** {@link #awaitOne(int, short, long)}: the VM was kicked. */
    public static final int WAIT_KICKED = -1;
    /** {@link #awaitOne(int, short, long)}: the wait was recorded; the thread must park. */
    public static final int WAIT_PARKED = -2;


    /**
     * Waits up to {@code timeoutNanos} (negative: forever) until one host fd is ready for
     * {@code events}: {@link #WAIT_READY}, {@link #WAIT_TIMED_OUT}, {@link #WAIT_KICKED} or
     * {@link #WAIT_PARKED}.
     */
    public int awaitOne(int fd, short events, long timeoutNanos) {
        setPollfd(pollfds, 0, fd, events);
        long n = poll(1, timeoutNanos);
        if (n == PARKED) {
            return WAIT_PARKED;
        }
        return n == KICKED ? WAIT_KICKED : n > 0 ? WAIT_READY : n == 0 ? WAIT_TIMED_OUT : WAIT_READY;
    }

    @Override
    /** Releases the waiter's host fds and buffers; idempotent. */
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        LibC.close(kickFd);
        pollfds.close();
        one.close();
        readable.close();
        timespec.close();
        drain.close();
    }
}
