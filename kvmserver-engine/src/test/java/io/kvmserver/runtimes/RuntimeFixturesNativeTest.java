package io.kvmserver.runtimes;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.NativeServer;
import io.kvmserver.testing.RuntimeGuest;
import io.kvmserver.testing.RuntimeGuests;
import io.kvmserver.testing.TestServer;
import org.junit.jupiter.api.Test;

/**
 * The runtime fixtures of issue 10, run natively: each counts the requests its process served
 * (1, 2, 3 on three connections). This is what makes {@link RuntimeServingTest} meaningful: there
 * every ephemeral connection must read the first answer. It also proves that CI installed every
 * runtime and that the Go and Rust fixtures build offline.
 */
class RuntimeFixturesNativeTest {

    private static final int CONNECTIONS = 3;

    private static void assertCounts(RuntimeGuest guest) {
        int port = TestServer.freePort();
        try (NativeServer server = NativeServer.start(guest.nativeCommand(port), guest.env(), port)) {
            for (int n = 1; n <= CONNECTIONS; n++) {
                assertThat(guest.ask(port)).as("%s, connection %d\n%s", guest, n, server.output())
                        .isEqualTo(guest.answerAfter().apply(n));
            }
        }
    }

    @Test
    void deno() {
        assertCounts(RuntimeGuests.deno());
    }

    @Test
    void node() {
        assertCounts(RuntimeGuests.node());
    }

    @Test
    void bun() {
        assertCounts(RuntimeGuests.bun());
    }

    @Test
    void go() {
        assertCounts(RuntimeGuests.go());
    }

    @Test
    void tokio() {
        assertCounts(RuntimeGuests.tokio());
    }

    @Test
    void php() {
        assertCounts(RuntimeGuests.php());
    }

    @Test
    void pythonHttpServer() {
        assertCounts(RuntimeGuests.pythonHttpServer());
    }

    @Test
    void redis() {
        assertCounts(RuntimeGuests.redis());
    }
}
