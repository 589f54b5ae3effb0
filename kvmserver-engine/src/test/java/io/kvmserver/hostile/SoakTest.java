package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.linux.LingeringClose;
import io.kvmserver.linux.SyscallTable;
import io.kvmserver.server.ServerStats;
import io.kvmserver.testing.Eventually;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Load on loopback against ephemeral request VMs ({@code threads 2}): concurrent clients send a
 * mix of normal, slow, crashing and looping requests and the attacks of the isolation suite
 * ({@code hostile_isolation.c}: writes into the template's pipes and counters, shutting down and
 * hijacking the listener, FIFOs that block, gigabyte unmaps, giant console writes, host writes
 * past the memory limit, unbounded ppoll). Every normal request must get its own right answer,
 * every check of the template's shared objects must find them pristine, and after a warm-up the
 * JVM's fd count and resident memory must stay flat.
 *
 * <p>Bounded for CI: {@code -Dsoak.seconds} (default 60) of load, of which the first quarter is
 * warm-up. A longer run: {@code -Dsoak.seconds=600}; results are recorded in
 * {@code docs/reliability.md}, and every run writes its numbers to
 * {@code target/soak-report.txt}.
 */
@RequiresKvm
class SoakTest {

    static final long SECONDS = Long.getLong("soak.seconds", 60);
    static final int CLIENTS = Integer.getInteger("soak.clients", 4);
    /** Allowed drift after warm-up: a few fds (JDK internals), and resident memory in MiB. */
    static final int FD_SLACK = 4;
    static final long RSS_SLACK_MIB = 64;

    record Sample(long fds, long rssKib) {
    }

