package io.kvmserver.config;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One {@code --allow-connect} or {@code --allow-listen} rule, {@code host:port}.
 *
 * <p>The host is a name, an IPv4 address or an IPv6 address in brackets ({@code [::1]:8000});
 * an empty host, {@code *}, {@code 0.0.0.0} and {@code [::]} all mean any address and are
 * stored as {@code ""}. A missing port or port {@code 0} means any port and is stored as 0.
 * Only the syntax is checked here; names are resolved by the network policy.
 *
 * @param host the host name or address literal without brackets, {@code ""} for any
 * @param port 1-65535, or 0 for any
 */
public record HostPort(String host, int port) {

    /** A DNS name: dot-separated labels of letters, digits and inner hyphens (RFC 1123). */
    private static final String LABEL = "[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?";

    private static final Pattern HOST_NAME = Pattern.compile("(?=.{1,253}$)" + LABEL + "(\\." + LABEL + ")*\\.?");

    private static final Pattern IPV4 = Pattern.compile(
            "((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])");

    /** Checks the port range. */
    public HostPort {
        Objects.requireNonNull(host, "host");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port " + port + " is outside 0-65535");
        }
    }

    /** Reads one rule; the message of the exception says what is wrong with it. */
    public static HostPort parse(String rule) {
        String host;
        String port;
        if (rule.startsWith("[")) {
            int close = rule.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException("'" + rule + "' has no closing ']'");
            }
            host = rule.substring(1, close);
            String rest = rule.substring(close + 1);
            if (!rest.isEmpty() && !rest.startsWith(":")) {
                throw new IllegalArgumentException("'" + rule + "': expected ':port' after ']'");
            }
            port = rest.isEmpty() ? "" : rest.substring(1);
        } else {
            int colon = rule.indexOf(':');
            if (colon >= 0 && rule.indexOf(':', colon + 1) >= 0) {
                throw new IllegalArgumentException(
                        "'" + rule + "': write IPv6 addresses in brackets, as in [::1]:8000");
            }
            host = colon < 0 ? rule : rule.substring(0, colon);
            port = colon < 0 ? "" : rule.substring(colon + 1);
        }
        if (anyHost(host)) {
            return new HostPort("", parsePort(port, rule));
        }
        checkHost(host, rule.startsWith("["), rule);
        return new HostPort(host, parsePort(port, rule));
    }

    /** True if the host is an IP address literal (or any address), not a name to resolve. */
    public boolean isAddress() {
        return anyHost() || host.indexOf(':') >= 0 || IPV4.matcher(host).matches();
    }

    /** True if the host is an address literal, any address, or {@code localhost}. */
    public boolean isLocalAddress() {
        return isAddress() || host.equalsIgnoreCase("localhost");
    }

    private static void checkHost(String host, boolean bracketed, String rule) {
        if (bracketed) {
            if (!isIpv6Literal(host)) {
                throw new IllegalArgumentException("'" + rule + "': '" + host + "' is not an IPv6 address");
            }
        } else if (host.chars().allMatch(c -> c == '.' || c >= '0' && c <= '9')) {
            if (!IPV4.matcher(host).matches()) {
                throw new IllegalArgumentException("'" + rule + "': '" + host + "' is not an IPv4 address");
            }
        } else if (!HOST_NAME.matcher(host).matches()) {
            throw new IllegalArgumentException("'" + rule + "': '" + host + "' is neither an address nor a host name");
        }
    }

    /** Parses an IPv6 literal; in brackets, {@link InetAddress} never falls back to a lookup. */
    private static boolean isIpv6Literal(String host) {
        if (host.indexOf(':') < 0) {
            return false;
        }
        try {
            InetAddress.getByName("[" + host + "]");
            return true;
        } catch (UnknownHostException e) {
            return false;
        }
    }

    /** True if the rule matches every address. */
    public boolean anyHost() {
        return host.isEmpty();
    }

    /** True if the rule matches every port. */
    public boolean anyPort() {
        return port == 0;
    }

    private static boolean anyHost(String host) {
        return host.isEmpty() || host.equals("*") || host.equals("0.0.0.0") || host.equals("::");
    }

    private static int parsePort(String port, String rule) {
        if (port.isEmpty()) {
            return 0;
        }
        if (port.length() > 5 || !port.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new IllegalArgumentException("'" + rule + "': port '" + port + "' is not a number 0-65535");
        }
        int value = Integer.parseInt(port);
        if (value > 65535) {
            throw new IllegalArgumentException("'" + rule + "': port " + value + " is outside 0-65535");
        }
        return value;
    }
}
