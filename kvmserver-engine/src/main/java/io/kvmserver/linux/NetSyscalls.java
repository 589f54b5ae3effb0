package io.kvmserver.linux;

import io.kvmserver.host.OpenFlags;

import io.kvmserver.host.SyscallNumbers;

import io.kvmserver.host.Errno;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;
import io.kvmserver.sandbox.Access;
import io.kvmserver.sandbox.NetworkPolicy;
import io.kvmserver.sandbox.Resolution;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Sockets family, over real host sockets: TCP and UDP on IPv4 and IPv6, and unix sockets whose
 * paths are checked like files. Every {@code bind} and {@code connect} (and every datagram's
 * destination) is checked against the network policy; a denial is {@code EACCES} and logged.
 * No request may bind an address the server listens on ({@code EADDRINUSE}, see
 * {@link ServedEndpoints}).
 *
 * <p>A unix socket path is resolved like a file, and the host call is given a path through the
 * engine's own descriptors ({@code /proc/self/fd/N/name} for the directory a bind creates the
 * socket in, {@code /proc/self/fd/N} for the socket a connect reaches), so that nothing can be
 * renamed in between to redirect it. The guest sees the names it used, never the host's.
 */
final class NetSyscalls {

    static final int AF_UNSPEC = 0;
    static final int AF_UNIX = 1;
    static final int AF_INET = 2;
    static final int AF_INET6 = 10;
    private static final int SOCK_TYPE_MASK = 0xf;
    private static final int SOCK_STREAM_KIND = 1;
    private static final int SOCK_DGRAM_KIND = 2;
    private static final int SOCK_SEQPACKET_KIND = 5;
    private static final int IPPROTO_TCP = 6;
    private static final int IPPROTO_UDP = 17;
    private static final int SOCK_NONBLOCK = 04000;
    private static final int SOCK_CLOEXEC = 02000000;
    private static final int SOCKADDR_MAX = Syscall.SOCKADDR_SCRATCH;
    private static final int UNIX_PATH_MAX = 108;
    private static final int OPTVAL_MAX = 256;
    private static final int SOL_SOCKET = 1;
    /**
     * Host sockets are non-blocking whatever the guest asked: the guest's blocking is emulated
     * ({@link StreamFile}), so every host send and receive carries this flag.
     */
    private static final int MSG_DONTWAIT = 0x40;
    private static final int MSG_PEEK = 0x2;
    private static final int MSG_WAITALL = 0x100;
    /** OOB, PEEK, CTRUNC, TRUNC, DONTWAIT, WAITALL, NOSIGNAL, MORE, FASTOPEN, CMSG_CLOEXEC. */
    private static final int MSG_ALLOWED = 0x1 | 0x2 | 0x8 | 0x20 | MSG_DONTWAIT | 0x100 | 0x4000 | 0x8000
            | 0x20000000 | 0x40000000;

    private NetSyscalls() {
    }

    static void register(SyscallTable t) {
        t.register(SyscallNumbers.SOCKET, NetSyscalls::socket);
        t.register(SyscallNumbers.SOCKETPAIR, NetSyscalls::socketpair);
        t.register(SyscallNumbers.BIND, NetSyscalls::bind);
        t.register(SyscallNumbers.LISTEN, NetSyscalls::listen);
        t.register(SyscallNumbers.ACCEPT, c -> accept(c, c.intArg(0), c.arg(1), c.arg(2), 0));
        t.register(SyscallNumbers.ACCEPT4, c -> accept(c, c.intArg(0), c.arg(1), c.arg(2), c.intArg(3)));
        t.register(SyscallNumbers.CONNECT, NetSyscalls::connect);
        t.register(SyscallNumbers.GETSOCKNAME, c -> socketName(c, false));
        t.register(SyscallNumbers.GETPEERNAME, c -> socketName(c, true));
        t.register(SyscallNumbers.SETSOCKOPT, NetSyscalls::setsockopt);
        t.register(SyscallNumbers.GETSOCKOPT, NetSyscalls::getsockopt);
        t.register(SyscallNumbers.SHUTDOWN, c -> {
            SocketFile s = socket(c, c.intArg(0));
            int how = c.intArg(1);
            return how < 0 || how > 2 ? -Errno.EINVAL : s.shutdown(how);
        });
        t.register(SyscallNumbers.SENDTO, NetSyscalls::sendto);
        t.register(SyscallNumbers.RECVFROM, NetSyscalls::recvfrom);
        t.register(SyscallNumbers.SENDMSG, c -> msg(c, true));
        t.register(SyscallNumbers.RECVMSG, c -> msg(c, false));
        t.register(SyscallNumbers.SENDFILE, NetSyscalls::sendfile);
    }

    private static SocketFile socket(Syscall c, int fd) {
        return c.files().get(fd, SocketFile.class, Errno.ENOTSOCK);
    }

    private static NetworkPolicy policy(Syscall c) {
        return c.kernel().network();
    }

