package io.kvmserver.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.RequiresKvm;
import java.io.IOException;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** UDP and IPv6 over real host sockets, each allowed only by its own rule. */
@RequiresKvm
class SocketsTest {

    @Test
    void udpDatagramsGoOutAndComeBackWhenTheDestinationIsAllowed() throws Exception {
        try (DatagramSocket echo = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            int port = echo.getLocalPort();
            Thread server = new Thread(() -> {
                try {
                    DatagramPacket p = new DatagramPacket(new byte[64], 64);
                    echo.receive(p);
                    echo.send(new DatagramPacket("pong".getBytes(StandardCharsets.US_ASCII), 4, p.getSocketAddress()));
                } catch (IOException ignored) {
                    // the socket closes at the end of the test
                }
            });
            server.start();
            GuestRun.Outcome denied = GuestRun.run(GuestPrograms.get("net_probe"), List.of("udp", "" + port));
            assertThat(denied.stdout()).isEqualTo("sendto errno=13\n");
            GuestRun.Outcome allowed = GuestRun.run(GuestPrograms.get("net_probe"), List.of("udp", "" + port),
                    b -> b.allowConnect(List.of("127.0.0.1:" + port)));
            assertThat(allowed.stdout()).isEqualTo("udp reply=pong from_port_ok=1\n");
            server.join(5_000);
        }
    }

    /**
     * Linux binds an unbound UDP socket to a port on every interface at its first send, and any
     * host may then send to it. The program may talk only to its connect grants and has no listen
     * grant: a stranger's datagram, queued ahead of the reply, must never reach it, neither through
     * a peek, a read nor a recvmsg, nor as bytes left in its buffer, nor as its length through
     * FIONREAD (natively it is received first).
     */
    @Test
    void anUnboundUdpSocketReceivesOnlyFromAddressesTheProgramMaySendTo() throws Exception {
        try (DatagramSocket echo = new DatagramSocket(0, InetAddress.getLoopbackAddress());
                DatagramSocket stranger = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            int port = echo.getLocalPort();
            Thread server = new Thread(() -> {
                try {
                    for (int i = 0; i < 4; i++) {
                        DatagramPacket p = new DatagramPacket(new byte[64], 64);
                        echo.receive(p);
                        stranger.send(new DatagramPacket("evil-stranger".getBytes(StandardCharsets.US_ASCII), 13,
                                p.getSocketAddress()));
                        echo.send(new DatagramPacket("pong".getBytes(StandardCharsets.US_ASCII), 4,
                                p.getSocketAddress()));
                    }
                } catch (IOException ignored) {
                    // the sockets close at the end of the test
                }
            });
            server.start();
            GuestRun.Outcome limited = GuestRun.run(GuestPrograms.get("net_probe"), List.of("udpstranger", "" + port),
                    b -> b.allowConnect(List.of("127.0.0.1:" + port)));
            assertThat(limited.stdout()).isEqualTo("""
                    fionread=4
                    peek=pong buffer=pong
                    read=pong buffer=pong
                    recvmsg=pong from_port_ok=1 buffer=pong
                    rest=-1 errno=11 buffer=
                    """);
            // With every address allowed the stranger may be talked to, and is heard, as natively.
            GuestRun.Outcome open = GuestRun.run(GuestPrograms.get("net_probe"), List.of("udpstranger", "" + port),
                    b -> b.allowNet(true));
            assertThat(open.stdout())
                    .startsWith("fionread=13\npeek=evil-stranger buffer=evil-stranger\nread=evil-stranger buffer=evil-stranger\n");
            server.join(5_000);
        }
    }

    /** ICMP echo sockets have no port and MPTCP and SCTP reach addresses nobody checked: refused. */
    @Test
    void internetSocketsAreTcpOrUdpOnly() {
        GuestRun.Outcome outcome = GuestRun.run(GuestPrograms.get("net_probe"), List.of("protocols", "0"),
                b -> b.allowNet(true));
        assertThat(outcome.stdout())
                .isEqualTo("icmp=93 icmpv6=93 mptcp=93 udplite=93 seqpacket=94 tcp=0 udp=0 tcp6=0 udp6=0\n");
    }

    @Test
    void ipv6ConnectionsAreCheckedAgainstIpv6Rules() throws Exception {
        InetAddress loopback6 = InetAddress.getByName("::1");
        ServerSocket listener;
        try {
            listener = new ServerSocket();
            listener.bind(new InetSocketAddress(loopback6, 0));
        } catch (IOException e) {
            assumeTrue(false, "skipped: IPv6 loopback is not available on this host (" + e + ")");
            return;
        }
        try (ServerSocket s = listener) {
            int port = s.getLocalPort();
            Thread server = new Thread(() -> {
                try (Socket c = s.accept(); OutputStream out = c.getOutputStream()) {
                    out.write("hi6".getBytes(StandardCharsets.US_ASCII));
                } catch (IOException ignored) {
                    // closed at the end of the test
                }
            });
            server.start();
            assertThat(loopback6).isInstanceOf(Inet6Address.class);
            GuestRun.Outcome denied = GuestRun.run(GuestPrograms.get("net_probe"), List.of("tcp6", "" + port),
                    b -> b.allowConnect(List.of("127.0.0.1:" + port)));
            assertThat(denied.stdout()).isEqualTo("connect errno=13\n");
            GuestRun.Outcome allowed = GuestRun.run(GuestPrograms.get("net_probe"), List.of("tcp6", "" + port),
                    b -> b.allowConnect(List.of("[::1]:" + port)));
            assertThat(allowed.stdout()).isEqualTo("tcp6 read=hi6\n");
            server.join(5_000);
        }
    }

    @Test
    void bindingAnIpv6AddressNeedsAListenRule() {
        GuestRun.Outcome denied = GuestRun.run(GuestPrograms.get("net_probe"), List.of("udp6listen", "0"),
                b -> b.allowListen(List.of("127.0.0.1:0")));
        assertThat(denied.stdout()).isEqualTo("bind=-1 errno=13\n");
    }
}
