package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.server.ServerStats;
import io.kvmserver.testing.Eventually;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Pages every request rewrites become hot: the engine stops tracking the guest's writes to them
 * (no dirty-tracking fault in the next request) and restores them at every reset instead. What a
 * request writes there must still never reach the next one ({@code hot_pages.c}), whether the
 * page is hot, written and put back as it was, left alone, or gone cold again after the engine
 * probed it; and the pages count towards {@code max-request-memory} in every request.
 */
@RequiresKvm
class HotPagesTest {

    /** The pages of hot_pages.c that its /write requests rewrite. */
    private static final int REWRITTEN = 64;

    private static TestServer start(long maxRequestMemory) {
        return TestServer.start(GuestPrograms.get("hot_pages"), List.of(),
                b -> b.ephemeral(true).threads(1).maxRequestMemory(maxRequestMemory));
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
}
