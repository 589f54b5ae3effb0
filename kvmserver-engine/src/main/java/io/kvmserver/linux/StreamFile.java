package io.kvmserver.linux;

import io.kvmserver.host.OpenFlags;

import io.kvmserver.host.SyscallNumbers;

import io.kvmserver.host.Errno;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;
import io.kvmserver.host.StructStat;

/**
 * A host fd that is a stream rather than a file: pipe, eventfd, timerfd, socket. The host fd is
 * always non-blocking; when the guest's own description is blocking, a read or write that would
 * block waits through the VM's {@link HostWaiter}, so it can be cut short from another thread.
 */
public class StreamFile extends FileDescription {

    private static final int S_IFIFO = 0010000;
    private static final int S_IFCHR = 0020000;

    protected final int fd;
    protected final boolean owner;
    private final String name;
    private final int mode;
    /** For a FIFO no path named at the freeze: one key per FIFO, the same object for each of its descriptions. */
    private String deletedFifoKey;
    /** The template's reader of that FIFO, from which forks copy what it held. */
    private int frozenReader = -1;
    /** For a device: 1 if it is one that never ends a read short, -1 if not, 0 until known. */
    private int endless;

    public StreamFile(int fd, boolean owner, int statusFlags, String name, int mode) {
        super(statusFlags);
        this.fd = fd;
        this.owner = owner;
        this.name = name;
        this.mode = mode;
    }

    /** Whether this is a pipe or a FIFO (both {@code S_IFIFO}). */
    boolean isPipe() {
        return mode == S_IFIFO;
    }

    /** The pause before an operation refused though poll said ready is tried again (see {@link #blocking}). */
    static final long REFUSED_RETRY_NANOS = 1_000_000L;

    protected final boolean guestBlocking() {
        return (statusFlags & OpenFlags.O_NONBLOCK) == 0;
    }

    /**
     * Runs a non-blocking host operation, waiting for {@code events} between tries while it
     * would block and the guest asked to block: {@code -EINTR} when the wait was kicked,
     * {@code -EAGAIN} when the description's timeout for that direction passed
     * ({@code SO_RCVTIMEO}, {@code SO_SNDTIMEO}).
     */
    protected final long blocking(HostWaiter waiter, short events, HostFile.HostCall op) {
        return blocking(waiter, events, op, guestBlocking());
    }

    /** {@link #blocking}, waiting only if {@code mayWait} (a call's own {@code MSG_DONTWAIT} says not). */
    protected final long blocking(HostWaiter waiter, short events, HostFile.HostCall op, boolean mayWait) {
        return blocking(waiter, events, op, mayWait, waiter.deadlineAfter(timeoutNanos(events)));
    }

    /**
     * {@link #blocking}, until {@code deadline} (a {@link Deadline}): one timeout for a call made of
     * several operations ({@code MSG_WAITALL}'s).
     *
     * <p>Poll's readiness is not always a promise: an unconnected unix datagram socket polls
     * writable while the receiver it names is full, and a socket that drops what the program may
     * not see polls readable for a stranger's datagram. An operation refused again right after a
     * wait that said ready is tried again after a pause instead, where Linux's sender sleeps until
     * the peer reads: polling again would return at once, and the host thread would spin for the
     * whole time limit. Not while the thread's waits park (a program with other threads or
     * timers): a parked pause would be tried again with the call's own deadline, and the wait
     * for the file is recorded as ever (the scheduler then tries the call again when it polls ready).
     */
    protected final long blocking(HostWaiter waiter, short events, HostFile.HostCall op, boolean mayWait,
            long deadline) {
        touched();
        boolean toldReady = false;
        while (true) {
            long n = HostFile.call(op);
            if (n != -Errno.EAGAIN || !mayWait) {
                return n;
            }
            long remaining = Deadline.remaining(deadline);
            int waited;
            if (toldReady && !waiter.parking()) {
                if (remaining == 0) {
                    return -Errno.EAGAIN;
                }
                waited = waiter.sleep(remaining < 0 ? REFUSED_RETRY_NANOS : Math.min(REFUSED_RETRY_NANOS, remaining));
                toldReady = false;
                if (waited == HostWaiter.WAIT_TIMED_OUT) {
                    continue; // the pause, not the deadline
                }
            } else {
                waited = waiter.awaitOne(fd, events, remaining);
                toldReady = waited == HostWaiter.WAIT_READY;
            }
            if (waited == HostWaiter.WAIT_PARKED) {
                return Syscall.RESTART;
            }
            if (waited == HostWaiter.WAIT_KICKED) {
                return -Errno.EINTR;
            }
            if (waited == HostWaiter.WAIT_TIMED_OUT) {
                return -Errno.EAGAIN;
            }
        }
    }

    /** How long a blocking operation waiting for {@code events} may wait; negative: forever. */
    protected long timeoutNanos(short events) {
        return -1;
    }

