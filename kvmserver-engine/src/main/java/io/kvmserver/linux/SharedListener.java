package io.kvmserver.linux;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.kvm.LibC;

/**
 * The template's listening socket as a request VM sees it: one host fd shared by every VM.
 *
 * <p>Each VM waits for connections through its own {@code EPOLLEXCLUSIVE} registration of the
 * listener ({@link HostWaiter#exclusiveWaitFd}), so the host wakes one waiting VM per
 * connection. When a wait finds the listener readable, the engine accepts at once, on this
 * VM's thread, and keeps the connection for the program's next {@code accept4}; should two VMs
 * still race, the loser sees the listener not ready and keeps waiting, so no program ever sees
 * a readiness it cannot act on. In ephemeral mode a VM takes one connection per request
 * ({@link ConnectionTracker}); after that the listener reports not ready and {@code accept4}
 * returns {@code EAGAIN} until the reset.
 */
public final class SharedListener extends SocketFile {

    private final Memory peer = new Memory(128);
    private final Memory peerLength = new Memory(4);
    private int pendingFd = -1;
    private byte[] pendingPeer;

    SharedListener(int fd, int statusFlags, int domain, int type) {
        super(fd, false, statusFlags, domain, type, false);
        markListening();
    }

    @Override
    public short pollEvents(short guestEvents) {
        return pendingFd >= 0 || !HostWaiter.current().connections().mayAccept() ? 0 : guestEvents;
    }

    @Override
    public short readinessWithoutHost(short events) {
        return pendingFd >= 0 ? (short) (events & HostWaiter.POLLIN) : 0;
    }

    @Override
    public int pollHostFd() {
        return pendingFd >= 0 ? -1 : HostWaiter.current().exclusiveWaitFd(fd);
    }

    @Override
    public short ready(short hostRevents) {
        if ((hostRevents & HostWaiter.POLLIN) == 0) {
            return hostRevents;
        }
        if (pendingFd < 0 && !tryAccept()) {
            return (short) (hostRevents & ~HostWaiter.POLLIN);
        }
        return hostRevents;
    }

    private boolean tryAccept() {
        if (!HostWaiter.current().connections().mayAccept()) {
            return false;
        }
        peerLength.setInt(0, (int) peer.size());
        long n = HostFile.call(() -> LibC.syscall(SyscallNumbers.ACCEPT4, fd, Pointer.nativeValue(peer),
                Pointer.nativeValue(peerLength), OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC, 0, 0));
        if (n < 0) {
            return false; // another VM won the race (EAGAIN), or the client already left
        }
        pendingFd = (int) n;
        pendingPeer = peer.getByteArray(0, Math.min(peerLength.getInt(0), 128));
        HostWaiter.current().connections().accepted();
        return true;
    }

    @Override
    public long acceptHost(Memory peerOut, Memory peerLengthOut) {
        while (pendingFd < 0) {
            if (!HostWaiter.current().connections().mayAccept()) {
                return -Errno.EAGAIN;
            }
            if (tryAccept()) {
                break;
            }
            if (!guestBlocking()) {
                return -Errno.EAGAIN;
            }
            HostWaiter waiter = HostWaiter.current();
            if (!waiter.awaitOne(waiter.exclusiveWaitFd(fd), HostWaiter.POLLIN)) {
                return -Errno.EINTR;
            }
        }
        int taken = pendingFd;
        pendingFd = -1;
        int n = Math.min(pendingPeer.length, (int) peerOut.size());
        peerOut.write(0, pendingPeer, 0, n);
        peerLengthOut.setInt(0, pendingPeer.length);
        return taken;
    }

    @Override
    public FileDescription fork() {
        return new SharedListener(fd, statusFlags, domain(), type());
    }

    @Override
    protected void closeHost() {
        // The host listener belongs to the template; only a connection taken but never handed
        // to the program is ours to close.
        if (pendingFd >= 0) {
            LibC.close(pendingFd);
            pendingFd = -1;
        }
    }
}
