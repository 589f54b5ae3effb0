package io.kvmserver.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class HostPortTest {

    @ParameterizedTest
    @CsvSource({
        "localhost:8000,      localhost, 8000",
        "127.0.0.1:80,        127.0.0.1, 80",
        "127.0.0.1,           127.0.0.1, 0",
        "127.0.0.1:0,         127.0.0.1, 0",
        "':8000',             '',        8000",
        "*:8000,              '',        8000",
        "*,                   '',        0",
        "0.0.0.0:443,         '',        443",
        "[::]:443,            '',        443",
        "[::1]:8000,          ::1,       8000",
        "[::1],               ::1,       0",
        "[::ffff:10.0.0.1]:1, ::ffff:10.0.0.1, 1",
        "example.com:65535,   example.com, 65535",
        "not-an-address,      not-an-address, 0",
        "db.internal.:5432,   db.internal., 5432",
        "[fe80::1%1]:80,      fe80::1%1, 80",
    })
    void parsesRules(String rule, String host, int port) {
        HostPort parsed = HostPort.parse(rule);
        assertThat(parsed).isEqualTo(new HostPort(host, port));
        assertThat(parsed.anyHost()).isEqualTo(host.isEmpty());
        assertThat(parsed.anyPort()).isEqualTo(port == 0);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
        "::1:80          | write IPv6 addresses in brackets",
        "[::1            | has no closing ']'",
        "[::1]80         | expected ':port' after ']'",
        "host:65536      | port 65536 is outside 0-65535",
        "host:-1         | port '-1' is not a number",
        "host:http       | port 'http' is not a number",
        "host:1234567    | port '1234567' is not a number",
        "300.1.1.1:80    | '300.1.1.1' is not an IPv4 address",
        "1.2.3:80        | '1.2.3' is not an IPv4 address",
        "[1.2.3.4]:80    | '1.2.3.4' is not an IPv6 address",
        "[g::1]:80       | 'g::1' is not an IPv6 address",
        "exa mple.com:80 | 'exa mple.com' is neither an address nor a host name",
        "-bad.com:80     | '-bad.com' is neither an address nor a host name",
        "a_b.com:80      | 'a_b.com' is neither an address nor a host name",
    })
    void rejectsMalformedRulesWithoutALookup(String rule, String message) {
        assertThatThrownBy(() -> HostPort.parse(rule)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(message);
    }

    @ParameterizedTest
    @CsvSource({
        "127.0.0.1:80,     true,  true",
        "[::1]:80,         true,  true",
        "*:80,             true,  true",
        "localhost:80,     false, true",
        "LOCALHOST,        false, true",
        "not-an-address,   false, false",
        "example.com:443,  false, false",
    })
    void tellsAddressesFromNames(String rule, boolean address, boolean local) {
        assertThat(HostPort.parse(rule).isAddress()).isEqualTo(address);
        assertThat(HostPort.parse(rule).isLocalAddress()).isEqualTo(local);
    }
}
