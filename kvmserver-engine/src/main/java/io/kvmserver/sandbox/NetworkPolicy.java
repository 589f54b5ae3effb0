package io.kvmserver.sandbox;

import io.kvmserver.config.HostPort;
import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.config.Option;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import java.util.List;

/**
 * Decides which TCP/UDP addresses the guest may connect to and listen on.
 *
 * <p>{@code --allow-all} and {@code --allow-net} allow everything. Otherwise a connect must
 * match an {@code --allow-connect} rule and a bind for listening an {@code --allow-listen} rule
 * ({@link HostPort}: any host when empty, {@code *}, {@code 0.0.0.0} or {@code [::]}; any port
 * when 0 or missing). Host names are resolved once, when the policy is built, and match every
 * address they resolved to then; a name that does not resolve stops the start, since a rule
 * that can never match is a configuration mistake.
 *
 * <p>Decisions:
 * <ul>
 *   <li>IPv4-mapped IPv6 addresses ({@code ::ffff:127.0.0.1}) are compared as the IPv4 address,
 *       in rules and in requests, so a dual-stack socket cannot bypass an IPv4 rule.</li>
 *   <li>A request for the wildcard address ({@code 0.0.0.0} or {@code ::}) or for port 0 is an
 *       address and port like any other: only rules for any address, or any port, match it.
 *       Listening on all interfaces with {@code --allow-listen=127.0.0.1:8000} is refused (it
 *       would expose the port beyond what was allowed), and so is connecting to {@code 0.0.0.0},
 *       which Linux treats as the local host.</li>
 *   <li>Unix sockets with a path are decided by {@link FileSystemPolicy} ({@link Access#WRITE}
 *       for bind and connect). Abstract unix sockets have no path and reach any host process
 *       that listens on one, so they need {@code --allow-all}.</li>
 * </ul>
 */
public final class NetworkPolicy {

    /** Resolves a rule's host name; tests substitute their own. */
    @FunctionalInterface
    interface HostResolver {
        InetAddress[] resolve(String host) throws UnknownHostException;
    }

    /** One rule; an empty address list means any address. */
    private record Rule(List<byte[]> addresses, int port) {
        boolean matches(byte[] address, int requestedPort) {
            return (port == 0 || port == requestedPort)
                    && (addresses.isEmpty() || addresses.stream().anyMatch(a -> Arrays.equals(a, address)));
        }
    }

    private final boolean allowAll;
    private final boolean allowNet;
    private final List<Rule> connect;
    private final List<Rule> listen;

    /** Builds the policy, resolving rule host names with the host's resolver. */
    public NetworkPolicy(KvmServerOptions options) {
        this(options, InetAddress::getAllByName);
    }

    NetworkPolicy(KvmServerOptions options, HostResolver resolver) {
        allowAll = options.allowAll();
        allowNet = options.allowNet();
        connect = rules(options.allowConnect(), options.nameOf(Option.ALLOW_CONNECT), resolver);
        listen = rules(options.allowListen(), options.nameOf(Option.ALLOW_LISTEN), resolver);
    }

    /** True if the guest may connect (or send a datagram) to {@code address:port}. */
    public boolean mayConnect(InetAddress address, int port) {
        return allowAll || allowNet || matches(connect, address, port);
    }

    /** True if the guest may bind {@code address:port} to accept connections or datagrams. */
    public boolean mayListen(InetAddress address, int port) {
        return allowAll || allowNet || matches(listen, address, port);
    }

    /** True unless the guest may connect anywhere ({@code --allow-all}, {@code --allow-net}). */
    public boolean limitsConnections() {
        return !allowAll && !allowNet;
    }

    /** True if the guest may bind or connect abstract-namespace unix sockets. */
    public boolean mayUseAbstractUnixSockets() {
        return allowAll;
    }

    private static boolean matches(List<Rule> rules, InetAddress address, int port) {
        byte[] normalized = normalize(address);
        return rules.stream().anyMatch(rule -> rule.matches(normalized, port));
    }

    private static List<Rule> rules(List<String> specs, String flag, HostResolver resolver) {
        return specs.stream().map(spec -> rule(HostPort.parse(spec), flag, resolver)).toList();
    }

    private static Rule rule(HostPort hostPort, String flag, HostResolver resolver) {
        if (hostPort.anyHost()) {
            return new Rule(List.of(), hostPort.port());
        }
        try {
            InetAddress[] addresses = resolver.resolve(hostPort.host());
            return new Rule(Arrays.stream(addresses).map(NetworkPolicy::normalize).toList(), hostPort.port());
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(flag + ": cannot resolve host '" + hostPort.host()
                    + "'; use an address or a name the host can resolve", e);
        }
    }

    /** The address bytes, with an IPv4-mapped IPv6 address reduced to its 4 IPv4 bytes. */
    private static byte[] normalize(InetAddress address) {
        byte[] bytes = address.getAddress();
        if (address instanceof Inet6Address && isIpv4Mapped(bytes)) {
            return Arrays.copyOfRange(bytes, 12, 16);
        }
        return bytes;
    }

    private static boolean isIpv4Mapped(byte[] bytes) {
        for (int i = 0; i < 10; i++) {
            if (bytes[i] != 0) {
                return false;
            }
        }
        return bytes[10] == (byte) 0xff && bytes[11] == (byte) 0xff;
    }
}