    static long socket(Syscall c) {
        int domain = c.intArg(0);
        int type = c.intArg(1);
        int protocol = c.intArg(2);
        if (domain != AF_INET && domain != AF_INET6 && domain != AF_UNIX && domain != NetlinkRouteSocket.AF_NETLINK) {
            return -Errno.EAFNOSUPPORT;
        }
        if ((type & ~(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC)) != 0) {
            return -Errno.EINVAL;
        }
        int kind = type & SOCK_TYPE_MASK;
        if (domain == NetlinkRouteSocket.AF_NETLINK) {
            return NetlinkSyscalls.socket(c, kind, protocol,
                    OpenFlags.O_RDWR | ((type & SOCK_NONBLOCK) != 0 ? OpenFlags.O_NONBLOCK : 0), (type & SOCK_CLOEXEC) != 0);
        }
        if (kind != SOCK_STREAM_KIND && kind != SOCK_DGRAM_KIND && kind != SOCK_SEQPACKET_KIND) { // no raw sockets
            return -Errno.ESOCKTNOSUPPORT;
        }
        if (protocol < 0) {
            return -Errno.EINVAL;
        }
        if (domain != AF_UNIX && kind == SOCK_SEQPACKET_KIND) {
            return -Errno.ESOCKTNOSUPPORT; // SCTP where the host has it: see plainInternetProtocol
        }
        if (domain != AF_UNIX && !plainInternetProtocol(kind, protocol)) {
            return -Errno.EPROTONOSUPPORT;
        }
        int status = OpenFlags.O_RDWR | ((type & SOCK_NONBLOCK) != 0 ? OpenFlags.O_NONBLOCK : 0);
        SocketFile s;
        try {
            s = SocketFile.create(domain, kind, protocol, status);
        } catch (LastErrorException e) {
            return -e.getErrorCode();
        }
        if (domain != AF_UNIX) {
            s.receiveFromAllowedSendersOnly(policy(c));
        }
        return c.files().install(s, 0, (type & SOCK_CLOEXEC) != 0);
    }

    /**
     * TCP for streams, UDP for datagrams: the protocols the policy's addresses and ports describe.
     * Others the host may offer are refused as a kernel without them refuses them: ICMP echo
     * sockets (where a host's {@code ping_group_range} allows them) have no port, MPTCP opens
     * subflows to addresses the peer names, SCTP binds and connects several addresses at once.
     */
    private static boolean plainInternetProtocol(int kind, int protocol) {
        return protocol == 0 || (kind == SOCK_STREAM_KIND && protocol == IPPROTO_TCP)
                || (kind == SOCK_DGRAM_KIND && protocol == IPPROTO_UDP);
    }

    static long socketpair(Syscall c) {
        int domain = c.intArg(0);
        int type = c.intArg(1);
        if (domain != AF_UNIX) {
            return -Errno.EOPNOTSUPP;
        }
        if ((type & ~(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC)) != 0) {
            return -Errno.EINVAL;
        }
        int kind = type & SOCK_TYPE_MASK;
        c.memory().check(c.arg(3), 8, AddressSpace.PROT_WRITE);
        if (c.files().openCount() + 2 > FdTable.LIMIT) {
            return -Errno.EMFILE;
        }
        UnixPair pair;
        try {
            pair = UnixPair.create(kind, c.intArg(2));
        } catch (LastErrorException e) {
            return -e.getErrorCode();
        }
        int status = OpenFlags.O_RDWR | ((type & SOCK_NONBLOCK) != 0 ? OpenFlags.O_NONBLOCK : 0);
        boolean cloexec = (type & SOCK_CLOEXEC) != 0;
        int a = c.files().install(new SocketFile(pair.fd(0), true, status, AF_UNIX, kind, c.intArg(2), null, pair, 0),
                0, cloexec);
        int b = c.files().install(new SocketFile(pair.fd(1), true, status, AF_UNIX, kind, c.intArg(2), null, pair, 1),
                0, cloexec);
        c.memory().writeInt(c.arg(3), a);
        c.memory().writeInt(c.arg(3) + 4, b);
        return 0;
    }

    /**
     * A guest socket address made ready for the host call: the bytes it gets and, for a unix
     * path, the descriptors those bytes name, held until the call is done.
     */
    private static final class HostAddress implements AutoCloseable {
        final byte[] sockaddr;
        final String unixName;
        final String unixHostPath;
        private final Resolution resolution;
        private final int pathFd;

        HostAddress(byte[] sockaddr, String unixName, String unixHostPath, Resolution resolution, int pathFd) {
            this.sockaddr = sockaddr;
            this.unixName = unixName;
            this.unixHostPath = unixHostPath;
            this.resolution = resolution;
            this.pathFd = pathFd;
        }

        /** Sets the mode of the socket file a bind to this address created. */
        void chmodBound(int mode) {
            if (resolution != null) {
                PathSyscalls.chmodResolved(resolution, mode);
            }
        }

        static HostAddress plain(byte[] sockaddr) {
            return new HostAddress(sockaddr, null, null, null, -1);
        }

        @Override
        public void close() {
            if (pathFd >= 0) {
                LibC.close(pathFd);
            }
            if (resolution != null) {
                resolution.close();
            }
        }
    }

    /**
     * Reads a guest sockaddr, checks it against the policy for {@code binding} (bind, and the
     * address a listen would take) or connecting (connect, datagram destinations).
     */
    private static HostAddress checkedAddress(Syscall c, SocketFile s, long address, long length, boolean binding) {
        if (length < 2 || length > SOCKADDR_MAX) {
            throw new SyscallError(Errno.EINVAL);
        }
        byte[] sa = c.memory().readBytes(address, (int) length);
        int family = (sa[0] & 0xff) | ((sa[1] & 0xff) << 8);
        if (family != s.domain()) {
            throw new SyscallError(family == AF_UNIX || s.domain() == AF_UNIX ? Errno.EINVAL : Errno.EAFNOSUPPORT);
        }
        switch (family) {
            case AF_INET, AF_INET6 -> {
                InetSocketAddress decoded = inetSocketAddress(sa);
                if (decoded == null) {
                    throw new SyscallError(Errno.EINVAL);
                }
                int port = decoded.getPort();
                InetAddress ip = decoded.getAddress();
                NetworkPolicy p = policy(c);
                boolean allowed = binding ? p.mayListen(ip, port) : p.mayConnect(ip, port);
                if (!allowed) {
                    c.deny(binding ? Denials.Kind.LISTEN : Denials.Kind.CONNECT,
                            (family == AF_INET ? ip.getHostAddress() : "[" + ip.getHostAddress() + "]") + ":" + port);
                    throw new SyscallError(Errno.EACCES);
                }
                return HostAddress.plain(sa);
            }
            case AF_UNIX -> {
                return unixAddress(c, sa, binding);
            }
            default -> throw new SyscallError(Errno.EAFNOSUPPORT);
        }
    }

