package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.server.ServerStats;
import io.kvmserver.testing.Eventually;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Pages every request rewrites become hot: the engine stops tracking the guest's writes to them
 * (no dirty-tracking fault in the next request) and restores them at every reset instead. What a
 * request writes there must still never reach the next one ({@code hot_pages.c}), whether the
 * page is hot, written and put back as it was, left alone, or gone cold again after the engine
 * probed it; and the pages count towards {@code max-request-memory} in every request.
 */
@RequiresKvm
class HotPagesTest {

    /**
     * The pages of hot_pages.c that its /write requests rewrite: 64 of a static array and one in
     * each of 3 chunks of their own (KVM memory slots other than the array's).
     */
    private static final int REWRITTEN = 67;

    private static TestServer start(long maxRequestMemory) {
        return start(b -> b.maxRequestMemory(maxRequestMemory));
    }

    private static TestServer start(UnaryOperator<KvmServerOptions.Builder> options) {
        return TestServer.start(GuestPrograms.get("hot_pages"), List.of(),
                b -> options.apply(b.ephemeral(true).threads(1)));
    }

    /** Three requests that rewrite the same pages: then they are hot. */
    private static void makeHot(TestServer s) {
        for (int i = 1; i <= 3; i++) {
            assertThat(s.get("/write/" + i)).isEqualTo("ok");
        }
        assertThat(hotPagesAfterReset(s)).as("pages two requests in a row wrote").isGreaterThanOrEqualTo(REWRITTEN);
    }

    /** Waits until the VM has been reset after every request so far, then reads the hot pages. */
    private static long hotPagesAfterReset(TestServer s) {
        ServerStats stats = s.server().stats();
        Eventually.reaches(stats::resets, stats.requests());
        return s.server().hotPages();
    }

    @Test
    void rewrittenPagesBecomeHotAndEveryResetStillRestoresThem() {
        try (TestServer s = start(128L << 20)) {
            assertThat(s.get("/check")).isEqualTo("pristine");
            assertThat(hotPagesAfterReset(s)).as("nothing is hot before requests repeat").isLessThan(REWRITTEN);
            for (int i = 1; i <= 3; i++) {
                assertThat(s.get("/write/" + i)).isEqualTo("ok");
            }
            assertThat(hotPagesAfterReset(s)).as("pages two requests in a row wrote").isGreaterThanOrEqualTo(REWRITTEN);
            for (int i = 0; i < 5; i++) {
                assertThat(s.get("/write/" + (100 + i))).isEqualTo("ok");
                assertThat(s.get("/check")).as("after a request wrote every hot page").isEqualTo("pristine");
                assertThat(s.get("/mark/" + (7 + i))).isEqualTo("ok");
                assertThat(s.get("/check")).as("after a request wrote one hot page").isEqualTo("pristine");
                assertThat(s.get("/same")).isEqualTo("ok");
                assertThat(s.get("/check")).as("after a request wrote and put back").isEqualTo("pristine");
            }
            assertThat(hotPagesAfterReset(s)).isGreaterThanOrEqualTo(REWRITTEN);
            assertThat(s.server().stats().failures()).isZero();
        }
    }

    /**
     * Pages no request writes any more are probed one by one (each cold for a request) and stay
     * cold; written again, they are tracked and restored like any page.
     */
    @Test
    void hotPagesTheRequestsStopWritingGoColdAndAreStillRestored() {
        try (TestServer s = start(128L << 20)) {
            for (int i = 1; i <= 3; i++) {
                s.get("/write/" + i);
            }
            long hot = hotPagesAfterReset(s);
            assertThat(hot).isGreaterThanOrEqualTo(REWRITTEN);
            long now = hot;
            for (int i = 0; i < 2000 && now > hot - REWRITTEN / 2; i++) {
                assertThat(s.get("/rest")).isEqualTo("ok");
                if (i % 50 == 49) {
                    now = hotPagesAfterReset(s);
                }
            }
            assertThat(now).as("hot pages left after requests stopped writing them").isLessThanOrEqualTo(hot - REWRITTEN / 2);
            assertThat(s.get("/write/9")).isEqualTo("ok");
            assertThat(s.get("/check")).isEqualTo("pristine");
            assertThat(s.get("/mark/5")).isEqualTo("ok");
            assertThat(s.get("/check")).isEqualTo("pristine");
            assertThat(s.server().stats().failures()).isZero();
        }
    }

