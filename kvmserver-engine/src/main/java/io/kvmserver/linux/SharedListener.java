package io.kvmserver.linux;

import io.kvmserver.host.OpenFlags;

import io.kvmserver.host.SyscallNumbers;

import io.kvmserver.host.Errno;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;

/**
 * The template's listening socket as a request VM sees it: one host fd shared by every VM.
 *
 * <p>Every idle VM polls the listener ({@link HostWaiter#listenerWaitFd}), so a connection wakes
 * each of them. When a wait finds the listener readable, the engine accepts at once, on this
 * VM's thread, and keeps the connection for the program's next {@code accept4}; the VMs that
 * lose the race see the listener not ready and keep waiting, so no program ever sees a readiness
 * it cannot act on. An accept that fails and leaves the connection queued ({@code EMFILE} when
 * the host is out of fds) is the program's to see, as on Linux: the listener is readable and its
 * {@code accept4} fails so. In ephemeral mode a VM takes one connection per request
 * ({@link ConnectionTracker}); after that the listener reports not ready and {@code accept4}
 * returns {@code EAGAIN} until the reset.
 *
 * <p>No request VM may change the host socket: every VM and every later request depends on it.
 * What a program may do to its listening socket is answered in this VM's own view instead:
 * options it sets are kept here (and given to the connections it accepts, as Linux passes a
 * listener's options on), {@code shutdown} closes the listener for this VM only until its reset,
 * {@code listen} keeps the template's backlog, and {@code bind} and {@code connect} give the
 * errors Linux gives for a listening socket.
 */
public final class SharedListener extends SocketFile {

    private final Memory peer = new Memory(128);
    private final Memory peerLength = new Memory(4);
    /** Options this VM set on the listener: its own view, never the host socket's. */
    private final SocketOptionLog overlay = new SocketOptionLog();
    private boolean shut;
    private int pendingFd = -1;
    private byte[] pendingPeer;

    SharedListener(SocketFile template) {
        super(template.fd, false, template.statusFlags(), template.domain(), template.type(), template.protocol(),
                null, null, -1);
        markListening();
        boundTo(template.localName(), template.boundHostPath());
        options.replaceWith(template.options);
        route = template.route;
        early = template.early;
    }

    // ---- the listener as this VM sees it ----

    @Override
    long bind(byte[] address) {
        return -Errno.EINVAL; // already bound
    }

    @Override
    long listen(int backlog) {
        shut = false; // a listener closed by shutdown listens again, with the template's backlog
        return 0;
    }

    @Override
    long connect(byte[] address) {
        return -Errno.EISCONN; // what inet_stream_connect answers for a listening socket
    }

    /** shutdown(2) of a listening socket: reading shut down closes it (for this VM), writing is a no-op. */
    @Override
    long shutdown(int how) {
        if (how == SHUT_RD || how == SHUT_RDWR) {
            shut = true;
            closePending();
        }
        return 0;
    }

    @Override
    long setOption(int level, int name, byte[] value) {
        if (value.length < 4) {
            return -Errno.EINVAL;
        }
        overlay.record(level, name, value);
        remember(level, name, value);
        return 0;
    }

    @Override
    long getOption(int level, int name, Memory value, Memory length) {
        byte[] own = overlay.valueOf(level, name);
        if (own == null) {
            return super.getOption(level, name, value, length); // reading the shared socket changes nothing
        }
        int n = Math.min(own.length, length.getInt(0));
        value.write(0, own, 0, n);
        length.setInt(0, n);
        return 0;
    }

    @Override
    public long io(HostWaiter waiter, short events, HostFile.HostCall op) {
        return -Errno.ENOTCONN;
    }

    // ---- waiting and accepting ----

    @Override
    public short pollEvents(HostWaiter waiter, short guestEvents) {
        return pendingFd >= 0 || shut || !waiter.connections().mayAccept() ? 0 : guestEvents;
    }

    @Override
    public short readinessWithoutHost(short events) {
        if (shut) {
            return HostWaiter.POLLHUP;
        }
        return pendingFd >= 0 ? (short) (events & HostWaiter.POLLIN) : 0;
    }

    @Override
    public int pollHostFd(HostWaiter waiter) {
        if (pendingFd < 0 && early != null && early.any()) {
            tryAccept(waiter); // a connection the template kept: ready without the host
        }
        return pendingFd >= 0 || shut ? -1 : waiter.listenerWaitFd(fd);
    }

