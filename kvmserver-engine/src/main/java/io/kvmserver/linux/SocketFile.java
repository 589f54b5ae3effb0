package io.kvmserver.linux;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.kvm.LibC;

/**
 * A host socket. Like every stream its host fd is non-blocking and the guest's blocking is
 * emulated; a listening socket forked into a request VM becomes a {@link SharedListener}.
 */
public class SocketFile extends StreamFile {

    static final int S_IFSOCK = 0140000;

    private final int domain;
    private final int type;
    private boolean listening;
    /** Told when this connection, accepted from a listener, is closed: that can end a request. */
    private final ConnectionTracker tracker;

    public SocketFile(int fd, boolean owner, int statusFlags, int domain, int type, boolean requestConnection) {
        super(fd, owner, statusFlags, "socket:", S_IFSOCK);
        this.domain = domain;
        this.type = type;
        this.tracker = requestConnection ? HostWaiter.current().connections() : null;
    }

    public int domain() {
        return domain;
    }

    public int type() {
        return type;
    }

    public void markListening() {
        listening = true;
    }

    @Override
    public boolean isListener() {
        return listening;
    }

    /**
     * accept4 on this socket: waits (if the guest blocks) for a connection and installs nothing;
     * returns the new host fd or {@code -errno}. {@code peer}/{@code peerLength} receive the address.
     */
    public long acceptHost(Memory peer, Memory peerLength) {
        peerLength.setInt(0, (int) peer.size());
        return blocking(HostWaiter.POLLIN, () -> LibC.syscall(SyscallNumbers.ACCEPT4, fd, Pointer.nativeValue(peer),
                Pointer.nativeValue(peerLength), OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC, 0, 0));
    }

    /** Whether connections accepted here end a request when closed. */
    public boolean acceptsRequests() {
        return listening;
    }

    /** Sends or receives with emulated blocking: the common shape of all socket I/O. */
    public long io(short events, HostFile.HostCall op) {
        return blocking(events, op);
    }

    @Override
    public FileDescription fork() {
        if (listening) {
            return new SharedListener(fd, statusFlags, domain, type);
        }
        SocketFile copy = new SocketFile(fd, false, statusFlags, domain, type, false);
        copy.listening = listening;
        return copy;
    }

    @Override
    protected void closeHost() {
        super.closeHost();
        if (tracker != null) {
            tracker.closed();
        }
    }
}
