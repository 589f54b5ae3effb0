package io.kvmserver.linux;

import io.kvmserver.host.Errno;

import java.util.BitSet;

/**
 * The socket options a guest may get and set: an allowlist, because the host call runs with the
 * JVM's privileges (often root in containers) and some options are not values at all. Refused,
 * with {@code ENOPROTOOPT}:
 * <ul>
 *   <li>options that carry pointers or fds the host kernel would dereference in the JVM's address
 *       space or fd table: BPF filters ({@code SO_ATTACH_FILTER}, {@code SO_ATTACH_BPF}, the
 *       reuseport variants), {@code TCP_ZEROCOPY_RECEIVE};</li>
 *   <li>options that need {@code CAP_NET_ADMIN} and would act on the host: netfilter and multicast
 *       routing tables (IP option numbers 64 and up), {@code SO_*BUFFORCE},
 *       {@code SO_BINDTODEVICE}, {@code TCP_REPAIR*}, and module-loading names
 *       ({@code TCP_ULP}, {@code TCP_CONGESTION});</li>
 *   <li>options that reveal host identities: {@code SO_PEERCRED}, {@code SO_PEERSEC},
 *       {@code SO_COOKIE}.</li>
 * </ul>
 * Options a process may read but only set with a capability the guest does not have (to bind
 * foreign addresses, mark or prioritize host traffic, install IPsec policies) are refused when
 * set with {@code EPERM}, as Linux refuses an unprivileged process: see {@link #refusedValue}.
 */
final class SocketOptions {

    static final int SOL_SOCKET = 1;
    static final int IPPROTO_IP = 0;
    static final int IPPROTO_TCP = 6;
    static final int IPPROTO_UDP = 17;
    static final int IPPROTO_IPV6 = 41;

    private static final BitSet SOCKET = of(2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21, 29,
            30, 35, 37, 38, 39, 46, 47, 49, 60, 63, 64, 65, 66, 67, 69, 70);
    private static final BitSet TCP = of(1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 16, 17, 18, 23, 24, 25, 26, 30, 33, 34,
            36, 37);
    private static final BitSet UDP = of(1, 103, 104);
    /** IPv6 options from 64 up that are plain values (preferences, hop counts, flags). */
    private static final BitSet IPV6_HIGH = of(72, 73, 74, 76, 77);
    private static final int FIRST_TABLE_OPTION = 64;

    private SocketOptions() {
    }

    private static BitSet of(int... names) {
        BitSet set = new BitSet();
        for (int n : names) {
            set.set(n);
        }
        return set;
    }

    private static final int SO_SNDBUF = 7;
    private static final int SO_RCVBUF = 8;
    private static final int SO_PRIORITY = 12;
    private static final int SO_MARK = 36;
    private static final int SO_PREFER_BUSY_POLL = 69;
    private static final int SO_BUSY_POLL_BUDGET = 70;
    /** The highest priority an unprivileged socket may take (socket(7)). */
    private static final int MAX_UNPRIVILEGED_PRIORITY = 6;
    /**
     * The most a guest's {@code SO_SNDBUF} or {@code SO_RCVBUF} asks the host for: Linux's default
     * {@code net.core.wmem_max} and {@code rmem_max}. A host tuned higher would otherwise give
     * every socket of every request VM its maximum (8 MiB here: 480 socketpairs of one request
     * held 3.9 GB of the host's kernel memory, outside any limit of the engine's).
     */
    static final int BUFFER_MAX = 212992;
    private static final int IP_OPTIONS = 4;
    /** IP_FREEBIND, IP_IPSEC_POLICY, IP_XFRM_POLICY, IP_TRANSPARENT. */
    private static final BitSet IP_PRIVILEGED = of(15, 16, 17, 19);
    /** IPV6_IPSEC_POLICY, IPV6_XFRM_POLICY, IPV6_TRANSPARENT, IPV6_FREEBIND. */
    private static final BitSet IPV6_PRIVILEGED = of(34, 35, 75, 78);
    /**
     * Extension headers a socket would add to what it sends: hop-by-hop and destination options
     * ({@code CAP_NET_RAW} on Linux), routing headers, which send every packet through addresses
     * the network policy never saw (Linux lets any process set them), and the RFC 2292 forms,
     * including {@code IPV6_2292PKTOPTIONS}, which carries any of them.
     */
    private static final BitSet IPV6_HEADERS = of(3, 4, 5, 6, 54, 55, 57, 59);
    /** IP options that may be set without {@code CAP_NET_RAW}: end, no-op, record route, timestamp. */
    private static final BitSet IP_OPTIONS_UNPRIVILEGED = of(0, 1, 7, 0x44);