    private static HostAddress unixAddress(Syscall c, byte[] sa, boolean binding) {
        // A bind of the family alone autobinds: Linux picks an abstract name, which any process
        // of the host's network namespace can connect to, so it is an abstract socket too.
        if (sa.length == 2 && !binding) {
            return HostAddress.plain(sa);
        }
        if (sa.length == 2 || sa[2] == 0) {
            if (!policy(c).mayUseAbstractUnixSockets()) {
                c.deny(Denials.Kind.UNIX_SOCKET, sa.length == 2 ? "@ (autobind)"
                        : "@" + new String(sa, 3, sa.length - 3, StandardCharsets.ISO_8859_1));
                throw new SyscallError(Errno.EACCES);
            }
            return HostAddress.plain(sa);
        }
        int end = 2;
        while (end < sa.length && sa[end] != 0) {
            end++;
        }
        String path = AddressSpace.pathOf(sa, 2, end - 2);
        // Binding creates the socket file and must not follow a symlink there; connecting reaches
        // the socket the path names. Both need write access, as Linux requires for connect.
        Resolution r = binding ? c.kernel().fileSystem().resolveNoFollow(c.process().cwd(), path, Access.WRITE)
                : c.kernel().fileSystem().resolve(c.process().cwd(), path, Access.WRITE);
        if (r.errno() != 0 || r.isVirtual()) {
            if (r.byPolicy() || r.isVirtual()) {
                c.deny(Denials.Kind.UNIX_SOCKET, path);
            }
            r.close();
            throw new SyscallError(r.errno() != 0 ? r.errno() : Errno.EACCES);
        }
        try {
            if (binding) {
                if (r.exists()) {
                    throw new SyscallError(Errno.EADDRINUSE);
                }
                String via = "/proc/self/fd/" + r.directoryFd() + "/" + r.name();
                return new HostAddress(unixSockaddr(via), path, r.hostPath(), r, -1);
            }
            if (!r.exists()) {
                throw new SyscallError(Errno.ENOENT);
            }
            int socketFd = (int) HostFile.call(() -> LibC.openat(r.directoryFd(), r.nameBytes(),
                    OpenFlags.O_PATH | OpenFlags.O_NOFOLLOW | OpenFlags.O_CLOEXEC, 0));
            if (socketFd < 0) {
                throw new SyscallError(-socketFd);
            }
            return new HostAddress(unixSockaddr("/proc/self/fd/" + socketFd), path, r.hostPath(), r, socketFd);
        } catch (RuntimeException e) {
            r.close();
            throw e;
        }
    }

    private static byte[] unixSockaddr(String path) {
        byte[] host = path.getBytes(StandardCharsets.UTF_8);
        if (host.length >= UNIX_PATH_MAX) {
            throw new SyscallError(Errno.ENAMETOOLONG);
        }
        byte[] out = new byte[2 + host.length + 1];
        out[0] = (byte) AF_UNIX;
        System.arraycopy(host, 0, out, 2, host.length);
        return out;
    }

    static long bind(Syscall c) {
        if (NetlinkSyscalls.of(c, c.intArg(0)) != null) {
            return NetlinkSyscalls.bindOrConnect(c, c.arg(1), c.arg(2) & 0xffffffffL);
        }
        SocketFile s = socket(c, c.intArg(0));
        long routed = routeBind(c, s);
        if (routed != RouteSocket.NOT_ROUTED) {
            return routed;
        }
        try (HostAddress a = checkedAddress(c, s, c.arg(1), c.arg(2) & 0xffffffffL, true)) {
            if (s.domain() != AF_UNIX && c.kernel().served().conflicts(s.type(), a.sockaddr)) {
                return -Errno.EADDRINUSE; // the server's own address: SO_REUSEPORT or not
            }
            long rc = s.bind(a.sockaddr);
            if (rc == 0 && a.unixName != null) {
                s.boundTo(a.unixName, a.unixHostPath);
                // Linux makes the socket file 0777 less the process's umask; the host's bind used
                // the JVM's (the eighth review: a program's umask 077 left its socket 0777 in a
                // JVM of umask 0, for any host user to connect to). For the moment between the
                // two the JVM's umask holds, as strict as its operator made it.
                a.chmodBound(0777 & ~c.process().umask());
            }
            return rc;
        }
    }

    /** A bind of the route address takes it without a host bind (see {@link RouteSocket}). */
    private static long routeBind(Syscall c, SocketFile s) {
        RouteSocket route = c.kernel().route();
        long length = c.arg(2) & 0xffffffffL;
        if (route == null || s.domain() == AF_UNIX || length < 16 || length > SOCKADDR_MAX) {
            return RouteSocket.NOT_ROUTED;
        }
        return route.bind(s, c.memory().readBytes(c.arg(1), (int) length));
    }

    static long listen(Syscall c) {
        SocketFile s = socket(c, c.intArg(0));
        if (s.route() != null && !s.isListener()) {
            long backed = s.route().route().back(s); // the private unix socket takes the host socket's place
            if (backed < 0) {
                return backed;
            }
        } else if (s.domain() != AF_UNIX && !s.isListener() && !isBound(s)) {
            // listen() on an unbound socket picks any address and port: that needs the widest grant.
            try {
                if (!policy(c).mayListen(InetAddress.getByAddress(new byte[s.domain() == AF_INET ? 4 : 16]), 0)) {
                    return -Errno.EACCES;
                }
            } catch (UnknownHostException e) {
                return -Errno.EINVAL;
            }
        }
        long rc = s.listen(Math.max(0, Math.min(c.intArg(1), 4096)));
        if (rc == 0) {
            c.listening(s);
        }
        return rc;
    }

