package io.kvmserver.linux;

import io.kvmserver.kvm.LibC;

/**
 * A host fd that is a stream rather than a file: pipe, eventfd, timerfd, socket. The host fd is
 * always non-blocking; when the guest's own description is blocking, a read or write that would
 * block waits through the VM's {@link HostWaiter}, so it can be cut short from another thread.
 */
public class StreamFile extends FileDescription {

    protected final int fd;
    protected final boolean owner;
    private final String name;
    private final int mode;

    public StreamFile(int fd, boolean owner, int statusFlags, String name, int mode) {
        super(statusFlags);
        this.fd = fd;
        this.owner = owner;
        this.name = name;
        this.mode = mode;
    }

    protected final boolean guestBlocking() {
        return (statusFlags & OpenFlags.O_NONBLOCK) == 0;
    }

    /**
     * Runs a non-blocking host operation, waiting for {@code events} between tries while it
     * would block and the guest asked to block. {@code -EINTR} when the wait was kicked.
     */
    protected final long blocking(short events, HostFile.HostCall op) {
        while (true) {
            long n = HostFile.call(op);
            if (n != -Errno.EAGAIN || !guestBlocking()) {
                return n;
            }
            if (!HostWaiter.current().awaitOne(fd, events)) {
                return -Errno.EINTR;
            }
        }
    }

    @Override
    public long read(long hostBuffer, long count) {
        return blocking(HostWaiter.POLLIN, () -> LibC.read(fd, hostBuffer, count));
    }

    @Override
    public long write(long hostBuffer, long count) {
        return blocking(HostWaiter.POLLOUT, () -> LibC.write(fd, hostBuffer, count));
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

    @Override
    public FileDescription fork() {
        return new StreamFile(fd, false, statusFlags, name, mode);
    }

    @Override
    protected void closeHost() {
        if (owner) {
            LibC.close(fd);
        }
    }
}