    /**
     * For setsockopt of an allowed option: {@code EPERM} when setting it needs a capability the
     * guest does not have ({@code CAP_NET_ADMIN}, {@code CAP_NET_RAW}) although the JVM may: to
     * bind foreign addresses, mark, prioritize or busy-poll host traffic, route packets through
     * other addresses (source routes, IPv6 routing headers), or install IPsec policies; 0 when the
     * value may be set.
     */
    static int refusedValue(int level, int name, byte[] value) {
        int number = value.length >= 4 ? LittleEndian.intAt(value, 0) : 0;
        if (level == SOL_SOCKET) {
            return switch (name) {
                case SO_MARK -> Errno.EPERM;
                case SO_PRIORITY -> value.length >= 4 && (number < 0 || number > MAX_UNPRIVILEGED_PRIORITY) ? Errno.EPERM : 0;
                case SO_PREFER_BUSY_POLL, SO_BUSY_POLL_BUDGET -> number != 0 ? Errno.EPERM : 0;
                default -> 0;
            };
        }
        if (level == IPPROTO_IP) {
            return IP_PRIVILEGED.get(name) || (name == IP_OPTIONS && !unprivilegedIpOptions(value)) ? Errno.EPERM : 0;
        }
        if (level == IPPROTO_IPV6) {
            return IPV6_PRIVILEGED.get(name) || (IPV6_HEADERS.get(name) && value.length > 0) ? Errno.EPERM : 0;
        }
        return 0;
    }

    /** Whether every option of an {@code IP_OPTIONS} value is one Linux lets any process set. */
    private static boolean unprivilegedIpOptions(byte[] options) {
        int at = 0;
        while (at < options.length) {
            int type = options[at] & 0xff;
            if (!IP_OPTIONS_UNPRIVILEGED.get(type)) {
                return false;
            }
            if (type == 0) {
                return true; // end of the list
            }
            if (type == 1) {
                at++;
                continue;
            }
            int length = at + 1 < options.length ? options[at + 1] & 0xff : 0;
            if (length < 2) {
                return true; // malformed: Linux's own parse refuses it (EINVAL)
            }
            at += length;
        }
        return true;
    }

    /**
     * The value to give the host for an allowed option that may be set: the guest's, except a
     * buffer size above {@link #BUFFER_MAX}, which is cut to it as a default Linux host would.
     */
    static byte[] hostValue(int level, int name, byte[] value) {
        // Unsigned, as Linux compares it (min_t(u32, ...)): -1 would otherwise ask for the host's maximum.
        if (level == SOL_SOCKET && (name == SO_SNDBUF || name == SO_RCVBUF) && value.length >= 4
                && Integer.compareUnsigned(LittleEndian.intAt(value, 0), BUFFER_MAX) > 0) {
            byte[] cut = value.clone();
            System.arraycopy(LittleEndian.intBytes(BUFFER_MAX), 0, cut, 0, 4);
            return cut;
        }
        return value;
    }

    static boolean allowed(int level, int name) {
        if (name < 0) {
            return false;
        }
        return switch (level) {
            case SOL_SOCKET -> SOCKET.get(name) || name == SO_MARK;
            case IPPROTO_TCP -> TCP.get(name);
            case IPPROTO_UDP -> UDP.get(name);
            case IPPROTO_IP -> name > 0 && name < FIRST_TABLE_OPTION;
            case IPPROTO_IPV6 -> (name > 0 && name < FIRST_TABLE_OPTION) || IPV6_HIGH.get(name)
                    || IPV6_PRIVILEGED.get(name);
            default -> false;
        };
    }
}
