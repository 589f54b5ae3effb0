package io.kvmserver.linux;

import java.net.InetSocketAddress;
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

    private final Set<InetSocketAddress> expected = ConcurrentHashMap.newKeySet();
    /** Warmup requests begun so far: a boot that fails after the first one failed in the warmup. */
    private volatile int begun;

    /** A warmup request is about to be sent (through the route or TCP). */
    public void begin() {
        begun++;
    }

    /** How many warmup requests were begun. */
    public int begun() {
        return begun;
    }

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
        InetSocketAddress peer = NetSyscalls.inetSocketAddress(sockaddr);
        return peer != null && expected.contains(peer);
    }

    private static InetSocketAddress normalized(InetSocketAddress local) {
        return new InetSocketAddress(local.getAddress(), local.getPort());
    }
}