    private static boolean isBound(SocketFile s) {
        try (Memory sa = new Memory(SOCKADDR_MAX); Memory len = new Memory(4)) {
            len.setInt(0, SOCKADDR_MAX);
            long rc = HostFile.call(() -> LibC.syscall(SyscallNumbers.GETSOCKNAME, s.hostFd(), Pointer.nativeValue(sa),
                    Pointer.nativeValue(len), 0, 0, 0));
            return rc == 0 && (sa.getShort(2) != 0);
        }
    }

    static long accept(Syscall c, int fd, long addr, long addrLength, int flags) {
        SocketFile s = socket(c, fd);
        if ((flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) != 0) {
            return -Errno.EINVAL;
        }
        s.touched();
        if (!s.isListener()) {
            return -Errno.EINVAL;
        }
        int guestLength = 0;
        if (addr != 0) {
            guestLength = c.memory().readInt(addrLength);
            if (guestLength < 0) {
                return -Errno.EINVAL;
            }
            c.memory().check(addr, guestLength, AddressSpace.PROT_WRITE);
        }
        boolean nonblocking = (s.statusFlags() & OpenFlags.O_NONBLOCK) != 0;
        if (c.freezeOnListenerWait()) {
            // The template never takes a connection (see Readiness#awaitOrFreeze): a client that
            // connected before the freeze is a request VM's. A blocking accept is the freeze point.
            if (nonblocking) {
                return -Errno.EAGAIN;
            }
            long others = c.process().nextDeadlineBesides(c.thread());
            if (c.settlesUntil(others) && c.waiter().parking()) {
                // Settling: another thread's timer ends within the settle time; this thread waits
                // with no connection to take, asked again by each round of the scheduler.
                if (c.waiter().poll(0, -1) == HostWaiter.PARKED) {
                    return Syscall.RESTART;
                }
            }
            c.freezesInWaitUntil(others);
            c.requestFreeze(s);
            return 0;
        }
        if (c.files().openCount() >= FdTable.LIMIT) {
            return -Errno.EMFILE;
        }
        Memory sa = c.sockaddrScratch();
        Memory len = c.sockaddrLengthScratch();
        long hostFd;
        byte[] peer;
        while (true) {
            hostFd = s.acceptHost(c.waiter(), sa, len);
            if (hostFd < 0) {
                return hostFd;
            }
            peer = sa.getByteArray(0, Math.min(len.getInt(0), SOCKADDR_MAX));
            WarmupClients warmup = c.warmupClients();
            if (warmup == null || warmup.admits(peer, s.route() != null)) {
                break;
            }
            // An outside client while the warmup runs: never served by the template, whose memory
            // every request VM starts from; kept for the request VMs (closed unanswered past a bound).
            if (!s.holdForRequestVms((int) hostFd, peer)) {
                try {
                    LibC.close((int) hostFd);
                } catch (LastErrorException ignored) {
                    // close(2) releases the fd even when it reports an error
                }
            }
            if (nonblocking) {
                return -Errno.EAGAIN;
            }
        }
        ConnectionTracker tracker = s.acceptsRequests() ? c.waiter().connections() : null;
        int status = OpenFlags.O_RDWR | ((flags & SOCK_NONBLOCK) != 0 ? OpenFlags.O_NONBLOCK : 0);
        SocketFile connection = SocketFile.accepted((int) hostFd, s, status, tracker);
        int guestFd = c.files().install(connection, 0, (flags & SOCK_CLOEXEC) != 0);
        if (tracker != null && c.guestCalls() != null && c.guestCalls().enabled()) {
            c.guestCalls().accepted(guestFd, connection, shownLocalAddress(c, connection));
        }
        if (addr != 0) {
            byte[] shown = connection.route() != null ? connection.route().peer() : guestAddress(peer, null);
            c.memory().writeBytes(addr, shown, 0, Math.min(shown.length, guestLength));
            c.memory().writeInt(addrLength, shown.length);
        }
        return guestFd;
    }

    /**
     * The IPv4 or IPv6 address and port of a {@code sockaddr_in} or {@code sockaddr_in6}, or null
     * for another family or one too short. A v4-mapped IPv6 address comes back as the IPv4 one.
     */
    static InetSocketAddress inetSocketAddress(byte[] sa) {
        if (sa.length < 2) {
            return null;
        }
        int family = (sa[0] & 0xff) | ((sa[1] & 0xff) << 8);
        byte[] address;
        if (family == AF_INET && sa.length >= 16) {
            address = Arrays.copyOfRange(sa, 4, 8);
        } else if (family == AF_INET6 && sa.length >= 24) {
            address = Arrays.copyOfRange(sa, 8, 24);
        } else {
            return null;
        }
        try {
            return new InetSocketAddress(InetAddress.getByAddress(address), ((sa[2] & 0xff) << 8) | (sa[3] & 0xff));
        } catch (UnknownHostException e) {
            return null; // only for a wrong length, which the checks above rule out
        }
    }

    private static boolean isUnspecified(byte[] family) {
        return family[0] == AF_UNSPEC && family[1] == 0;
    }

