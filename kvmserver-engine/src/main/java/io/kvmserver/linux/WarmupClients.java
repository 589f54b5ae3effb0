package io.kvmserver.linux;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The connections a booting template may serve while its warmup runs: the warmup client's own,
 * known by their local address, which the client binds before it connects. Whatever else connects
 * in that window is an outside client; the template must not serve it, because its state becomes
 * every request VM's starting point (a request it served would reach every later client). It keeps
 * such a connection for the request VMs instead ({@link EarlyConnections}).
 *
 * <p>Shared between the warmup's thread, which adds and removes its connections, and the
 * template's, which asks about each connection it accepts.
 */
public final class WarmupClients {

    private static final int AF_UNIX = 1;
    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;

    private final Set<InetSocketAddress> expected = ConcurrentHashMap.newKeySet();

    /** The warmup is about to connect from {@code local} (bound already, so that the address is its own). */
    public void expect(InetSocketAddress local) {
        expected.add(normalized(local));
    }

    /** The connection from {@code local} was answered: an address reused later is not the warmup's. */
    public void done(InetSocketAddress local) {
        expected.remove(normalized(local));
    }

    /**
     * Whether the template may serve the connection whose peer is {@code sockaddr} (as accept
     * wrote it) on a listener that {@code onRoute} says is the engine's own route socket: every
     * connection there (only the engine reaches that socket, and the warmup is its only client
     * before the freeze), elsewhere only the warmup's own TCP connections (it never uses the
     * program's own unix sockets).
     */
    boolean admits(byte[] sockaddr, boolean onRoute) {
        if (onRoute) {
            return true;
        }
        if (sockaddr.length < 2) {
            return false;
        }
        int family = (sockaddr[0] & 0xff) | (sockaddr[1] & 0xff) << 8;
        if (family == AF_UNIX) {
            return false;
        }
        InetSocketAddress peer = inet(family, sockaddr);
        return peer != null && expected.contains(peer);
    }

    private static InetSocketAddress inet(int family, byte[] sockaddr) {
        int port;
        byte[] address;
        if (family == AF_INET && sockaddr.length >= 8) {
            address = Arrays.copyOfRange(sockaddr, 4, 8);
        } else if (family == AF_INET6 && sockaddr.length >= 24) {
            address = Arrays.copyOfRange(sockaddr, 8, 24);
        } else {
            return null;
        }
        port = (sockaddr[2] & 0xff) << 8 | (sockaddr[3] & 0xff);
        try {
            // A v4-mapped IPv6 address (a dual-stack listener) comes back as the IPv4 one.
            return new InetSocketAddress(InetAddress.getByAddress(address), port);
        } catch (UnknownHostException e) {
            return null; // only for a wrong length, which the checks above rule out
        }
    }

    private static InetSocketAddress normalized(InetSocketAddress local) {
        return new InetSocketAddress(local.getAddress(), local.getPort());
    }
}