    /**
     * Hot pages count as dirtied by every request: with 64 of them, a request that dirties enough
     * other pages to pass the limit together with them is stopped, and one well under it is not.
     */
    @Test
    void hotPagesCountTowardsTheRequestLimit() {
        try (TestServer s = start(4L << 20)) { // 1024 pages, at most 64 of them hot
            for (int i = 1; i <= 3; i++) {
                s.get("/write/" + i);
            }
            long hot = hotPagesAfterReset(s);
            assertThat(hot).isGreaterThanOrEqualTo(REWRITTEN - 8);
            ServerStats stats = s.server().stats();
            assertThat(s.get("/dirty/600")).isEqualTo("ok");
            assertThat(stats.requests(ServerStats.Outcome.MEMORY_LIMIT)).isZero();
            s.get("/dirty/" + (1024 - hot + 16));
            assertThat(Eventually.reaches(() -> stats.requests(ServerStats.Outcome.MEMORY_LIMIT), 1)).isEqualTo(1);
            assertThat(s.get("/check")).isEqualTo("pristine");
        }
    }

    /**
     * Attacks on hot pages, each in several requests, each followed by one that finds every page
     * as the template had it: the host writing into hot pages ({@code getrandom}), the guest
     * unmapping them and mapping fresh pages there (which must read as zeros) or giving them back
     * with {@code MADV_DONTNEED}, the guest unmapping them or making them read-only and touching
     * them anyway (KVM kept them writable: the access must still fault), unmapping pages of
     * template data and mapping them again, piecemeal or as many separate holes (each must read as
     * zeros),
     * four guest threads writing them, a request that overflows the dirty ring (1024 entries with
     * a 16 MiB limit) between two rounds of writes, and one that crashes after writing them.
     */
    @ParameterizedTest
    @ValueSource(strings = {"/host/", "/unmap/", "/gone/", "/regrow/", "/holes/", "/threads/", "/fill/", "/crash/"})
    void attacksOnHotPagesNeverReachTheNextRequest(String attack) {
        try (TestServer s = start(16L << 20)) {
            makeHot(s);
            for (int i = 0; i < 4; i++) {
                String answer = s.get(attack + (40 + i));
                if (!attack.equals("/crash/")) {
                    assertThat(answer).isEqualTo("ok");
                }
                assertThat(s.get("/check")).as("after %s%d", attack, 40 + i).isEqualTo("pristine");
            }
            assertThat(hotPagesAfterReset(s)).as("the attacks ran on hot pages").isGreaterThanOrEqualTo(REWRITTEN - 3);
            long crashes = s.server().stats().requests(ServerStats.Outcome.CRASH);
            assertThat(crashes).isEqualTo(attack.equals("/crash/") ? 4 : 0);
        }
    }

    /** A request stopped by max-request-time while it rewrites hot pages leaves nothing behind. */
    @Test
    void aRequestStoppedWhileItWritesHotPagesLeavesNothing() {
        try (TestServer s = start(b -> b.maxRequestTime(Duration.ofMillis(500)))) {
            makeHot(s);
            for (int i = 0; i < 2; i++) {
                s.get("/spin/" + (50 + i));
                assertThat(s.get("/check")).isEqualTo("pristine");
            }
            assertThat(s.server().stats().requests(ServerStats.Outcome.TIMEOUT)).isEqualTo(2);
        }
    }

    /**
     * Permissions a request gains are gone in the next, though the pages were hot (KVM kept them
     * writable, and the reset puts back the template's page tables behind KVM's back): a
     * read-only page of the program made writable, and a page mapped where the template has none.
     */
    @Test
    void whatARequestMappedOrMadeWritableFaultsInTheNext() {
        try (TestServer s = start(16L << 20)) {
            long hotBefore = 0;
            for (int i = 0; i < 4; i++) {
                // Two requests in a row write the pages: hot from then on.
                assertThat(s.get("/grant/" + (70 + i))).isEqualTo("ok");
                assertThat(s.get("/grant/" + (80 + i))).isEqualTo("ok");
                hotBefore = Math.max(hotBefore, hotPagesAfterReset(s));
                assertThat(s.get("/revoked")).as("after /grant/%d", 80 + i).isEqualTo("ok");
            }
            assertThat(hotBefore).as("the granted pages became hot").isGreaterThanOrEqualTo(2);
            assertThat(s.get("/check")).isEqualTo("pristine");
            assertThat(s.server().stats().failures()).isZero();
        }
    }

    /**
     * Pages a request maps where the template has nothing, one in each of 20 chunks the template
     * never exposed: every request writes them (they become hot, in memory slots a reset withdraws
     * past 16 kept chunks and the next request registers again), and every request must find
     * fresh zeros there.
     */
    @Test
    void hotPagesInChunksTheResetWithdrawsReadAsZerosInTheNextRequest() {
        try (TestServer s = start(128L << 20)) {
            for (int i = 0; i < 8; i++) {
                assertThat(s.get("/far/" + (60 + i))).isEqualTo("zero");
            }
            assertThat(hotPagesAfterReset(s)).as("the far pages became hot").isGreaterThanOrEqualTo(20);
            assertThat(s.get("/check")).isEqualTo("pristine");
            assertThat(s.server().stats().failures()).isZero();
        }
    }
}
