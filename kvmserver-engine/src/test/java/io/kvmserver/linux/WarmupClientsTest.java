package io.kvmserver.linux;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/**
 * Which connections a template may serve while its warmup runs, from the peer address its accept
 * returns: the warmup's own (its bound local address), whatever the listener's family; on the
 * engine's route socket every one; nothing else.
 */
class WarmupClientsTest {

    private static byte[] inet4(String address, int port) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(16);
        b.put((byte) 2).put((byte) 0).putShort((short) port).put(InetAddress.getByName(address).getAddress());
        return b.array();
    }

    private static byte[] inet6(byte[] address, int port) {
        ByteBuffer b = ByteBuffer.allocate(28);
        b.put((byte) 10).put((byte) 0).putShort((short) port).putInt(0).put(address).putInt(0);
        return b.array();
    }

    private static byte[] v4Mapped(String v4) throws Exception {
        byte[] a = new byte[16];
        a[10] = (byte) 0xff;
        a[11] = (byte) 0xff;
        System.arraycopy(InetAddress.getByName(v4).getAddress(), 0, a, 12, 4);
        return a;
    }

    @Test
    void onlyTheWarmupsOwnConnectionsWhileTheyLast() throws Exception {
        WarmupClients clients = new WarmupClients();
        InetSocketAddress warmup = new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 40001);
        clients.expect(warmup);

        assertThat(clients.admits(inet4("127.0.0.1", 40001), false)).isTrue();
        assertThat(clients.admits(inet6(v4Mapped("127.0.0.1"), 40001), false))
                .as("the same client seen by a dual-stack listener").isTrue();
        assertThat(clients.admits(inet4("127.0.0.1", 40002), false)).as("another port").isFalse();
        assertThat(clients.admits(inet4("10.1.2.3", 40001), false)).as("another host, the same port").isFalse();

        clients.done(warmup);
        assertThat(clients.admits(inet4("127.0.0.1", 40001), false)).as("its port used again later").isFalse();
    }

    @Test
    void ipv6LoopbackWarmups() throws Exception {
        WarmupClients clients = new WarmupClients();
        byte[] loopback = InetAddress.getByName("::1").getAddress();
        clients.expect(new InetSocketAddress(InetAddress.getByName("::1"), 40003));
        assertThat(clients.admits(inet6(loopback, 40003), false)).isTrue();
        assertThat(clients.admits(inet6(loopback, 40004), false)).isFalse();
    }

    @Test
    void unixSocketsOnlyOnTheRouteAndNothingMalformed() throws Exception {
        WarmupClients clients = new WarmupClients();
        byte[] unix = {1, 0};
        assertThat(clients.admits(unix, true)).as("the engine's route socket").isTrue();
        assertThat(clients.admits(unix, false)).as("the program's own unix socket").isFalse();
        assertThat(clients.admits(new byte[0], false)).isFalse();
        assertThat(clients.admits(new byte[] {2, 0, 1}, false)).as("a truncated IPv4 address").isFalse();
        assertThat(clients.admits(new byte[] {10, 0, 1, 2, 0, 0, 0, 0, 0}, false)).as("a truncated IPv6 one").isFalse();
        assertThat(clients.admits(new byte[] {17, 0, 0, 0, 0, 0, 0, 0}, false)).as("another family").isFalse();
    }
}
