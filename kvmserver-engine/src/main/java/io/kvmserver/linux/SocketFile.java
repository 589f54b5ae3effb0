package io.kvmserver.linux;

import io.kvmserver.host.Errno;
import io.kvmserver.host.OpenFlags;

import io.kvmserver.host.SyscallNumbers;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;
import io.kvmserver.sandbox.NetworkPolicy;
import java.net.InetSocketAddress;

/**
 * A host socket. Like every stream its host fd is non-blocking and the guest's blocking is
 * emulated, with the guest's {@code SO_RCVTIMEO} and {@code SO_SNDTIMEO} as the waits' limits.
 *
 * <p>What a request VM gets of a socket the template made before it was frozen: the listening
 * socket becomes a {@link SharedListener} (one host socket for all VMs, which no VM can change);
 * one end of a socketpair becomes its end of a new socketpair holding the data the template's
 * held ({@link UnixPair}); any other socket becomes a new socket of the same kind, unbound and
 * unconnected, with the same options: a connection of the template's cannot be shared, so a
 * request VM finds it gone ({@code ENOTCONN}) and connects again.
 */
public class SocketFile extends StreamFile {

    static final int S_IFSOCK = 0140000;
    static final int SOCK_STREAM = 1;
    static final int SHUT_RD = 0;
    static final int SHUT_WR = 1;
    static final int SHUT_RDWR = 2;
    static final int SOL_SOCKET = 1;
    static final int SO_RCVTIMEO_OLD = 20;
    static final int SO_SNDTIMEO_OLD = 21;
    static final int SO_RCVTIMEO_NEW = 66;
    static final int SO_SNDTIMEO_NEW = 67;
    private static final int SO_PROTOCOL = 38;
    private static final int SO_DOMAIN = 39;
    static final int SO_LINGER = 13;
    static final int SO_RCVLOWAT = 18;
    /** {@code struct linger}: int l_onoff, int l_linger. */
    private static final int LINGER_SIZE = 8;
    private static final int IPPROTO_TCP = 6;
    private static final int SOCK_NONBLOCK = 04000;
    private static final int SOCK_CLOEXEC = 02000000;

    private final int domain;
    private final int type;
    private final int protocol;
    private boolean listening;
    private boolean writeShut;
    private boolean readShut;
    /** Told when this connection, accepted from a listener, is closed: that can end a request. */
    private final ConnectionTracker tracker;
    /** Options set on this socket, to be set again on a fork's replica. */
    protected final SocketOptionLog options;
    private long receiveTimeoutNanos = -1;
    private long sendTimeoutNanos = -1;
    /** The unix socket names as the guest wrote them: the host's are paths the guest must not see. */
    private String localName;
    private String peerName;
    /** Where a bound unix socket is on the host: the server must keep it (see {@link ServedEndpoints}). */
    private String boundHostPath;
    private final UnixPair pair;
    private final int pairSide;
    /** Set when this socket holds the route address, or is a connection accepted on it. */
    RouteSocket.Binding route;
    /** A template's listener: connections it accepted while booting that are the request VMs' (or null). */
    EarlyConnections early;
    /**
     * For an internet datagram socket under a policy that limits where the program may send: that
     * policy, which its senders are held to while the program has not bound the socket itself
     * (see {@link #receiveFromAllowedSendersOnly}).
     */
    private NetworkPolicy datagramPolicy;
    /** Whether the program bound this socket, which took a listen grant: anyone may send to it then. */
    private boolean boundByProgram;
    /** The sender of the datagram at the head of the queue, and its length (only for datagramPolicy). */
    private Memory sender;
    /** A socket error a look at the head took outside a receive ({@code -errno}), for the next receive. */
    private long errorForNextReceive;

    SocketFile(int fd, boolean owner, int statusFlags, int domain, int type, int protocol, ConnectionTracker tracker,
            UnixPair pair, int pairSide) {
        super(fd, owner, statusFlags, "socket:", S_IFSOCK);
        this.domain = domain;
        this.type = type;
        this.protocol = protocol;
        this.tracker = tracker;
        this.options = new SocketOptionLog();
        this.pair = pair;
        this.pairSide = pairSide;
        if (tracker != null) {
            tracker.connectionOpened(fd);
        }
    }