    static Sample sample() throws IOException {
        long fds;
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            fds = s.count();
        }
        long rss = Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("VmRSS:"))
                .map(l -> Long.parseLong(l.replaceAll("\\D", ""))).findFirst().orElseThrow();
        return new Sample(fds, rss);
    }

    /**
     * A sample once the last requests' resets are done, the connections they left lingering are
     * closed, and garbage is collected (waited for, not slept on: a loaded machine takes longer).
     */
    static Sample quiet(TestServer s) throws Exception {
        ServerStats stats = s.server().stats();
        Eventually.reaches(() -> stats.resets() + stats.failedResets(), stats.requests());
        Eventually.reaches(() -> LingeringClose.lingering() == 0 ? 1 : 0, 1);
        System.gc();
        Thread.sleep(500);
        return sample();
    }

    /** Attacks on what VMs share; each answers something, or is cut off at the time limit. */
    private static final List<String> ATTACKS = List.of("/shared/write", "/listener/break", "/listener/hijack",
            "/fifo/write", "/fifo/block", "/memory/unmap", "/console/huge", "/read-zero/256", "/ppoll",
            "/stdout/flood", "/race/probe/100", "/lock/try", "/names", "/sockopt");
    private static final String PRISTINE = "pipe=template-pipe pair=template-pair event=5 timer=armed";

    @Test
    void mixedLoadLosesNoNormalRequestAndLeaksNothing(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        new ProcessBuilder("mkfifo", dir.resolve("fifo").toString()).start().waitFor();
        Files.createDirectories(dir.resolve("d"));
        long bugs = SyscallTable.emulationBugs();
        AtomicLong normal = new AtomicLong();
        AtomicLong slow = new AtomicLong();
        AtomicLong crash = new AtomicLong();
        AtomicLong loop = new AtomicLong();
        AtomicLong attacks = new AtomicLong();
        List<String> wrong = java.util.Collections.synchronizedList(new ArrayList<>());
        long start = System.nanoTime();
        long warmupEnd = start + Duration.ofSeconds(SECONDS).toNanos() / 4;
        long end = start + Duration.ofSeconds(SECONDS).toNanos();
        Sample warm = null;
        Sample last;
        List<Long> rssTrail = new ArrayList<>();
        ServerStats stats;
        try (TestServer s = TestServer.start(GuestPrograms.get("hostile_isolation"),
                List.of(dir.toString(), dir.toString()), b -> b.ephemeral(true).threads(2)
                        .maxRequestTime(Duration.ofSeconds(1)).maxMainMemory(4L << 30)
                        .maxRequestMemory(64L << 20).limitRequestMemory(64L << 20)
                        .allowWrite(List.of(dir.toString())))) {
            ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
            // Warm-up, then the measured phase; fds and RSS are sampled between phases, with no
            // connection in flight, and at the end.
            for (long phaseEnd : new long[] {warmupEnd, end}) {
                List<Future<?>> done = new ArrayList<>();
                for (int c = 0; c < CLIENTS; c++) {
                    int client = c;
                    done.add(clients.submit(() -> {
                        SplittableRandom random = new SplittableRandom(client * 31L + phaseEnd);
                        for (long i = 0; System.nanoTime() < phaseEnd; i++) {
                            int dice = random.nextInt(100);
                            if (dice < 80) {
                                String id = client + "-" + phaseEnd % 1000 + "-" + i;
                                String body = s.get("/normal/" + id);
                                normal.incrementAndGet();
                                if (!body.equals("ok " + id)) {
                                    wrong.add(id + " -> " + body);
                                }
                            } else if (dice < 83) {
                                String body = s.get("/shared/read");
                                normal.incrementAndGet();
                                if (!body.equals(PRISTINE)) {
                                    wrong.add("shared -> " + body);
                                }
                            } else if (dice < 88) {
                                String body = s.get("/slow/" + (20 + random.nextInt(100)));
                                slow.incrementAndGet();
                                if (!body.equals("slept")) {
                                    wrong.add("slow -> " + body);
                                }
                            } else if (dice < 93) {
                                String body = s.get(ATTACKS.get(random.nextInt(ATTACKS.size())));
                                attacks.incrementAndGet();
                                if (body.contains("HIJACKED")) {
                                    wrong.add("hijacked -> " + body);
                                }
                            } else if (dice < 99) {
                                s.get("/crash");
                                crash.incrementAndGet();
                            } else {
                                s.get("/loop");
                                loop.incrementAndGet();
                            }
                        }
                        return null;
                    }));
                }
                while (!done.stream().allMatch(Future::isDone)) {
                    Thread.sleep(1000);
                    rssTrail.add(sample().rssKib() >> 10);
                }
                for (Future<?> f : done) {
                    f.get();
                }
                if (phaseEnd == warmupEnd) {
                    warm = quiet(s);
                }
            }
            clients.shutdown();
            last = quiet(s);
            stats = s.server().stats();
        }
        String report = String.format("soak: %d s, %d clients, threads 2, ephemeral: normal=%d slow=%d crash=%d loop=%d"
                + " attacks=%d wrong-or-lost=%d resets=%d failed-resets=%d; host fds after warm-up %d, at end %d;"
                + " VmRSS after warm-up %d MiB, at end %d MiB; VmRSS each second (MiB): %s%n", SECONDS, CLIENTS,
                normal.get(), slow.get(), crash.get(), loop.get(), attacks.get(), wrong.size(), stats.resets(),
                stats.failedResets(), warm.fds(), last.fds(), warm.rssKib() >> 10, last.rssKib() >> 10, rssTrail);
        System.out.print(report);
        Files.writeString(Path.of("target/soak-report.txt"), report);
        assertThat(wrong).as("normal requests with a wrong or missing answer").isEmpty();
        assertThat(normal.get()).isGreaterThan(SECONDS * 5);
        assertThat(crash.get() + loop.get()).isPositive();
        assertThat(attacks.get()).isPositive();
        assertThat(stats.failedResets()).isZero();
        assertThat(stats.requests(ServerStats.Outcome.CRASH)).isEqualTo(crash.get());
        assertThat(last.fds()).as("host fds at the end vs after warm-up").isBetween(warm.fds() - FD_SLACK,
                warm.fds() + FD_SLACK);
        assertThat(last.rssKib() - warm.rssKib()).as("resident memory growth (KiB)").isLessThan(RSS_SLACK_MIB << 10);
        assertThat(SyscallTable.emulationBugs()).isEqualTo(bugs);
    }
}
