package io.kvmserver.linux;

import io.kvmserver.host.Errno;

/**
 * An open file description, as Linux has them: what one or more guest fds refer to. Each kind of
 * file (host file, console, pipe, socket, epoll, eventfd) overrides the operations it supports;
 * the defaults return the errno Linux gives for a file that does not support them.
 *
 * <p>Buffers arrive as <em>host</em> addresses of guest ranges that the caller has already
 * checked against the guest's mappings, so an implementation never sees a raw guest pointer.
 */
public abstract class FileDescription {

    private int references = 1;
    /**
     * Counts the guest's transfers on this file (reads, writes, sends, receives, accepts): an
     * edge-triggered epoll registration re-arms once the program has done I/O since it last
     * reported the file ({@link EpollFile}).
     */
    private long ioEpoch;
    /** {@code O_APPEND}, {@code O_NONBLOCK} and friends, as {@code F_GETFL} reports them. */
    protected int statusFlags;

    protected FileDescription(int statusFlags) {
        this.statusFlags = statusFlags;
    }

    public long read(HostWaiter waiter, long hostBuffer, long count) {
        return -Errno.EINVAL;
    }

    public long write(HostWaiter waiter, long hostBuffer, long count) {
        return -Errno.EINVAL;
    }

    public long pread(long hostBuffer, long count, long offset) {
        return -Errno.ESPIPE;
    }

    public long pwrite(long hostBuffer, long count, long offset) {
        return -Errno.ESPIPE;
    }

    public long seek(long offset, int whence) {
        return -Errno.ESPIPE;
    }

    /** Writes a {@code struct stat} (144 bytes on x86-64) to the host address. */
    public abstract long stat(long hostStatBuffer);

    public long getdents64(long hostBuffer, long count) {
        return -Errno.ENOTDIR;
    }

    public long ioctl(long request, long argument, AddressSpace memory) {
        return -Errno.ENOTTY;
    }

    public long truncate(long length) {
        return -Errno.EINVAL;
    }

    public long sync() {
        return 0;
    }

    /** The host fd behind this description, for {@code mmap} of files; -1 when there is none. */
    public int hostFd() {
        return -1;
    }

    /** The guest path it was opened with, for {@code /proc/self/fd}. */
    public String path() {
        return null;
    }

    /**
     * For a directory: its guest path now, which may differ from {@link #path()} when it has been
     * renamed since it was opened; null when the guest can no longer name it.
     */
    public String currentGuestPath(io.kvmserver.sandbox.FileSystemPolicy policy) {
        return null;
    }

    /** Whether the guest may change this file's times or mode through the descriptor. */
    public boolean mayChangeAttributes(io.kvmserver.sandbox.FileSystemPolicy policy) {
        return false;
    }

    public boolean isDirectory() {
        return false;
    }

    /**
     * Whether readv and writev take a vector in one transfer ({@link #vector}), as the kernel
     * does on a stream: a datagram is one message, a read returns what is there without waiting
     * for the rest, a pipe write up to {@code PIPE_BUF} is atomic (the console gathers such a
     * vector into one write). False for descriptions whose buffers are transferred one at a
     * time: regular files, which keep their offset here, and the engine's other files.
     */
    public boolean vectorsInOneCall() {
        return false;
    }

    /** readv or writev of {@code count} host buffers ({@code struct iovec}s at {@code hostIov}) in one transfer. */
    public long vector(HostWaiter waiter, boolean writing, long hostIov, int count) {
        throw new UnsupportedOperationException("transferred one buffer at a time");
    }

    /**
     * The whole content of this file, read through its own host fd (no path is opened again), when
     * it is a regular file of at most {@code maxBytes}; null otherwise. Host memory for it is
     * bounded by {@code maxBytes}, whatever the file.
     */
    public byte[] readRegular(long maxBytes) {
        return null;
    }

    // ---- readiness, for poll, select and epoll ----

    /** The host fd a wait watches for this file; -1 when readiness is known without the host. */
    public int pollHostFd(HostWaiter waiter) {
        return hostFd();
    }

    /**
     * Host poll events to watch for these guest events; 0 leaves the file out of the host wait
     * (a shared listener that may not accept right now).
     */
    public short pollEvents(HostWaiter waiter, short guestEvents) {
        return guestEvents;
    }

    /** Readiness of a file with no host fd: such files (console, made-up files) never block. */
    public short readinessWithoutHost(short events) {
        return (short) (events & (HostWaiter.POLLIN | HostWaiter.POLLOUT));
    }

    /** Turns the host's poll answer into the guest's; may act on it (a shared listener accepts). */
    public short ready(HostWaiter waiter, short hostRevents) {
        return hostRevents;
    }

    /** Whether this is a socket the program listens on: waiting on it is waiting for requests. */
    public boolean isListener() {
        return false;
    }

    /** The program transferred data on this file (or tried to). */
    public final void touched() {
        ioEpoch++;
    }

    final long ioEpoch() {
        return ioEpoch;
    }

    public int statusFlags() {
        return statusFlags;
    }

    public void setStatusFlags(int flags) {
        this.statusFlags = flags;
    }

    /**
     * A copy for a request VM's fd table. Nothing mutable may be shared with the template or with
     * another VM: the copy either shares a host object nobody can change through it (a regular
     * file's host fd, whose offset is kept here), builds its own replica of the object in the
     * state the template froze it in ({@link ForkContext#replica}), or refuses what would change
     * a shared object. The copy never closes what it shares.
     */
    public abstract FileDescription fork(ForkContext context);

    /**
     * Called once on each of the template's descriptions when it is frozen, before any fork:
     * captures what forks must replicate (data buffered in a pipe, an eventfd's counter).
     */
    public void freeze(FrozenBytes budget) {
    }

    final void retain() {
        references++;
    }

    /** Drops one reference; releases host resources with the last one. */
    final void release() {
        if (--references == 0) {
            closeHost();
        }
    }

    /** Closes host resources this description owns. */
    protected abstract void closeHost();
}