    static long connect(Syscall c) {
        if (NetlinkSyscalls.of(c, c.intArg(0)) != null) {
            return NetlinkSyscalls.bindOrConnect(c, c.arg(1), c.arg(2) & 0xffffffffL);
        }
        SocketFile s = socket(c, c.intArg(0));
        long length = c.arg(2) & 0xffffffffL;
        if (length >= 2 && isUnspecified(c.memory().readBytes(c.arg(1), 2))) {
            // Dissolves the socket's association (a datagram socket's default destination): it
            // names no address, so nothing is checked; the host's own sockaddr says only that.
            long rc = s.connect(new byte[2]);
            if (rc == 0) {
                s.connectedTo(null);
            }
            return rc;
        }
        long rc;
        String unixName;
        try (HostAddress a = checkedAddress(c, s, c.arg(1), length, false)) {
            rc = s.connect(a.sockaddr);
            unixName = a.unixName;
            if (rc == -Errno.EAGAIN && s.domain() == AF_UNIX && (s.statusFlags() & OpenFlags.O_NONBLOCK) == 0) {
                rc = connectWhenThereIsRoom(c, s, a.sockaddr);
            }
        }
        if (c.waiter().retrying()) {
            // The same connect, tried again after the thread waited: it is in progress or done.
            if (rc == -Errno.EALREADY) {
                rc = -Errno.EINPROGRESS;
            } else if (rc == -Errno.EISCONN) {
                rc = 0;
            }
        }
        if (rc == 0 && unixName != null) {
            s.connectedTo(unixName);
        }
        if (rc != -Errno.EINPROGRESS || (s.statusFlags() & OpenFlags.O_NONBLOCK) != 0) {
            return rc;
        }
        // A blocking connect: wait for the outcome, as long as SO_SNDTIMEO allows (then EINPROGRESS).
        long deadline = c.waiter().deadlineAfter(s.timeoutNanos(HostWaiter.POLLOUT));
        int waited = c.waiter().awaitOne(s.hostFd(), HostWaiter.POLLOUT, Deadline.remaining(deadline));
        if (waited == HostWaiter.WAIT_PARKED) {
            return Syscall.RESTART;
        }
        if (waited == HostWaiter.WAIT_KICKED) {
            return -Errno.EINTR;
        }
        if (waited == HostWaiter.WAIT_TIMED_OUT) {
            return -Errno.EINPROGRESS;
        }
        try (Memory err = new Memory(4); Memory len = new Memory(4)) {
            len.setInt(0, 4);
            long r = HostFile.call(() -> LibC.syscall(SyscallNumbers.GETSOCKOPT, s.hostFd(), SOL_SOCKET, 4 /* SO_ERROR */,
                    Pointer.nativeValue(err), Pointer.nativeValue(len), 0));
            if (r == 0 && err.getInt(0) == 0 && unixName != null) {
                s.connectedTo(unixName);
            }
            return r < 0 ? r : -err.getInt(0);
        }
    }

    /**
     * getsockname and getpeername. Unix names are the guest's: the name a socket was bound or
     * connected with, an abstract name as it is, and no host path ever (an unnamed address in
     * its place).
     */
    static long socketName(Syscall c, boolean peer) {
        NetlinkRouteSocket netlink = NetlinkSyscalls.of(c, c.intArg(0));
        if (netlink != null) {
            return NetlinkSyscalls.name(c, netlink, peer);
        }
        SocketFile s = socket(c, c.intArg(0));
        int guestLength = c.memory().readInt(c.arg(2));
        if (guestLength < 0) {
            return -Errno.EINVAL;
        }
        if (s.route() != null) { // the TCP names the program believes in, not the unix socket's
            byte[] shown = peer ? s.route().peer() : s.route().local();
            if (shown == null) {
                return -Errno.ENOTCONN;
            }
            c.memory().writeBytes(c.arg(1), shown, 0, Math.min(shown.length, guestLength));
            c.memory().writeInt(c.arg(2), shown.length);
            return 0;
        }
        Memory sa = c.sockaddrScratch();
        Memory len = c.sockaddrLengthScratch();
        len.setInt(0, SOCKADDR_MAX);
        int nr = peer ? SyscallNumbers.GETPEERNAME : SyscallNumbers.GETSOCKNAME;
        long rc = HostFile.call(() -> LibC.syscall(nr, s.hostFd(), Pointer.nativeValue(sa), Pointer.nativeValue(len),
                0, 0, 0));
        if (rc < 0) {
            return rc;
        }
        byte[] shown = shownAddress(s, peer, sa, len.getInt(0));
        c.memory().writeBytes(c.arg(1), shown, 0, Math.min(shown.length, guestLength));
        c.memory().writeInt(c.arg(2), shown.length);
        return 0;
    }

    /** The address the host put in {@code sa}, {@code length} bytes, as the program may see it. */
    private static byte[] shownAddress(SocketFile s, boolean peer, Memory sa, int length) {
        byte[] host = sa.getByteArray(0, Math.min(length, SOCKADDR_MAX));
        return guestAddress(host, peer ? s.peerName() : s.localName());
    }

    /**
     * What getsockname gives the program for the connection {@code s} it accepted, or null when
     * that takes the host (an error): for {@link GuestCalls} to publish once per connection.
     */
    static byte[] shownLocalAddress(Syscall c, SocketFile s) {
        if (s.route() != null) {
            return s.route().local();
        }
        Memory sa = c.sockaddrScratch();
        Memory len = c.sockaddrLengthScratch();
        len.setInt(0, SOCKADDR_MAX);
        try {
            LibC.syscall(SyscallNumbers.GETSOCKNAME, s.hostFd(), Pointer.nativeValue(sa), Pointer.nativeValue(len), 0,
                    0, 0);
        } catch (LastErrorException e) {
            return null;
        }
        return shownAddress(s, false, sa, len.getInt(0));
    }

    /** An address the host returned, as the guest may see it (see {@link #socketName}). */
    private static byte[] guestAddress(byte[] host, String unixName) {
        if (host.length < 2 || ((host[0] & 0xff) | ((host[1] & 0xff) << 8)) != AF_UNIX) {
            return host;
        }
        if (unixName != null) {
            byte[] name = unixName.getBytes(StandardCharsets.UTF_8);
            byte[] out = new byte[2 + name.length + 1];
            out[0] = (byte) AF_UNIX;
            System.arraycopy(name, 0, out, 2, name.length);
            return out;
        }
        if (host.length > 2 && host[2] == 0) {
            return host; // abstract: the guest's own name
        }
        return new byte[] {(byte) AF_UNIX, 0}; // unnamed, or a host path the guest must not see
    }

