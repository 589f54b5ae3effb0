package io.kvmserver.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.server.KvmServer;
import io.kvmserver.server.KvmServerException;
import io.kvmserver.server.RequestReport;
import io.kvmserver.server.Route;
import io.kvmserver.server.ServerStats;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.Http;
import io.kvmserver.testing.RequiresKvm;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The route address: the program listens on TCP as it always does, and the engine serves that
 * listener on a private unix socket instead, without a TCP port or a listen permission. A routed
 * connection learns which request VM served it and how its request ended.
 */
@RequiresKvm
class RouteTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    @Test
    void theProgramListensWithoutAPortOrAPermissionAndEveryRoutedRequestGetsAFreshVm() throws Exception {
        int port = Http.freePort();
        try (KvmServer server = start(port, b -> b)) {
            Route route = server.route();
            assertThat(route.address()).isEqualTo("127.0.0.1:" + port);
            assertThat(Files.getPosixFilePermissions(route.socket().getParent()))
                    .as("the socket's directory is the JVM user's alone")
                    .isEqualTo(java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
            for (int i = 0; i < 5; i++) {
                Exchange e = exchange(route, "/counter");
                assertThat(e.body()).as("request %d", i).isEqualTo("counter=1");
                assertThat(e.report().outcome()).isEqualTo(ServerStats.Outcome.OK);
                assertThat(e.report().vm()).isBetween(0, 1);
                assertThat(e.report().exits()).isPositive();
                assertThat(e.report().resetPages()).isPositive();
                assertThat(e.report().requestNanos()).isPositive();
            }
            assertThatThrownBy(() -> new Socket().connect(new InetSocketAddress("127.0.0.1", port), 1000))
                    .as("nothing listens on the TCP port").isInstanceOf(ConnectException.class);
            assertThat(server.denials().count(io.kvmserver.linux.Denials.Kind.LISTEN)).isZero();
            assertThat(server.listenAddress()).isNull();
        }
    }

    @Test
    void theProgramSeesTheTcpNamesItBelievesIn() throws Exception {
        int port = Http.freePort();
        try (KvmServer server = start(port, b -> b)) {
            String names = exchange(server.route(), "/names").body();
            Matcher m = Pattern.compile("listener=127\\.0\\.0\\.1:(\\d+) local=127\\.0\\.0\\.1:(\\d+)"
                    + " peer=127\\.0\\.0\\.1:(\\d+) family=2 domain=2 nodelay=1").matcher(names);
            assertThat(m.matches()).as(names).isTrue();
            assertThat(Integer.parseInt(m.group(1))).isEqualTo(port);
            assertThat(Integer.parseInt(m.group(2))).isEqualTo(port);
            assertThat(Integer.parseInt(m.group(3))).isBetween(32768, 60999);
        }
    }

    @Test
    void aRequestCannotTakeTheRouteAddressEvenWithReusePort() throws Exception {
        int port = Http.freePort();
        try (KvmServer server = start(port, b -> b)) {
            assertThat(exchange(server.route(), "/rebind").body()).isEqualTo("rebind=98"); // EADDRINUSE
            assertThat(exchange(server.route(), "/counter").body()).isEqualTo("counter=1");
        }
    }

    /**
     * The socket's directory is never the guest's, not even with every permission: a request
     * cannot connect to the route socket (and be served, uncounted, by another VM), list the
     * directory, or bind a name there that a routed client could be taken for.
     */
    @Test
    void noGuestReachesTheRouteSocketsDirectoryWhateverItMay() throws Exception {
        int port = Http.freePort();
        try (KvmServer server = start(port, b -> b.allowAll(true))) {
            String reach = exchange(server.route(), "/reach" + server.route().socket()).body();
            assertThat(reach).isEqualTo("connect=2 open=2 bind=2"); // ENOENT, as for what does not exist
            assertThat(exchange(server.route(), "/counter").body()).isEqualTo("counter=1");
        }
    }

    /**
     * Nor is another server's route directory, in the same JVM (an application with several
     * servers): found by the review of 2026-12-05, each server hid only its own, so a program
     * allowed {@code /dev/shm} (python's multiprocessing wants it) connected to the other server's
     * route socket, to be served unadmitted and unreported by its request VMs.
     */
    @Test
    void noGuestReachesAnotherServersRouteSocketsDirectoryEither() throws Exception {
        int port = Http.freePort();
        int other = Http.freePort();
        try (KvmServer server = start(port, b -> b.allowAll(true));
                KvmServer neighbour = start(other, b -> b)) {
            String reach = exchange(server.route(), "/reach" + neighbour.route().socket()).body();
            assertThat(reach).isEqualTo("connect=2 open=2 bind=2");
            assertThat(exchange(neighbour.route(), "/reach" + server.route().socket()).body())
                    .isEqualTo("connect=2 open=2 bind=2");
        }
    }

    /**
     * Nor another JVM's engine directory: every JVM of the same user makes one in the same places.
     * Found by the review of 2026-12-05: a program of another JVM allowed {@code /dev/shm} listed
     * this one's directory, connected to its route socket, unlinked it and bound its own in its
     * place. A directory named as another JVM's, with a listening socket in it, stands for it.
     */
    @Test
    void noGuestReachesAnotherJvmsEngineDirectory() throws Exception {
        Path other = Files.createTempDirectory(io.kvmserver.sandbox.EngineDirectory.root().getParent(), "kvmserver-engine-");
        Path socket = other.resolve("listener");
        int port = Http.freePort();
        try (java.nio.channels.ServerSocketChannel listener = java.nio.channels.ServerSocketChannel
                .open(java.net.StandardProtocolFamily.UNIX)
                .bind(java.net.UnixDomainSocketAddress.of(socket));
                KvmServer server = start(port, b -> b.allowAll(true))) {
            assertThat(exchange(server.route(), "/reach" + socket).body()).isEqualTo("connect=2 open=2 bind=2");
            assertThat(socket).exists();
        } finally {
            Files.deleteIfExists(socket);
            Files.deleteIfExists(other.resolve("c1"));
            Files.deleteIfExists(other);
        }
    }

    @Test
    void aRequestThatCrashesOrRunsPastItsLimitIsReportedAsSuch() throws Exception {
        int port = Http.freePort();
        try (KvmServer server = start(port, b -> b.maxRequestTime(Duration.ofSeconds(1)))) {
            Exchange crash = exchange(server.route(), "/crash");
            assertThat(crash.body()).isEmpty();
            assertThat(crash.report().outcome()).isEqualTo(ServerStats.Outcome.CRASH);
            assertThat(crash.report().failure()).isNotBlank();
            Exchange slow = exchange(server.route(), "/sleep");
            assertThat(slow.body()).isEmpty();
            assertThat(slow.report().outcome()).isEqualTo(ServerStats.Outcome.TIMEOUT);
            assertThat(exchange(server.route(), "/counter").body()).isEqualTo("counter=1");
        }
    }

    @Test
    void admissionsNeverOutnumberTheVmsAndAPlaceIsFreedOnlyOnceItsVmIsFree() throws Exception {
        int port = Http.freePort();
        try (KvmServer server = start(port, b -> b.threads(1))) {
            Route route = server.route();
            Route.Admission first = route.admit(WAIT, 8);
            assertThat(first).isNotNull();
            assertThat(route.admit(Duration.ofMillis(100), 8)).as("the only VM is taken").isNull();
            SocketChannel channel = connect(route, first);
            first.close(); // the client is done, but the VM has not even read the request yet
            assertThat(route.admit(Duration.ofMillis(100), 8)).as("the VM is still busy").isNull();
            channel.write(ByteBuffer.wrap(request("/counter")));
            assertThat(read(channel)).endsWith("counter=1");
            channel.close();
            assertThat(first.report().get(10, TimeUnit.SECONDS).outcome()).isEqualTo(ServerStats.Outcome.OK);
            try (Route.Admission second = route.admit(WAIT, 8)) {
                assertThat(second).as("free again once the VM has reported").isNotNull();
            }
            assertThat(route.admit(Duration.ZERO, 8)).as("a place not followed is freed at close").isNotNull();
        }
    }

    /**
     * Each waiting admission holds a thread of the application's web server: beyond
     * {@code maxWaiting} a request is refused at once (review of 2026-12-05, third round: 400
     * clients of one route parked all 200 of Tomcat's threads, and every other server, controller
     * and health probe of the application waited up to the route's max-wait).
     */
    @Test
    void admissionsWaitingAtOnceAreBoundedAndTheNextOneIsRefusedAtOnce() throws Exception {
        int port = Http.freePort();
        try (KvmServer server = start(port, b -> b.threads(1))) {
            Route route = server.route();
            try (Route.Admission only = route.admit(WAIT, 1)) {
                assertThat(only).as("a free VM is taken without waiting, whatever the bound").isNotNull();
                assertThatThrownBy(() -> route.admit(WAIT, 0)).as("no waiting allowed")
                        .isInstanceOf(Route.QueueFull.class);
                CompletableFuture<Route.Admission> waiter = CompletableFuture.supplyAsync(() -> {
                    try {
                        return route.admit(Duration.ofSeconds(2), 1);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
                while (route.waiting() == 0 && System.nanoTime() < deadline) {
                    Thread.sleep(1);
                }
                assertThat(route.waiting()).isEqualTo(1);
                long start = System.nanoTime();
                assertThatThrownBy(() -> route.admit(WAIT, 1)).isInstanceOf(Route.QueueFull.class)
                        .hasMessage("1 routed requests already wait for a free request VM");
                assertThat(System.nanoTime() - start).as("refused at once, not after the wait")
                        .isLessThan(TimeUnit.SECONDS.toNanos(1));
                assertThat(waiter.get(5, TimeUnit.SECONDS)).as("the waiter's VM never came free").isNull();
                assertThat(route.waiting()).isZero();
            }
            try (Route.Admission again = route.admit(Duration.ZERO, 0)) {
                assertThat(again).as("free again: taken without waiting").isNotNull();
            }
        }
    }

    /**
     * A request may wait for its place without a thread ({@code admitLater}: WebFlux's route, whose
     * waits held the bounded-elastic threads every other route and blocking task of the
     * application needs): the place freed goes to the request that waited longest and still
     * waits, one that gave up leaves the queue at once, a place that came to one that gave up is
     * given back, and the server's stop ends every wait.
     */
    @Test
    void aRequestWaitsForItsPlaceWithoutAThreadAndOneThatGaveUpTakesNone() throws Exception {
        int port = Http.freePort();
        CompletableFuture<Route.Admission> atStop;
        try (KvmServer server = start(port, b -> b.threads(1))) {
            Route route = server.route();
            Route.Admission only = route.admit(WAIT, 2);
            CompletableFuture<Route.Admission> gaveUp = route.admitLater(Duration.ofSeconds(10), 2);
            CompletableFuture<Route.Admission> next = route.admitLater(Duration.ofSeconds(10), 2);
            assertThat(route.waiting()).isEqualTo(2);
            assertThatThrownBy(() -> route.admitLater(WAIT, 2).join()).hasCauseInstanceOf(Route.QueueFull.class);
            Route.abandon(gaveUp);
            assertThat(route.waiting()).as("the one that gave up left the queue").isEqualTo(1);
            assertThat(next).isNotDone();
            only.close(); // never followed: its place is free at once, and the next one takes it
            assertThat(next.get(5, TimeUnit.SECONDS)).isNotNull();
            assertThat(gaveUp).isCancelled();
            assertThat(route.admit(Duration.ZERO, 0)).as("taken by the one that waited").isNull();
            Route.abandon(next); // its client went after all: the place is given back
            Route.Admission again = route.admit(Duration.ZERO, 0);
            assertThat(again).as("the place given back").isNotNull();
            atStop = route.admitLater(Duration.ofSeconds(30), 2);
            assertThat(route.waiting()).isEqualTo(1);
        }
        assertThat(atStop.get(5, TimeUnit.SECONDS)).as("the stop ends every wait, with no place").isNull();
    }

    @Test
    void withoutEphemeralModeAVmKeepsItsStateAndReportsEachConnectionWithoutAReset() throws Exception {
        int port = Http.freePort();
        try (KvmServer server = start(port, b -> b.threads(1).ephemeral(false))) {
            for (int i = 1; i <= 3; i++) {
                Exchange e = exchange(server.route(), "/counter");
                assertThat(e.body()).isEqualTo("counter=" + i);
                assertThat(e.report().outcome()).isEqualTo(ServerStats.Outcome.OK);
                assertThat(e.report().resetPages()).isZero();
            }
        }
    }

    @Test
    void otherClientsOfTheSocketAreServedAndWarmupGoesThroughIt() throws Exception {
        int port = Http.freePort();
        try (KvmServer server = start(port, b -> b.warmup(2).warmupPath("/counter"))) {
            try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(server.route().socket()))) {
                channel.write(ByteBuffer.wrap(request("/counter")));
                assertThat(read(channel)).as("two warmup requests went into the template").endsWith("counter=3");
            }
        }
    }

    @Test
    void aProgramThatListensElsewhereFailsTheStartNamingTheSetting() {
        int port = Http.freePort();
        int other = Http.freePort();
        assertThatThrownBy(() -> start(port, b -> b.args(List.of(Integer.toString(other)))
                .allowListen(List.of("127.0.0.1:" + other))).close())
                .isInstanceOf(KvmServerException.class)
                .hasMessageContaining("not on --route-address 127.0.0.1:" + port);
    }

    @Test
    void aWildcardRouteAddressTakesTheProgramsAddressOnThatPort() throws Exception {
        int port = Http.freePort();
        try (KvmServer server = start(port, b -> b.routeAddress("*:" + port))) {
            assertThat(exchange(server.route(), "/names").body()).startsWith("listener=127.0.0.1:" + port + " ");
        }
    }

    // ---- helpers ----

    private static KvmServer start(int port, UnaryOperator<KvmServerOptions.Builder> options) {
        Path program = GuestPrograms.get("route_server");
        return KvmServer.start(options.apply(KvmServerOptions.builder()
                .program(program.toString())
                .args(List.of(Integer.toString(port)))
                .routeAddress("127.0.0.1:" + port)
                .threads(2)
                .ephemeral(true)
                .maxBootTime(Duration.ofSeconds(30))
                .maxMainMemory(256L << 20)).build(), (stream, address, length) -> length, Map.of());
    }

    record Exchange(String body, RequestReport report) {
    }

    /** A GET through the route, the way a routing application sends it. */
    static Exchange exchange(Route route, String path) throws Exception {
        try (Route.Admission admission = route.admit(WAIT, 8)) {
            assertThat(admission).as("a free VM").isNotNull();
            String response;
            try (SocketChannel channel = connect(route, admission)) {
                channel.write(ByteBuffer.wrap(request(path)));
                response = read(channel);
            }
            RequestReport report = admission.report().get(10, TimeUnit.SECONDS);
            assertThat(admission.vm()).hasValue(report.vm());
            int body = response.indexOf("\r\n\r\n");
            return new Exchange(body < 0 ? response : response.substring(body + 4), report);
        }
    }

    private static SocketChannel connect(Route route, Route.Admission admission) throws IOException {
        SocketChannel channel = route.newChannel();
        channel.connect(UnixDomainSocketAddress.of(route.socket()));
        admission.follow(channel.getLocalAddress());
        return channel;
    }

    private static byte[] request(String path) {
        return ("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
    }

    private static String read(SocketChannel channel) throws IOException {
        return new String(Channels.newInputStream(channel).readAllBytes(), StandardCharsets.UTF_8);
    }
}
