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

    private static final int SO_PRIORITY = 12;
    private static final int SO_MARK = 36;
    /** The highest priority an unprivileged socket may take (socket(7)). */
    private static final int MAX_UNPRIVILEGED_PRIORITY = 6;
    /** IP_FREEBIND, IP_IPSEC_POLICY, IP_XFRM_POLICY, IP_TRANSPARENT. */
    private static final BitSet IP_PRIVILEGED = of(15, 16, 17, 19);
    /** IPV6_IPSEC_POLICY, IPV6_XFRM_POLICY, IPV6_TRANSPARENT, IPV6_FREEBIND. */
    private static final BitSet IPV6_PRIVILEGED = of(34, 35, 75, 78);

    /**
     * For setsockopt of an allowed option: {@code EPERM} when setting it needs a capability the
     * guest does not have ({@code CAP_NET_ADMIN}, {@code CAP_NET_RAW}) although the JVM may: to
     * bind foreign addresses, mark or prioritize host traffic, or install IPsec policies; 0 when
     * the value may be set.
     */
    static int refusedValue(int level, int name, byte[] value) {
        if (level == SOL_SOCKET && name == SO_MARK) {
            return Errno.EPERM;
        }
        if (level == SOL_SOCKET && name == SO_PRIORITY && value.length >= 4) {
            int priority = LittleEndian.intAt(value, 0);
            return priority < 0 || priority > MAX_UNPRIVILEGED_PRIORITY ? Errno.EPERM : 0;
        }
        if ((level == IPPROTO_IP && IP_PRIVILEGED.get(name)) || (level == IPPROTO_IPV6 && IPV6_PRIVILEGED.get(name))) {
            return Errno.EPERM;
        }
        return 0;
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