    /** One transfer on the stream, with emulated blocking: what read, write, send and recv share. */
    public long io(HostWaiter waiter, short events, HostFile.HostCall op) {
        return blocking(waiter, events, op);
    }

    @Override
    public long read(HostWaiter waiter, long hostBuffer, long count) {
        if (mode != S_IFCHR || !endlessDevice()) {
            return io(waiter, HostWaiter.POLLIN, () -> LibC.read(fd, hostBuffer, count));
        }
        // /dev/zero, /dev/random, /dev/urandom read short by the engine's own signals (the vCPU's
        // time slice) go on until the count, as on Linux for a program no signal reached, unless
        // the VM was kicked; an end (0) or an error ends it. Other devices may give one record per
        // read (a tty, tun, /dev/kmsg): those are read once.
        long total = 0;
        while (total < count) {
            long at = total;
            long n = io(waiter, HostWaiter.POLLIN, () -> LibC.read(fd, hostBuffer + at, count - at));
            if (n <= 0) {
                return total > 0 ? total : n;
            }
            total += n;
            if (waiter.isKicked()) {
                break;
            }
        }
        return total;
    }

    @Override
    public long write(HostWaiter waiter, long hostBuffer, long count) {
        return io(waiter, HostWaiter.POLLOUT, () -> LibC.write(fd, hostBuffer, count));
    }

    @Override
    public boolean vectorsInOneCall() {
        return true;
    }

    @Override
    public long vector(HostWaiter waiter, boolean writing, long hostIov, int count) {
        int nr = writing ? SyscallNumbers.WRITEV : SyscallNumbers.READV;
        return io(waiter, writing ? HostWaiter.POLLOUT : HostWaiter.POLLIN, () -> LibC.syscall(nr, fd, hostIov, count, 0, 0, 0));
    }

    @Override
    public long stat(long hostStatBuffer) {
        return HostFile.call(() -> LibC.syscall(SyscallNumbers.FSTAT, fd, hostStatBuffer, 0, 0, 0, 0));
    }

    @Override
    public long ioctl(long request, long argument, AddressSpace memory) {
        if (request == 0x541b) { // FIONREAD
            long host = memory.writable(argument, 4);
            return HostFile.call(() -> LibC.ioctl(fd, request, host));
        }
        return -Errno.ENOTTY;
    }

    @Override
    public int hostFd() {
        return fd;
    }

    @Override
    public String path() {
        return name;
    }

    /** The file type bits for {@code fstat}-like answers (pipes are FIFOs, sockets sockets). */
    public int mode() {
        return mode;
    }

    /** Whether this is /dev/zero, /dev/random or /dev/urandom (1:5, 1:8, 1:9), which never end a read short. */
    private boolean endlessDevice() {
        if (endless == 0) {
            long rdev = -1;
            try (Memory st = new Memory(StructStat.SIZE)) {
                if (stat(Pointer.nativeValue(st)) == 0) {
                    rdev = st.getLong(StructStat.ST_RDEV);
                }
            }
            endless = (rdev == 0x105 || rdev == 0x108 || rdev == 0x109) ? 1 : -1;
        }
        return endless > 0;
    }

    /** Notes whether this is a FIFO nobody can open any more: forks then replicate it ({@link DeletedFifo}). */
    @Override
    public void freeze(FrozenBytes budget) {
        if (mode != S_IFIFO || deletedFifoKey != null) {
            return;
        }
        try (Memory st = new Memory(StructStat.SIZE)) {
            if (stat(Pointer.nativeValue(st)) == 0 && st.getLong(StructStat.ST_NLINK) == 0) {
                frozenReader = DeletedFifo.frozenReader(fd);
                deletedFifoKey = ("deleted fifo " + st.getLong(StructStat.ST_DEV) + ":" + st.getLong(StructStat.ST_INO)).intern();
            }
        } catch (LastErrorException e) {
            // No reader of it can be opened: forks share it as a FIFO a path names.
        }
    }

    /**
     * A FIFO or device opened by path: the copy shares the host fd, whose only state is the
     * file's own (data in a FIFO is the file system's, as between processes on Linux); its
     * blocking and flags are the copy's. A FIFO no path names any more is the process's own
     * channel: the copy opens this fork's replica of it.
     */
    @Override
    public FileDescription fork(ForkContext context) {
        if (deletedFifoKey != null) {
            DeletedFifo.Replica replica = context.replica(deletedFifoKey, () -> DeletedFifo.replicate(frozenReader));
            return new StreamFile(replica.open(statusFlags & OpenFlags.O_ACCMODE), true, statusFlags, name, mode);
        }
        return new StreamFile(fd, false, statusFlags, name, mode);
    }

    @Override
    protected void closeHost() {
        if (owner) {
            closeFd();
        }
        if (frozenReader >= 0) {
            LibC.close(frozenReader);
        }
    }

    /** Closes the host fd this description owns, its last reference gone. */
    protected void closeFd() {
        LibC.close(fd);
    }
}