    static long setsockopt(Syscall c) {
        if (NetlinkSyscalls.of(c, c.intArg(0)) != null) {
            return 0; // buffer sizes, extended acks: nothing a dump of the loopback needs
        }
        SocketFile s = socket(c, c.intArg(0));
        int level = c.intArg(1);
        int name = c.intArg(2);
        long length = c.arg(4) & 0xffffffffL;
        if (!SocketOptions.allowed(level, name)) {
            return -Errno.ENOPROTOOPT;
        }
        if (length > OPTVAL_MAX) {
            return -Errno.EINVAL;
        }
        return setOption(s, level, name, c.memory().readBytes(c.arg(3), (int) length));
    }

    /** setsockopt of an allowed option whose value is read: refused if it needs a capability. */
    static long setOption(SocketFile s, int level, int name, byte[] value) {
        int refused = SocketOptions.refusedValue(level, name, value);
        if (refused != 0) {
            return -refused;
        }
        return s.setOption(level, name, SocketOptions.hostValue(level, name, value));
    }

    static long getsockopt(Syscall c) {
        if (NetlinkSyscalls.of(c, c.intArg(0)) != null) {
            return -Errno.ENOPROTOOPT;
        }
        SocketFile s = socket(c, c.intArg(0));
        int level = c.intArg(1);
        int name = c.intArg(2);
        if (!SocketOptions.allowed(level, name)) {
            return -Errno.ENOPROTOOPT;
        }
        int guestLength = c.memory().readInt(c.arg(4));
        if (guestLength < 0) {
            return -Errno.EINVAL;
        }
        try (Memory value = new Memory(OPTVAL_MAX); Memory len = new Memory(4)) {
            len.setInt(0, Math.min(guestLength, OPTVAL_MAX));
            long rc = s.getOption(level, name, value, len);
            if (rc < 0) {
                return rc;
            }
            int actual = Math.min(len.getInt(0), guestLength);
            c.memory().writeBytes(c.arg(3), value.getByteArray(0, actual), 0, actual);
            c.memory().writeInt(c.arg(4), actual);
            return 0;
        }
    }

    /**
     * A blocking connect to a unix listener whose backlog is full: Linux waits until the listener
     * takes a connection (as long as {@code SO_SNDTIMEO} allows, then {@code EAGAIN}); the host's
     * non-blocking connect says {@code EAGAIN} at once, and poll cannot tell when there is room,
     * so the connect is tried again after a pause, for as long as the request may run. In a
     * program with other threads (whose waits park) it is still {@code EAGAIN} at once.
     */
    private static long connectWhenThereIsRoom(Syscall c, SocketFile s, byte[] sockaddr) {
        if (c.waiter().parking()) {
            // A parked pause would be tried again with the call's first deadline, not the pause's:
            // with other threads the program learns it at once, as before (see StreamFile#blocking).
            return -Errno.EAGAIN;
        }
        long deadline = c.waiter().deadlineAfter(s.timeoutNanos(HostWaiter.POLLOUT));
        while (true) {
            long remaining = Deadline.remaining(deadline);
            if (remaining == 0) {
                return -Errno.EAGAIN;
            }
            int slept = c.waiter().sleep(remaining < 0 ? StreamFile.REFUSED_RETRY_NANOS
                    : Math.min(StreamFile.REFUSED_RETRY_NANOS, remaining));
            if (slept == HostWaiter.WAIT_PARKED) {
                return Syscall.RESTART;
            }
            if (slept == HostWaiter.WAIT_KICKED) {
                return -Errno.EINTR;
            }
            long rc = s.connect(sockaddr);
            if (rc != -Errno.EAGAIN) {
                return rc;
            }
        }
    }

    static long sendto(Syscall c) {
        return transfer(c, true);
    }

    static long recvfrom(Syscall c) {
        return transfer(c, false);
    }

    /**
     * sendto and recvfrom ({@code fd, buf, len, flags, addr, addrlen}): the buffer checked for the
     * direction; a destination is checked against the policy, a source address written back as
     * the guest may see it.
     */
    private static long transfer(Syscall c, boolean sending) {
        NetlinkRouteSocket netlink = NetlinkSyscalls.of(c, c.intArg(0));
        if (netlink != null) {
            return NetlinkSyscalls.transfer(c, netlink, sending);
        }
        SocketFile s = socket(c, c.intArg(0));
        long count = Math.min(c.arg(2), 0x7ffff000L);
        int callFlags = c.intArg(3);
        int flags = (callFlags & MSG_ALLOWED) | MSG_DONTWAIT;
        long buffer = sending ? c.memory().readable(c.arg(1), count) : c.memory().writable(c.arg(1), count);
        int nr = sending ? SyscallNumbers.SENDTO : SyscallNumbers.RECVFROM;
        short events = sending ? HostWaiter.POLLOUT : HostWaiter.POLLIN;
        long address = c.arg(4);
        if (address == 0) {
            long n = s.io(c.waiter(), events, () -> LibC.syscall(nr, s.hostFd(), buffer, count, flags, 0, 0), callFlags);
            return sending || !waitsForAll(c, s, callFlags, n, count) ? n
                    : receiveTheRest(c, s, callFlags, n, count, oneBuffer(buffer));
        }
        if (sending) {
            try (HostAddress a = checkedAddress(c, s, address, c.arg(5) & 0xffffffffL, false);
                    Memory to = new Memory(a.sockaddr.length)) {
                to.write(0, a.sockaddr, 0, a.sockaddr.length);
                return s.io(c.waiter(), events, () -> LibC.syscall(nr, s.hostFd(), buffer, count, flags,
                        Pointer.nativeValue(to), a.sockaddr.length), callFlags);
            }
        }
        int guestLength = c.memory().readInt(c.arg(5));
        if (guestLength < 0) {
            return -Errno.EINVAL;
        }
        // Checked before receiving: a datagram consumed and then lost to EFAULT would be gone.
        c.memory().check(address, guestLength, AddressSpace.PROT_WRITE);
        try (Memory from = new Memory(SOCKADDR_MAX); Memory len = new Memory(4)) {
            len.setInt(0, SOCKADDR_MAX);
            long n = s.io(c.waiter(), events, () -> LibC.syscall(nr, s.hostFd(), buffer, count, flags,
                    Pointer.nativeValue(from), Pointer.nativeValue(len)), callFlags);
            if (n >= 0) {
                byte[] shown = guestAddress(from.getByteArray(0, Math.min(len.getInt(0), SOCKADDR_MAX)), null);
                c.memory().writeBytes(address, shown, 0, Math.min(shown.length, guestLength));
                c.memory().writeInt(c.arg(5), shown.length);
            }
            return !waitsForAll(c, s, callFlags, n, count) ? n
                    : receiveTheRest(c, s, callFlags, n, count, oneBuffer(buffer));
        }
    }

