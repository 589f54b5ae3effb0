package io.kvmserver.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvmserver.kvm.Kvm;

import io.kvmserver.testing.Eventually;
import io.kvmserver.server.KvmServerException;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import io.kvmserver.vm.TrapPathCheck;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Warmup before the freeze, and a server that leaves nothing behind: fds, threads, requests. */
@RequiresKvm
class LifecycleTest {

    @Test
    void warmupRequestsArePartOfTheTemplate() {
        try (TestServer s = TestServer.start(GuestPrograms.get("http_server"), List.of(),
                b -> b.warmup(3).warmupPath("/counter").ephemeral(true))) {
            for (int i = 0; i < 5; i++) {
                assertThat(s.get("/counter")).isEqualTo("global=4 heap=4");
            }
        }
    }

    /**
     * A program that fails on a warmup request listened and served: the failure is the warmup
     * request's, named with the setting (the operator review found "crashed before it waited for
     * connections" and advice about listen grants).
     */
    @Test
    void aProgramThatFailsOnAWarmupRequestIsSaidToHaveFailedThere() {
        assertThatThrownBy(() -> TestServer.start(GuestPrograms.get("http_server"), List.of(),
                b -> b.warmup(2).warmupPath("/crash")).close())
                .isInstanceOf(KvmServerException.class)
                .hasMessageContaining("crashed during warmup request 1 of 2 (--warmup, path /crash): ");
        assertThatThrownBy(() -> TestServer.start(GuestPrograms.get("http_server"), List.of(),
                b -> b.warmup(3).warmupPath("/exit")).close())
                .isInstanceOf(KvmServerException.class)
                .hasMessageContaining("exited with status 3 during warmup request 1 of 3 (--warmup, path /exit)");
    }

    /**
     * tokio's shape: the I/O thread waits in epoll_wait before the listener exists, and the main
     * thread adds it through a duplicate of the epoll fd. The waiting thread must hear of the
     * warmup's connections (it once heard only when the warmup gave up).
     */
    @Test
    void warmupReachesAListenerAddedWhileAnotherThreadWaits() {
        try (TestServer s = TestServer.start(GuestPrograms.get("late_listener_server"), List.of(),
                b -> b.warmup(3).ephemeral(true).maxRequestTime(Duration.ofSeconds(2)))) {
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/")).isEqualTo("served=4");
            }
        }
    }

    /**
     * A request VM starts at the template's frozen wait and makes that call on the host without
     * entering the guest. A blocking-accept server makes four calls per request (accept, read,
     * write, close); only the last three are exits to the engine, each request VM's accept being
     * the frozen one, and where the syscall entry answers calls in the guest (PVM), one: the read
     * is answered from the bytes the host read ahead and the write waits for the close. A request
     * whose bytes arrive after the host looked reads them through the host, one exit more, which
     * in a loaded test run happens to most of them: the fewest exits of requests, run until one
     * makes the expected count (at most 200, or a minute), which a frozen wait made in the guest
     * would raise for every one.
     */
    @Test
    void aRequestVmMakesItsFrozenWaitWithoutAnExit() {
        long expected;
        try (Kvm kvm = Kvm.open()) {
            expected = TrapPathCheck.syscallStaysInUserMode(kvm) ? 1 : 3;
        }
        try (TestServer s = TestServer.start(GuestPrograms.get("hot_pages"), List.of(), b -> b.ephemeral(true))) {
            var stats = s.server().stats();
            assertThat(s.get("/rest")).isEqualTo("ok");
            Eventually.reaches(stats::requests, 1);
            long fewest = Long.MAX_VALUE;
            long deadline = System.nanoTime() + 60_000_000_000L;
            for (int i = 0; i < 5 || (fewest > expected && i < 200 && System.nanoTime() < deadline); i++) {
                long before = stats.vmExits();
                assertThat(s.get("/rest")).isEqualTo("ok");
                Eventually.reaches(stats::requests, 2 + i);
                fewest = Math.min(fewest, stats.vmExits() - before);
            }
            assertThat(fewest).as("exits of the request with fewest").isEqualTo(expected);
            // The program runs inside its requests: from the accept the host makes for the entry to the close.
            assertThat(stats.vmRunNanos()).as("time in KVM_RUN").isPositive().isLessThan(stats.requestNanos());
        }
    }

    @Test
    void thousandsOfResetsLeakNoHostFdsAndCloseReleasesEverything() throws IOException {
        long before = openFds();
        int requests = 1000;
        try (TestServer s = TestServer.start(GuestPrograms.get("http_server"), List.of(),
                b -> b.ephemeral(true).threads(2))) {
            for (int i = 0; i < 50; i++) {
                assertThat(s.get("/fd")).isEqualTo("fd=6");
            }
            Eventually.reaches(s.server().stats()::resets, 50);
            long warm = openFds();
            for (int i = 0; i < requests; i++) {
                assertThat(s.get(i % 2 == 0 ? "/fd" : "/counter")).isNotEmpty();
            }
            assertThat(Eventually.reaches(s.server().stats()::resets, 50 + requests)).isEqualTo(50 + requests);
            assertThat(openFds()).as("host fds after %d more resets", requests).isEqualTo(warm);
        }
        assertThat(openFds()).as("host fds after close").isEqualTo(before);
        assertThat(Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("kvmserver-request-vm")).filter(Thread::isAlive))
                .as("request VM threads after close").isEmpty();
    }

    @Test
    void gracefulCloseLetsARequestInFlightFinish() throws Exception {
        TestServer s = TestServer.start(GuestPrograms.get("http_server"), List.of(), b -> b.ephemeral(true));
        assertThat(s.get("/")).isEqualTo("hello");
        s.close();
        assertThat(s.get("/")).as("nothing listens after close").startsWith("ERROR:");
    }

    @Test
    void anIdleNonEphemeralServerStopsWithoutWaitingForTheGracePeriod() {
        TestServer s = TestServer.start(GuestPrograms.get("http_server"), List.of(), b -> b.ephemeral(false));
        for (int i = 0; i < 20; i++) {
            assertThat(s.get("/")).isEqualTo("hello");
        }
        long start = System.nanoTime();
        s.server().close(java.time.Duration.ofSeconds(60));
        // Not a speed assertion: a server that waited for the grace period would take 60 s.
        assertThat((System.nanoTime() - start) / 1_000_000_000L).as("seconds to close").isLessThan(30);
    }

    private static long openFds() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }
}