    /** A new host socket, non-blocking whatever the guest asked (blocking is emulated). */
    static SocketFile create(int domain, int type, int protocol, int statusFlags) {
        int fd = (int) LibC.syscall(SyscallNumbers.SOCKET, domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol, 0,
                0, 0);
        return new SocketFile(fd, true, statusFlags, domain, type, protocol, null, null, -1);
    }

    /** A connection accepted from {@code listener}; {@code tracker} when it belongs to a request. */
    static SocketFile accepted(int fd, SocketFile listener, int statusFlags, ConnectionTracker tracker) {
        SocketFile s = new SocketFile(fd, true, statusFlags, listener.domain, listener.type, listener.protocol,
                tracker, null, -1);
        s.localName = listener.localName;
        byte[] lowWater = listener.options.valueOf(SOL_SOCKET, SO_RCVLOWAT);
        if (lowWater != null) {
            s.options.record(SOL_SOCKET, SO_RCVLOWAT, lowWater); // inherited, as Linux's accept does
        }
        byte[] linger = listener.options.valueOf(SOL_SOCKET, SO_LINGER);
        if (linger != null) {
            s.options.record(SOL_SOCKET, SO_LINGER, linger); // inherited too: a {1, 0} listener's connections reset
        }
        if (listener.route != null) {
            s.route = listener.route.accepted();
        }
        return s;
    }

    public int domain() {
        return domain;
    }

    public int type() {
        return type;
    }

    int protocol() {
        return protocol;
    }

    void markListening() {
        listening = true;
    }

    @Override
    public boolean isListener() {
        return listening;
    }

    // ---- unix socket names ----

    /** The guest's name for this unix socket's own address, or null (unnamed, or not unix). */
    String localName() {
        return localName;
    }

    String peerName() {
        return peerName;
    }

    /** After a successful bind of a unix socket: its guest name and where it is on the host. */
    void boundTo(String guestName, String hostPath) {
        this.localName = guestName;
        this.boundHostPath = hostPath;
    }

    void connectedTo(String guestName) {
        this.peerName = guestName;
    }

    String boundHostPath() {
        return boundHostPath;
    }

    // ---- the route address (see RouteSocket) ----

    /** This socket's part in the route address, or null for an ordinary socket. */
    RouteSocket.Binding route() {
        return route;
    }

    void routeTo(RouteSocket.Binding binding) {
        this.route = binding;
    }

    // ---- who may send to an internet datagram socket ----

    private static final int SOCK_DGRAM = 2;
    private static final int MSG_PEEK = 0x2;
    private static final int MSG_TRUNC = 0x20;
    private static final int MSG_DONTWAIT = 0x40;
    private static final long FIONREAD = 0x541b;
    private static final int SENDER_MAX = 128;

    /**
     * Holds the senders of this datagram socket to {@code policy}'s connect grants until the
     * program binds it. An unbound UDP socket is bound by Linux to a port on every interface at
     * its first send (autobind), and from then on any host can send to it: the program never
     * asked to receive from anyone (that takes a bind, and the bind a listen grant), only to talk
     * to the addresses it may send to. A datagram from any other sender is dropped before the
     * program can see any of it, as the kernel drops those of a peer other than a connected
     * socket's. Like a datagram with a bad checksum, it may have made the socket look readable.
     */
    void receiveFromAllowedSendersOnly(NetworkPolicy policy) {
        if (type == SOCK_DGRAM && policy.limitsConnections()) {
            datagramPolicy = policy;
        }
    }

    /**
     * Drops the datagrams at the head of the queue whose sender the program may not send to:
     * each is looked at (its sender only, none of its bytes) and thrown away, until one from an
     * allowed sender or nothing is at the head. {@code 0}, or an error the look reported (a
     * socket error is reported once, so the caller returns it instead of receiving), or
     * {@code EAGAIN} when strangers' datagrams are still at the head after {@link #DROPS_PER_LOOK}:
     * a sender that floods the socket must not keep the host thread in this loop past the
     * request's time limit.
     */
    private static final int DROPS_PER_LOOK = 64;

