package io.kvmserver.linux;

import com.sun.jna.LastErrorException;
import io.kvmserver.config.HostPort;
import io.kvmserver.host.Errno;
import io.kvmserver.host.LibC;
import io.kvmserver.host.OpenFlags;
import io.kvmserver.host.SyscallNumbers;
import io.kvmserver.sandbox.EngineDirectory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * The route address: the address the program listens on that the engine serves privately. When
 * the program binds it, nothing is bound on the host and no listen permission is needed; when it
 * listens, the engine backs the socket with a unix socket of its own ({@link #socket()}), in a
 * directory only the JVM's user may enter and the guest never sees. Nothing reaches the program
 * there but the clients the engine's host lets in: no TCP port is opened.
 *
 * <p>The program keeps believing in TCP. {@code getsockname} answers the address it bound (the
 * loopback address in place of a wildcard, for a connection); a connection comes from a loopback
 * peer with a port of its own, drawn at random so that it tells a request nothing about other
 * requests; TCP and IP socket options are kept in the socket's own view, since a unix socket has
 * none; {@code SO_DOMAIN} and {@code SO_PROTOCOL} answer what the program asked for.
 *
 * <p>One socket of the program may hold the address at a time, and once it listens nobody else may
 * bind it ({@code EADDRINUSE}): in a request VM the address is the server's, as every listening
 * address of the frozen template is ({@link ServedEndpoints}).
 */
public final class RouteSocket implements AutoCloseable {

    private static final int AF_UNIX = 1;
    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;
    private static final int SOCK_STREAM = 1;
    private static final int SOCK_NONBLOCK = 04000;
    private static final int SOCK_CLOEXEC = 02000000;
    /** sun_path's size, terminating zero included. */
    private static final int UNIX_PATH_MAX = 108;
    /** The longest client name {@link #clientName} makes: "c" and a long. */
    private static final int CLIENT_NAME_MAX = 21;
    private static final byte[] LOOPBACK4 = {127, 0, 0, 1};
    private static final byte[] LOOPBACK6 = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

    private final String address;
    /** The address bytes the route matches (4 or 16), none for any address; loopback both ways for localhost. */
    private final byte[][] hosts;
    private final int port;
    private final Path directory;
    private final Path socket;
    private SocketFile claimedBy;
    private volatile boolean listening;

    private RouteSocket(String address, byte[][] hosts, int port, Path directory) {
        this.address = address;
        this.hosts = hosts;
        this.port = port;
        this.directory = directory;
        this.socket = directory.resolve("listener");
    }

    /**
     * The route address {@code address} (a local {@code address:port}, already validated), with a
     * private directory of its own for the unix socket.
     */
    public static RouteSocket create(String address) {
        HostPort hostPort = HostPort.parse(address);
        byte[][] hosts;
        if (hostPort.anyHost()) {
            hosts = new byte[0][];
        } else if (hostPort.host().equalsIgnoreCase("localhost")) {
            hosts = new byte[][] {LOOPBACK4, LOOPBACK6};
        } else {
            try {
                hosts = new byte[][] {normalize(InetAddress.getByName(hostPort.host().indexOf(':') >= 0
                        ? "[" + hostPort.host() + "]" : hostPort.host()).getAddress())};
            } catch (UnknownHostException e) {
                throw new IllegalArgumentException("'" + address + "' is not an address", e);
            }
        }
        return new RouteSocket(address, hosts, hostPort.port(), privateDirectory());
    }

    /**
     * A new directory of the route's own in the engine's directory, which only this user may enter
     * and no guest of any server sees ({@link EngineDirectory}); short enough for the socket paths
     * made in it.
     */
    private static Path privateDirectory() {
        Path directory = EngineDirectory.newDirectory("r");
        if (directory.toString().length() + 1 + CLIENT_NAME_MAX >= UNIX_PATH_MAX) {
            directory.toFile().delete();
            throw new IllegalStateException("no temporary directory with a path short enough for a unix socket:"
                    + " the engine's directory is " + EngineDirectory.root());
        }
        return directory;
    }

    /** The route address as configured, such as {@code 127.0.0.1:8000}. */
    public String address() {
        return address;
    }

    /** The unix socket that serves the route address once the program listens on it. */
    public Path socket() {
        return socket;
    }

    /** The private directory: clients of {@link #socket()} bind their own names here (see {@link #clientName}). */
    public Path directory() {
        return directory;
    }

    /** Whether the program listens on the route address (and the template was frozen with it, once serving). */
    public boolean isListening() {
        return listening;
    }

    /** A name in the private directory for the client of a connection, unique for {@code serial}. */
    public Path clientName(long serial) {
        return directory.resolve("c" + serial);
    }

    // ---- the program's side, from the socket system calls ----

    /**
     * bind: when {@code sockaddr} is the route address, the socket takes it without a host bind
     * (0, or {@code EADDRINUSE} when another socket holds it or it is served already); -1 (never
     * an errno) when it is another address, for the ordinary bind.
     */
    synchronized long bind(SocketFile s, byte[] sockaddr) {
        if (!matches(s, sockaddr)) {
            return NOT_ROUTED;
        }
        if (listening || claimedBy != null || s.route() != null || s.isListener()) {
            return -Errno.EADDRINUSE;
        }
        claimedBy = s;
        s.routeTo(new Binding(this, Arrays.copyOf(sockaddr, s.domain() == AF_INET ? 16 : 28), null));
        return 0;
    }

    /** What {@link #bind} answers for an address that is not the route address. */
    static final long NOT_ROUTED = -1;

    /**
     * listen on the socket that holds the route address: its host socket becomes the private unix
     * socket, bound but not yet listening (the ordinary listen follows, with the program's backlog).
     */
    synchronized long back(SocketFile s) {
        if (listening || claimedBy != s) {
            return -Errno.EADDRINUSE;
        }
        int fd;
        try {
            fd = (int) LibC.syscall(SyscallNumbers.SOCKET, AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, 0, 0,
                    0);
        } catch (LastErrorException e) {
            return -e.getErrorCode();
        }
        try {
            byte[] path = socket.toString().getBytes(StandardCharsets.UTF_8);
            byte[] sockaddr = new byte[2 + path.length + 1];
            sockaddr[0] = AF_UNIX;
            System.arraycopy(path, 0, sockaddr, 2, path.length);
            LibC.syscall(SyscallNumbers.BIND, fd, sockaddr, sockaddr.length, 0, 0, 0);
            // The program's socket (never bound on the host) becomes the unix socket, fd number and all.
            LibC.syscall(SyscallNumbers.DUP3, fd, s.hostFd(), OpenFlags.O_CLOEXEC, 0, 0, 0);
        } catch (LastErrorException e) {
            return -e.getErrorCode();
        } finally {
            LibC.close(fd);
        }
        listening = true;
        return 0;
    }

    /** The socket holding the route address is gone: unless it served it, another may take it. */
    synchronized void released(SocketFile s) {
        if (claimedBy == s && !listening) {
            claimedBy = null;
        }
    }

    private boolean matches(SocketFile s, byte[] sockaddr) {
        int family = (sockaddr[0] & 0xff) | ((sockaddr[1] & 0xff) << 8);
        if (family != s.domain() || (s.type() & 0xf) != SOCK_STREAM
                || sockaddr.length < (family == AF_INET ? 16 : family == AF_INET6 ? 24 : Integer.MAX_VALUE)) {
            return false;
        }
        int boundPort = ((sockaddr[2] & 0xff) << 8) | (sockaddr[3] & 0xff);
        if (boundPort != port) {
            return false;
        }
        if (hosts.length == 0) {
            return true;
        }
        byte[] bound = normalize(family == AF_INET ? Arrays.copyOfRange(sockaddr, 4, 8)
                : Arrays.copyOfRange(sockaddr, 8, 24));
        return Stream.of(hosts).anyMatch(h -> Arrays.equals(h, bound));
    }

    /** An IPv4-mapped IPv6 address as its 4 IPv4 bytes, so that both families compare alike. */
    private static byte[] normalize(byte[] address) {
        if (address.length == 16) {
            for (int i = 0; i < 10; i++) {
                if (address[i] != 0) {
                    return address;
                }
            }
            if ((address[10] & 0xff) == 0xff && (address[11] & 0xff) == 0xff) {
                return Arrays.copyOfRange(address, 12, 16);
            }
        }
        return address;
    }

    /** Deletes the private directory and what is in it; the program's VMs are gone. */
    @Override
    public void close() {
        try (Stream<Path> files = Files.list(directory)) {
            files.forEach(f -> f.toFile().delete());
        } catch (IOException e) {
            // already gone
        }
        directory.toFile().delete();
    }

    /**
     * A socket's part in the route: the names it shows the program, as {@code sockaddr} bytes of
     * the program's family. {@code peer} is null for the listening socket.
     */
    record Binding(RouteSocket route, byte[] local, byte[] peer) {

        /** A connection accepted from the listener holding this binding. */
        Binding accepted() {
            byte[] shown = local.clone();
            boolean v4 = shown.length == 16;
            byte[] loopback = v4 ? LOOPBACK4 : LOOPBACK6;
            if (isWildcard(shown, v4)) {
                System.arraycopy(loopback, 0, shown, v4 ? 4 : 8, loopback.length);
            }
            byte[] from = new byte[shown.length];
            from[0] = shown[0];
            from[1] = shown[1];
            int peerPort = ThreadLocalRandom.current().nextInt(32768, 61000); // Linux's ephemeral range
            from[2] = (byte) (peerPort >> 8);
            from[3] = (byte) peerPort;
            System.arraycopy(loopback, 0, from, v4 ? 4 : 8, loopback.length);
            return new Binding(route, shown, from);
        }

        private static boolean isWildcard(byte[] sockaddr, boolean v4) {
            for (int i = v4 ? 4 : 8; i < (v4 ? 8 : 24); i++) {
                if (sockaddr[i] != 0) {
                    return false;
                }
            }
            return true;
        }
    }
}