    @Override
    public short ready(HostWaiter waiter, short hostRevents) {
        if ((hostRevents & HostWaiter.POLLIN) == 0) {
            return hostRevents;
        }
        // A failed accept that left the connection queued stays readable: dropping POLLIN would
        // send the wait straight back to a host poll that finds it again, a spin no program sees.
        if (pendingFd < 0 && tryAccept(waiter) == NOT_TAKEN) {
            return (short) (hostRevents & ~HostWaiter.POLLIN);
        }
        return hostRevents;
    }

    /** {@link #tryAccept}: a connection is kept for the program. */
    private static final long TAKEN = 1;
    /** {@link #tryAccept}: none to take (another VM took it, or this VM may take no more). */
    private static final long NOT_TAKEN = 0;

    /**
     * Takes a connection for the program: {@link #TAKEN}, {@link #NOT_TAKEN}, or {@code -errno}
     * of a host accept that failed and left the connection queued.
     */
    private long tryAccept(HostWaiter waiter) {
        if (shut || !waiter.connections().mayAccept()) {
            return NOT_TAKEN;
        }
        EarlyConnections.Connection kept = early == null ? null : early.take();
        if (kept != null) {
            // Connected while the template booted: the longest waiting client is served first.
            pendingFd = kept.fd();
            pendingPeer = kept.peer();
        } else {
            peerLength.setInt(0, (int) peer.size());
            long n = HostFile.call(() -> LibC.syscall(SyscallNumbers.ACCEPT4, fd, Pointer.nativeValue(peer),
                    Pointer.nativeValue(peerLength), OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC, 0, 0));
            if (n == -Errno.EAGAIN || n == -Errno.ECONNABORTED) {
                return NOT_TAKEN; // another VM won the race, or the client already left
            }
            if (n < 0) {
                // Out of fds or memory before the connection left the queue: it is still there,
                // for whichever VM accepts once the host can.
                return n;
            }
            pendingFd = (int) n;
            pendingPeer = peer.getByteArray(0, Math.min(peerLength.getInt(0), 128));
        }
        overlay.applyTo(pendingFd); // accepted sockets inherit the listener's options
        waiter.connections().acceptedFrom(pendingPeer);
        return TAKEN;
    }

    /**
     * Whether {@code accept} fails with {@code EAGAIN} once the connection kept here (if any) is
     * taken, whatever the program's blocking: this VM took its request's one connection.
     */
    boolean refusesOnceTaken(HostWaiter waiter) {
        return !shut && !waiter.connections().mayAccept();
    }

    /** The host fd of the connection taken for this VM and not yet handed to the program, or -1. */
    int pendingHostFd() {
        return pendingFd;
    }

    /** Its peer's address, as the host's accept gave it. */
    byte[] pendingPeer() {
        return pendingPeer;
    }

    @Override
    public long acceptHost(HostWaiter waiter, Memory peerOut, Memory peerLengthOut) {
        long deadline = waiter.deadlineAfter(timeoutNanos(HostWaiter.POLLIN));
        while (pendingFd < 0) {
            if (shut) {
                return -Errno.EINVAL;
            }
            if (!waiter.connections().mayAccept()) {
                return -Errno.EAGAIN;
            }
            long taken = tryAccept(waiter);
            if (taken == TAKEN) {
                break;
            }
            if (taken < 0) {
                return taken; // what Linux's accept answers when it cannot take the connection
            }
            if (!guestBlocking()) {
                return -Errno.EAGAIN;
            }
            int waited = waiter.awaitOne(waiter.listenerWaitFd(fd), HostWaiter.POLLIN, Deadline.remaining(deadline));
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
        int taken = pendingFd;
        pendingFd = -1;
        int n = Math.min(pendingPeer.length, (int) peerOut.size());
        peerOut.write(0, pendingPeer, 0, n);
        peerLengthOut.setInt(0, pendingPeer.length);
        return taken;
    }

    @Override
    public FileDescription fork(ForkContext context) {
        throw new IllegalStateException("a request VM's listener is never forked");
    }

    private void closePending() {
        if (pendingFd >= 0) {
            LibC.close(pendingFd);
            pendingFd = -1;
        }
    }

    @Override
    protected void closeHost() {
        // The host listener belongs to the template; only a connection taken but never handed
        // to the program is ours to close.
        closePending();
        peer.close();
        peerLength.close();
    }
}
