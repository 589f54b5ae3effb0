package io.kvmserver.sandbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvmserver.config.KvmServerOptions;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class NetworkPolicyTest {

    private static final NetworkPolicy.HostResolver RESOLVER = host -> switch (host) {
        case "localhost" -> new InetAddress[] {ip("127.0.0.1"), ip("::1")};
        case "example.com" -> new InetAddress[] {ip("93.184.216.34")};
        default -> {
            if (Character.isDigit(host.charAt(0)) || host.contains(":")) {
                yield new InetAddress[] {InetAddress.getByName(host)};
            }
            throw new UnknownHostException(host);
        }
    };

    private static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    /** An IPv4-mapped address that stays an {@link Inet6Address}, as an AF_INET6 socket gives it. */
    private static InetAddress mapped(int a, int b, int c, int d) throws UnknownHostException {
        byte[] bytes = new byte[16];
        bytes[10] = (byte) 0xff;
        bytes[11] = (byte) 0xff;
        bytes[12] = (byte) a;
        bytes[13] = (byte) b;
        bytes[14] = (byte) c;
        bytes[15] = (byte) d;
        return Inet6Address.getByAddress(null, bytes, -1);
    }

    private static NetworkPolicy policy(UnaryOperator<KvmServerOptions.Builder> options) {
        return new NetworkPolicy(options.apply(KvmServerOptions.builder().program("/bin/p")).build(), RESOLVER);
    }

    @Test
    void deniesEverythingByDefault() {
        NetworkPolicy policy = policy(b -> b);

        assertThat(policy.mayConnect(ip("127.0.0.1"), 80)).isFalse();
        assertThat(policy.mayListen(ip("0.0.0.0"), 8000)).isFalse();
        assertThat(policy.mayUseAbstractUnixSockets()).isFalse();
    }

    @Test
    void allowNetAndAllowAllAllowEverything() {
        for (NetworkPolicy policy : List.of(policy(b -> b.allowNet(true)), policy(b -> b.allowAll(true)))) {
            assertThat(policy.mayConnect(ip("10.1.2.3"), 5432)).isTrue();
            assertThat(policy.mayListen(ip("::"), 1)).isTrue();
        }
        assertThat(policy(b -> b.allowNet(true)).mayUseAbstractUnixSockets()).isFalse();
        assertThat(policy(b -> b.allowAll(true)).mayUseAbstractUnixSockets()).isTrue();
    }

    @Test
    void matchesAddressAndPort() {
        NetworkPolicy policy = policy(b -> b.allowConnect(List.of("10.0.0.1:5432")));

        assertThat(policy.mayConnect(ip("10.0.0.1"), 5432)).isTrue();
        assertThat(policy.mayConnect(ip("10.0.0.1"), 5433)).isFalse();
        assertThat(policy.mayConnect(ip("10.0.0.2"), 5432)).isFalse();
        assertThat(policy.mayListen(ip("10.0.0.1"), 5432)).isFalse();
    }

    @Test
    void portZeroOrMissingMeansAnyPort() {
        for (String rule : List.of("10.0.0.1", "10.0.0.1:0")) {
            NetworkPolicy policy = policy(b -> b.allowConnect(List.of(rule)));
            assertThat(policy.mayConnect(ip("10.0.0.1"), 1)).isTrue();
            assertThat(policy.mayConnect(ip("10.0.0.1"), 65535)).isTrue();
            assertThat(policy.mayConnect(ip("10.0.0.9"), 1)).isFalse();
        }
    }

    @Test
    void emptyStarAndWildcardHostsMeanAnyAddress() {
        for (String rule : List.of(":8000", "*:8000", "0.0.0.0:8000", "[::]:8000")) {
            NetworkPolicy policy = policy(b -> b.allowListen(List.of(rule)));
            assertThat(policy.mayListen(ip("0.0.0.0"), 8000)).as(rule).isTrue();
            assertThat(policy.mayListen(ip("::1"), 8000)).as(rule).isTrue();
            assertThat(policy.mayListen(ip("192.168.1.1"), 8000)).as(rule).isTrue();
            assertThat(policy.mayListen(ip("0.0.0.0"), 8001)).as(rule).isFalse();
        }
    }

    @Test
    void theFlagWithoutValueMeansAnything() {
        NetworkPolicy policy = policy(b -> b.allowConnect(List.of("*")));

        assertThat(policy.mayConnect(ip("203.0.113.9"), 443)).isTrue();
        assertThat(policy.mayListen(ip("203.0.113.9"), 443)).isFalse();
    }

    @Test
    void aSpecificRuleDoesNotAllowTheWildcardAddressOrPortZero() {
        NetworkPolicy policy = policy(b -> b.allowListen(List.of("127.0.0.1:8000")).allowConnect(List.of("127.0.0.1:80")));

        assertThat(policy.mayListen(ip("127.0.0.1"), 8000)).isTrue();
        assertThat(policy.mayListen(ip("0.0.0.0"), 8000)).isFalse();
        assertThat(policy.mayListen(ip("127.0.0.1"), 0)).isFalse();
        assertThat(policy.mayConnect(ip("0.0.0.0"), 80)).isFalse();
    }

    @Test
    void ipv6RulesInBrackets() {
        NetworkPolicy policy = policy(b -> b.allowListen(List.of("[::1]:8000")));

        assertThat(policy.mayListen(ip("::1"), 8000)).isTrue();
        assertThat(policy.mayListen(ip("127.0.0.1"), 8000)).isFalse();
    }

    @Test
    void ipv4MappedAddressesMatchIpv4Rules() throws UnknownHostException {
        NetworkPolicy policy = policy(b -> b.allowConnect(List.of("127.0.0.1:80")));

        assertThat(mapped(127, 0, 0, 1)).isInstanceOf(Inet6Address.class);
        assertThat(policy.mayConnect(mapped(127, 0, 0, 1), 80)).isTrue();
        assertThat(policy.mayConnect(mapped(127, 0, 0, 2), 80)).isFalse();
    }

    @Test
    void ipv4MappedRulesMatchIpv4Addresses() throws UnknownHostException {
        NetworkPolicy policy = policy(b -> b.allowConnect(List.of("[::ffff:10.0.0.1]:80")));

        assertThat(policy.mayConnect(ip("10.0.0.1"), 80)).isTrue();
        assertThat(policy.mayConnect(mapped(10, 0, 0, 1), 80)).isTrue();
    }

    @Test
    void hostNamesAreResolvedToAllTheirAddresses() {
        NetworkPolicy policy = policy(b -> b.allowConnect(List.of("localhost:6379", "example.com:443")));

        assertThat(policy.mayConnect(ip("127.0.0.1"), 6379)).isTrue();
        assertThat(policy.mayConnect(ip("::1"), 6379)).isTrue();
        assertThat(policy.mayConnect(ip("93.184.216.34"), 443)).isTrue();
        assertThat(policy.mayConnect(ip("93.184.216.34"), 6379)).isFalse();
    }

    @Test
    void anUnresolvableHostStopsTheStart() {
        assertThatThrownBy(() -> policy(b -> b.allowConnect(List.of("nowhere.invalid:80"))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("--allow-connect: cannot resolve host 'nowhere.invalid'");
    }

    @Test
    void resolvesWithTheHostResolverByDefault() {
        NetworkPolicy policy = new NetworkPolicy(KvmServerOptions.builder().program("/bin/p")
                .allowConnect(List.of("127.0.0.1:80")).build());

        assertThat(policy.mayConnect(ip("127.0.0.1"), 80)).isTrue();
    }
}