    private long dropDatagramsFromForbiddenSenders() {
        if (sender == null) {
            sender = new Memory(SENDER_MAX + 4);
        }
        for (int dropped = 0;; dropped++) {
            if (dropped == DROPS_PER_LOOK) {
                return -Errno.EAGAIN; // a flood: nothing the program may see yet; its wait goes on, and can be ended
            }
            sender.setInt(SENDER_MAX, SENDER_MAX);
            long n = HostFile.call(() -> LibC.syscall(SyscallNumbers.RECVFROM, fd, 0, 0,
                    MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT, Pointer.nativeValue(sender), Pointer.nativeValue(sender) + SENDER_MAX));
            if (n < 0) {
                return n == -Errno.EAGAIN ? 0 : n;
            }
            InetSocketAddress from = NetSyscalls.inetSocketAddress(
                    sender.getByteArray(0, Math.min(sender.getInt(SENDER_MAX), SENDER_MAX)));
            if (from != null && datagramPolicy.mayConnect(from.getAddress(), from.getPort())) {
                return 0;
            }
            HostFile.call(() -> LibC.syscall(SyscallNumbers.RECVFROM, fd, 0, 0, MSG_DONTWAIT, 0, 0));
        }
    }

    /**
     * FIONREAD (SIOCINQ) tells the size of the datagram at the head: of one the program may
     * receive, never of one it would not (its length would carry a stranger's number).
     */
    @Override
    public long ioctl(long request, long argument, AddressSpace memory) {
        if (checksSenders()) {
            long dropped = dropDatagramsFromForbiddenSenders();
            if (dropped == -Errno.EAGAIN && request == FIONREAD) {
                memory.writeInt(argument, 0); // a stranger's datagram still at the head: nothing for the program
                return 0;
            }
            if (dropped < 0 && dropped != -Errno.EAGAIN) {
                errorForNextReceive = dropped; // the look took the socket's error: the next receive reports it
            }
        }
        return super.ioctl(request, argument, memory);
    }

    private boolean checksSenders() {
        return datagramPolicy != null && !boundByProgram;
    }

    // ---- operations a shared socket answers differently ----

    long bind(byte[] address) {
        long rc = HostFile.call(() -> LibC.syscall(SyscallNumbers.BIND, fd, address, address.length, 0, 0, 0));
        if (rc == 0) {
            boundByProgram = true;
        }
        return rc;
    }

    long listen(int backlog) {
        long rc = HostFile.call(() -> LibC.syscall(SyscallNumbers.LISTEN, fd, backlog, 0, 0, 0, 0));
        if (rc == 0) {
            listening = true;
        }
        return rc;
    }

    long connect(byte[] address) {
        return HostFile.call(() -> LibC.syscall(SyscallNumbers.CONNECT, fd, address, address.length, 0, 0, 0));
    }

    long shutdown(int how) {
        long rc = HostFile.call(() -> LibC.syscall(SyscallNumbers.SHUTDOWN, fd, how, 0, 0, 0, 0));
        if (rc == 0 && how != SHUT_RD) {
            writeShut = true;
        }
        if (rc == 0 && how != SHUT_WR) {
            readShut = true;
        }
        return rc;
    }

    /**
     * Whether a read of this socket returns the bytes it holds, as many as the call asks for up to
     * those: a stream not shut down for reading, whose program set no {@code SO_RCVLOWAT}.
     */
    boolean readsWhatItHolds() {
        return type == SOCK_STREAM && !readShut && options.valueOf(SOL_SOCKET, SO_RCVLOWAT) == null;
    }

    /** Whether the program shut this socket down for writing (a write would fail with EPIPE). */
    boolean writeShut() {
        return writeShut;
    }

    /** Tells a request's tracker that the program used this connection (as every send and receive does). */
    void connectionUsed() {
        if (tracker != null) {
            tracker.connectionUsed();
        }
    }

    /**
     * setsockopt with the value already copied out of the guest; remembered for replicas, and
     * for the time limits of blocking calls.
     */
    long setOption(int level, int name, byte[] value) {
        if (route != null && level != SOL_SOCKET) {
            remember(level, name, value); // a unix socket has no TCP or IP options: the program's own view
            return 0;
        }
        if (level == SOL_SOCKET && name == SO_LINGER && lingers(value)) {
            // A lingering close blocks the host thread that closes the socket (the reset's, the
            // VM's) for up to l_linger seconds, whatever O_NONBLOCK says: the program keeps its
            // own view, and the host closes in the background as without the option.
            remember(level, name, value);
            return 0;
        }
        long rc;
        try (Memory host = new Memory(Math.max(1, value.length))) {
            host.write(0, value, 0, value.length);
            rc = HostFile.call(() -> LibC.syscall(SyscallNumbers.SETSOCKOPT, fd, level, name, Pointer.nativeValue(host),
                    value.length, 0));
        }
        if (rc == 0) {
            remember(level, name, value);
        }
        return rc;
    }