    /**
     * Whether a receive that took {@code first} of {@code count} bytes goes on for the rest
     * ({@link #receiveTheRest}): {@code MSG_WAITALL} without {@code MSG_PEEK} or
     * {@code MSG_DONTWAIT}, on a blocking stream socket, in a thread whose waits do not park.
     * Asked before anything is made for the rest, so that every other receive allocates nothing.
     */
    private static boolean waitsForAll(Syscall c, SocketFile s, int callFlags, long first, long count) {
        return first > 0 && first < count && (callFlags & (MSG_WAITALL | MSG_PEEK | MSG_DONTWAIT)) == MSG_WAITALL
                && s.type() == SocketFile.SOCK_STREAM && (s.statusFlags() & OpenFlags.O_NONBLOCK) == 0
                && !c.waiter().parking();
    }

    /** Where the byte at offset {@code at} of a receive's buffers is on the host, and how many fit from there ({@code room[0]}). */
    private interface ReceiveBuffer {
        long hostAddress(long at, long[] room);
    }

    /** A receive's one buffer, at {@code hostAddress}: room to its end, which the count bounds. */
    private static ReceiveBuffer oneBuffer(long hostAddress) {
        return (at, room) -> {
            room[0] = Long.MAX_VALUE;
            return hostAddress + at;
        };
    }

    /**
     * {@code MSG_WAITALL} on a blocking stream socket: after a first receive of {@code first}
     * bytes, receives until {@code count} came, the stream ended, an error, or a signal or the
     * request's time limit stopped it, and returns what came (as Linux does on a signal). Without
     * it, a program that reads a fixed-size header with {@code MSG_WAITALL} got a short read. A
     * program with other threads still gets what the first receive found: its wait must park the
     * thread, and a parked call is tried again from its start, which would lose the bytes taken.
     */
    private static long receiveTheRest(Syscall c, SocketFile s, int callFlags, long first, long count,
            ReceiveBuffer buffers) {
        int flags = (callFlags & MSG_ALLOWED & ~MSG_WAITALL) | MSG_DONTWAIT;
        long[] room = new long[1];
        long total = first;
        // One SO_RCVTIMEO for the whole call, as on Linux: it began with the first receive.
        long deadline = c.waiter().deadlineAfter(s.timeoutNanos(HostWaiter.POLLIN));
        while (total < count) {
            long at = buffers.hostAddress(total, room);
            long length = Math.min(room[0], count - total);
            long n = s.receive(c.waiter(),
                    () -> LibC.syscall(SyscallNumbers.RECVFROM, s.hostFd(), at, length, flags, 0, 0), deadline);
            if (n <= 0) {
                break;
            }
            total += n;
        }
        return total;
    }

