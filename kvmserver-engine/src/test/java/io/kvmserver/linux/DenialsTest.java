package io.kvmserver.linux;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.config.OptionNaming;
import io.kvmserver.linux.Denials.Denial;
import io.kvmserver.linux.Denials.Kind;
import org.junit.jupiter.api.Test;

class DenialsTest {

    private final Denials spring = new Denials(OptionNaming.SPRING_BOOT, false);

    @Test
    void hintsNameTheSettingThatWouldAllowTheDenialInTheConfigurationsWords() {
        spring.record(Kind.READ, "/usr/lib/python3/os.py");
        spring.record(Kind.LISTEN, "127.0.0.1:9000");
        spring.record(Kind.UNIX_SOCKET, "@hidden");
        Denials cli = new Denials();
        cli.record(Kind.CONNECT, "[::1]:5432");

        assertThat(spring.first()).extracting(Denial::toString).containsExactly(
                "read /usr/lib/python3/os.py: allow it with kvmserver.permissions.allow-read (a directory that"
                        + " contains it) or kvmserver.permissions.volumes",
                "listen 127.0.0.1:9000: allow it with kvmserver.permissions.allow-listen=127.0.0.1:9000 or"
                        + " kvmserver.permissions.allow-net",
                "unix-socket @hidden: abstract unix sockets need kvmserver.permissions.allow-all");
        assertThat(cli.first()).singleElement().hasToString(
                "connect [::1]:5432: allow it with --allow-connect=[::1]:5432 or --allow-net");
    }

    @Test
    void countsEveryDenialButKeepsEachTargetOnce() {
        for (int i = 0; i < 5; i++) {
            spring.record(Kind.CONNECT, "10.0.0.1:80");
        }

        assertThat(spring.count(Kind.CONNECT)).isEqualTo(5);
        assertThat(spring.count(Kind.READ)).isZero();
        assertThat(spring.first()).hasSize(1);
    }

    @Test
    void keepsOnlyTheFirstDistinctDenials() {
        for (int i = 0; i < 1000; i++) {
            spring.record(Kind.READ, "/secret/" + i);
        }

        assertThat(spring.first()).hasSize(Denials.FIRST)
                .extracting(Denial::target).startsWith("/secret/0", "/secret/1").endsWith("/secret/19");
        assertThat(spring.count(Kind.READ)).isEqualTo(1000);
    }

    @Test
    void nameServiceProbesAreExpectedAndListedLast() {
        spring.record(Kind.UNIX_SOCKET, "/var/run/nscd/socket");
        spring.record(Kind.CONNECT, "127.0.0.53:53");
        spring.record(Kind.READ, "/etc/app.conf");
        spring.record(Kind.READ, "/etc/app.d/other.conf");

        assertThat(Denials.isExpectedProbe(Kind.CONNECT, "[2001:db8::1]:53")).isTrue();
        assertThat(Denials.isExpectedProbe(Kind.CONNECT, "10.0.0.1:5353")).isFalse();
        assertThat(Denials.isExpectedProbe(Kind.UNIX_SOCKET, "/run/nscd/socket")).isTrue();
        assertThat(Denials.isExpectedProbe(Kind.READ, "/etc/hosts")).isFalse();
        assertThat(spring.summary()).startsWith("\nThe program was denied (the first 4 distinct; the logger"
                + " kvmserver.denials shows all):\n  read /etc/app.conf: allow it with kvmserver.permissions.allow-read"
                + " (a directory that contains it) or kvmserver.permissions.volumes\n  read /etc/app.d/other.conf\n")
                .contains("\n  unix-socket /var/run/nscd/socket: allow it with kvmserver.permissions.allow-write"
                        + " (a directory that contains it) (a probe most programs make and do without)");
    }

    @Test
    void nothingDeniedIsAnEmptySummary() {
        assertThat(spring.summary()).isEmpty();
    }

    @Test
    void controlCharactersFromTheGuestAreEscaped() {
        spring.record(Kind.READ, "/tmp/a\nWARN forged line\u001b[31m");

        assertThat(spring.first()).singleElement().extracting(Denial::target)
                .isEqualTo("/tmp/a\\x0aWARN forged line\\x1b[31m");
    }
}