    /** Records a value that was set, and takes the I/O time limits from it. */
    protected final void remember(int level, int name, byte[] value) {
        options.record(level, name, value);
        if (level == SOL_SOCKET && value.length >= 16) {
            long timeout = timeoutNanos(value);
            if (name == SO_RCVTIMEO_OLD || name == SO_RCVTIMEO_NEW) {
                receiveTimeoutNanos = timeout;
            } else if (name == SO_SNDTIMEO_OLD || name == SO_SNDTIMEO_NEW) {
                sendTimeoutNanos = timeout;
            }
        }
    }

    /** A {@code struct timeval} (seconds, microseconds) as a timeout; zero means none, as socket(7) has it. */
    private static long timeoutNanos(byte[] timeval) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(timeval).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        long seconds = b.getLong(0);
        long micros = b.getLong(8);
        if (seconds < 0 || micros < 0 || (seconds == 0 && micros == 0)) {
            return -1;
        }
        return Deadline.nanos(seconds, Math.min(micros, 999_999), 1_000_000L);
    }

    /** getsockopt into host buffers {@code value} (of {@code length.getInt(0)} bytes) and {@code length}. */
    long getOption(int level, int name, Memory value, Memory length) {
        if (route != null && (level != SOL_SOCKET || name == SO_PROTOCOL || name == SO_DOMAIN)) {
            return routeOption(level, name, value, length);
        }
        byte[] linger = level == SOL_SOCKET && name == SO_LINGER ? options.valueOf(level, name) : null;
        if (linger != null && lingers(linger)) {
            int n = Math.min(LINGER_SIZE, Math.max(0, length.getInt(0)));
            value.write(0, linger, 0, n);
            length.setInt(0, n);
            return 0;
        }
        return HostFile.call(() -> LibC.syscall(SyscallNumbers.GETSOCKOPT, fd, level, name, Pointer.nativeValue(value),
                Pointer.nativeValue(length), 0));
    }

    /**
     * An option of a route socket as the program's TCP socket would answer it: its family and
     * protocol, and the TCP and IP options as it set them (0 for those it never set).
     */
    private long routeOption(int level, int name, Memory value, Memory length) {
        byte[] set = options.valueOf(level, name);
        if (level == SOL_SOCKET) {
            set = LittleEndian.intBytes(name == SO_DOMAIN ? domain : IPPROTO_TCP);
        } else if (set == null) {
            set = LittleEndian.intBytes(0);
        }
        int n = Math.min(set.length, length.getInt(0));
        value.write(0, set, 0, n);
        length.setInt(0, n);
        return 0;
    }

    /** Whether a {@code struct linger} asks close to wait: l_onoff and l_linger both non-zero. */
    static boolean lingers(byte[] value) {
        return value.length >= LINGER_SIZE && LittleEndian.intAt(value, 0) != 0 && LittleEndian.intAt(value, 4) != 0;
    }

    @Override
    protected long timeoutNanos(short events) {
        return (events & HostWaiter.POLLOUT) != 0 ? sendTimeoutNanos : receiveTimeoutNanos;
    }

    /**
     * accept4 on this socket: waits (if the guest blocks) for a connection and installs nothing;
     * returns the new host fd or {@code -errno}. {@code peer}/{@code peerLength} receive the address.
     */
    public long acceptHost(HostWaiter waiter, Memory peer, Memory peerLength) {
        peerLength.setInt(0, (int) peer.size());
        return blocking(waiter, HostWaiter.POLLIN, () -> LibC.syscall(SyscallNumbers.ACCEPT4, fd, Pointer.nativeValue(peer),
                Pointer.nativeValue(peerLength), OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC, 0, 0));
    }

    /**
     * Keeps a connection this (booting template's) listener accepted for the request VMs to
     * serve; false when too many already wait (the caller closes it).
     */
    boolean holdForRequestVms(int connectionFd, byte[] peer) {
        if (early == null) {
            early = new EarlyConnections();
        }
        return early.hold(connectionFd, peer);
    }

    /** Whether connections accepted here end a request when closed. */
    public boolean acceptsRequests() {
        return listening;
    }

    /** Sends or receives; a request's connection tells its tracker that the program used it. */
    @Override
    public long io(HostWaiter waiter, short events, HostFile.HostCall op) {
        return io(waiter, events, op, 0);
    }

    /**
     * {@link #io} for send and receive calls, with their flags: {@code MSG_DONTWAIT} makes this
     * one call non-blocking whatever the socket's own mode.
     */
    long io(HostWaiter waiter, short events, HostFile.HostCall op, int callFlags) {
        boolean mayWait = guestBlocking() && (callFlags & MSG_DONTWAIT) == 0;
        if (events == HostWaiter.POLLIN && checksSenders()) {
            return blocking(waiter, events, () -> {
                long error = errorForNextReceive;
                if (error < 0) {
                    errorForNextReceive = 0;
                    return error;
                }
                long dropped = dropDatagramsFromForbiddenSenders();
                return dropped < 0 ? dropped : op.run();
            }, mayWait);
        }
        if (tracker == null) {
            return blocking(waiter, events, op, mayWait);
        }
        tracker.connectionUsed();
        long n = blocking(waiter, events, op, mayWait);
        if (n > 0 && events == HostWaiter.POLLIN) {
            tracker.clientSpoke();
        }
        return n;
    }

    /**
     * A blocking receive until {@code deadline}, the rest of a call that began earlier
     * ({@code MSG_WAITALL}): on a stream socket, which has no senders to check.
     */
    long receive(HostWaiter waiter, HostFile.HostCall op, long deadline) {
        connectionUsed();
        long n = blocking(waiter, HostWaiter.POLLIN, op, guestBlocking(), deadline);
        if (n > 0) {
            clientSpoke();
        }
        return n;
    }

    /** Tells a request's tracker that the program read bytes the client sent (in the guest). */
    void clientSpoke() {
        if (tracker != null) {
            tracker.clientSpoke();
        }
    }

    @Override
    public void freeze(FrozenBytes budget) {
        if (pair != null) {
            pair.freeze(pairSide, budget);
        }
    }

    @Override
    public FileDescription fork(ForkContext context) {
        if (listening) {
            return new SharedListener(this);
        }
        if (pair != null) {
            UnixPair.Replica replica = context.replica(pair, pair::replicate);
            SocketFile copy = new SocketFile(replica.claim(pairSide), true, statusFlags, domain, type, protocol, null,
                    replica.pair(), pairSide);
            options.applyTo(copy.fd);
            copy.adoptOptions(this);
            return copy;
        }
        SocketFile copy;
        try {
            copy = create(domain, type, protocol, statusFlags);
        } catch (LastErrorException e) {
            throw new IllegalStateException("cannot replicate a socket of the template: "
                    + LibC.describe(e.getErrorCode()));
        }
        options.applyTo(copy.fd);
        copy.adoptOptions(this);
        copy.datagramPolicy = datagramPolicy; // unbound again: held to the policy until bound again
        return copy;
    }

    private void adoptOptions(SocketFile template) {
        options.replaceWith(template.options);
        receiveTimeoutNanos = template.receiveTimeoutNanos;
        sendTimeoutNanos = template.sendTimeoutNanos;
    }

    /**
     * A connection the program accepted from a listener it serves closes gently when its client's
     * request was not all read ({@link LingeringClose}), unless the program asked for a reset
     * ({@code SO_LINGER} on with a zero time).
     */
    @Override
    protected void closeFd() {
        if (tracker != null && type == SOCK_STREAM && !abortsOnClose() && tracker.closesGently()) {
            LingeringClose.close(fd);
        } else {
            super.closeFd();
        }
    }

    private boolean abortsOnClose() {
        byte[] linger = options.valueOf(SOL_SOCKET, SO_LINGER);
        return linger != null && linger.length >= LINGER_SIZE && LittleEndian.intAt(linger, 0) != 0
                && LittleEndian.intAt(linger, 4) == 0;
    }

    @Override
    protected void closeHost() {
        super.closeHost();
        if (sender != null) {
            sender.close();
            sender = null;
        }
        if (early != null) {
            early.closeAll();
        }
        if (route != null && route.peer() == null) {
            route.route().released(this);
        }
        if (tracker != null) {
            tracker.closed();
        }
    }
}