    /**
     * sendmsg and recvmsg with the iovecs pointing straight into guest memory. Ancillary data
     * (passing fds, credentials) is not supported: a request to send it is {@code EOPNOTSUPP},
     * and none is ever received.
     */
    static long msg(Syscall c, boolean sending) {
        NetlinkRouteSocket netlink = NetlinkSyscalls.of(c, c.intArg(0));
        if (netlink != null) {
            return NetlinkSyscalls.msg(c, netlink, sending);
        }
        SocketFile s = socket(c, c.intArg(0));
        long msghdr = c.arg(1);
        int flags = c.intArg(2) & MSG_ALLOWED;
        AddressSpace m = c.memory();
        m.check(msghdr, 56, AddressSpace.PROT_READ | (sending ? 0 : AddressSpace.PROT_WRITE));
        long name = m.readLong(msghdr);
        int nameLength = m.readInt(msghdr + 8);
        long iov = m.readLong(msghdr + 16);
        long iovCount = m.readLong(msghdr + 24);
        long controlLength = m.readLong(msghdr + 40);
        if (iovCount < 0 || iovCount > 1024 || nameLength < 0) {
            return -Errno.EINVAL;
        }
        if (sending && controlLength != 0) {
            return -Errno.EOPNOTSUPP;
        }
        // A name of length 0 is no name, as the kernel reads a msghdr.
        try (HostAddress destination = sending && name != 0 && nameLength != 0
                ? checkedAddress(c, s, name, nameLength, false) : null;
                Memory hostIov = new Memory(Math.max(16, iovCount * 16)); Memory hdr = new Memory(56);
                Memory sa = new Memory(SOCKADDR_MAX)) {
            for (int i = 0; i < iovCount; i++) {
                long base = m.readLong(iov + i * 16L);
                long len = m.readLong(iov + i * 16L + 8);
                if (len < 0) {
                    return -Errno.EINVAL;
                }
                hostIov.setLong(i * 16L, len == 0 ? 0 : sending ? m.readable(base, len) : m.writable(base, len));
                hostIov.setLong(i * 16L + 8, len);
            }
            hdr.clear();
            if (destination != null) {
                sa.write(0, destination.sockaddr, 0, destination.sockaddr.length);
                hdr.setLong(0, Pointer.nativeValue(sa));
                hdr.setInt(8, destination.sockaddr.length);
            } else if (!sending && name != 0) {
                hdr.setLong(0, Pointer.nativeValue(sa));
                hdr.setInt(8, SOCKADDR_MAX);
            }
            hdr.setLong(16, Pointer.nativeValue(hostIov));
            hdr.setLong(24, iovCount);
            int nr = sending ? SyscallNumbers.SENDMSG : SyscallNumbers.RECVMSG;
            long n = s.io(c.waiter(), sending ? HostWaiter.POLLOUT : HostWaiter.POLLIN,
                    () -> LibC.syscall(nr, s.hostFd(), Pointer.nativeValue(hdr), flags | MSG_DONTWAIT, 0, 0, 0), flags);
            if (n >= 0 && !sending) {
                if (name != 0) {
                    byte[] shown = guestAddress(sa.getByteArray(0, Math.min(hdr.getInt(8), SOCKADDR_MAX)), null);
                    m.writeBytes(name, shown, 0, Math.min(shown.length, nameLength));
                    m.writeInt(msghdr + 8, shown.length);
                }
                m.writeLong(msghdr + 40, 0); // no control data
                m.writeInt(msghdr + 48, hdr.getInt(48) & ~0x8); // msg_flags, without MSG_CTRUNC
            }
            if (sending || (flags & MSG_WAITALL) == 0) {
                return n;
            }
            long capacity = 0;
            for (int i = 0; i < iovCount; i++) {
                capacity += hostIov.getLong(i * 16L + 8);
            }
            if (!waitsForAll(c, s, flags, n, capacity)) {
                return n;
            }
            return receiveTheRest(c, s, flags, n, capacity, (at, room) -> {
                long skipped = 0;
                for (int i = 0;; i++) {
                    long length = hostIov.getLong(i * 16L + 8);
                    if (at < skipped + length) {
                        room[0] = skipped + length - at;
                        return hostIov.getLong(i * 16L) + (at - skipped);
                    }
                    skipped += length;
                }
            });
        }
    }

    /** sendfile: from a file (at the given or the file's own offset) to any writable fd. */
    static long sendfile(Syscall c) {
        FileDescription out = c.files().get(c.intArg(0));
        FileDescription in = c.files().get(c.intArg(1));
        long offsetAddress = c.arg(2);
        long count = Math.min(c.arg(3), 0x7ffff000L);
        if (count < 0) {
            return -Errno.EINVAL;
        }
        // As sendfile(2): the input must be a file one can read at an offset (a pipe or a
        // socket is EINVAL), the output open for writing and not for appending.
        if ((in.statusFlags() & OpenFlags.O_ACCMODE) == OpenFlags.O_WRONLY
                || (out.statusFlags() & OpenFlags.O_ACCMODE) == OpenFlags.O_RDONLY) {
            return -Errno.EBADF;
        }
        if (in instanceof StreamFile s && s.isPipe()) {
            return offsetAddress != 0 ? -Errno.ESPIPE : -Errno.EINVAL; // a pipe is no file to read at an offset
        }
        if (!(out instanceof StreamFile) && (out.statusFlags() & OpenFlags.O_APPEND) != 0) {
            return -Errno.EINVAL; // a file opened for appending (a pipe or a socket may be)
        }
        long chunk = Math.min(count, 64 * 1024);
        long total = 0;
        long offset = offsetAddress != 0 ? c.memory().readLong(offsetAddress) : -1;
        if (offsetAddress != 0 && offset < 0) {
            return -Errno.EINVAL;
        }
        // Without an offset pointer a seekable file is read at its own offset, which then moves by
        // what was sent: a read would move it by what was read, more than a send the output cut
        // short took, and those bytes would be lost to the program.
        long ownOffset = offsetAddress == 0 ? in.seek(0, SEEK_CUR) : -1;
        if (ownOffset >= 0) {
            offset = ownOffset;
        }
        try (Memory buffer = new Memory(Math.max(1, chunk))) {
            long address = Pointer.nativeValue(buffer);
            while (total < count) {
                if (total > 0 && c.waiter().isKicked()) {
                    break; // a time limit or shutdown: what was sent (a regular file's read is never cut)
                }
                long want = Math.min(chunk, count - total);
                long n = offset >= 0 ? in.pread(address, want, offset + total) : in.read(c.waiter(), address, want);
                if (n <= 0) {
                    if (total == 0 && n < 0) {
                        return n;
                    }
                    break;
                }
                long written = 0;
                while (written < n) {
                    long w = out.write(c.waiter(), address + written, n - written);
                    if (w <= 0) {
                        if (total + written == 0) {
                            return w;
                        }
                        total += written;
                        return sent(c, in, offsetAddress, ownOffset, offset, total);
                    }
                    written += w;
                }
                total += n;
                if (n < want) {
                    break;
                }
            }
        }
        return sent(c, in, offsetAddress, ownOffset, offset, total);
    }

    private static final int SEEK_CUR = 1;
    private static final int SEEK_SET = 0;

    /** sendfile's result, {@code total} bytes from {@code offset}: the offset it read at moves past them. */
    private static long sent(Syscall c, FileDescription in, long offsetAddress, long ownOffset, long offset, long total) {
        if (offsetAddress != 0) {
            c.memory().writeLong(offsetAddress, offset + total);
        } else if (ownOffset >= 0) {
            in.seek(offset + total, SEEK_SET);
        }
        return total;
    }
}
