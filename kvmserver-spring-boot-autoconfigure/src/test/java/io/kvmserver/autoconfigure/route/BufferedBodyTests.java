package io.kvmserver.autoconfigure.route;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.Field;
import java.nio.channels.FileChannel;
import org.junit.jupiter.api.Test;

/**
 * What a buffered body takes of its server's budget is given back on every path: when it is
 * closed, when its bytes cannot be kept, and when a write comes after the close (WebFlux closes
 * a body on the cancelling thread while a write may still run on another).
 */
class BufferedBodyTests {

    private static final int MORE_THAN_MEMORY = BufferedBody.IN_MEMORY + 1;

    /**
     * A write whose bytes cannot be kept (here the body's file closed under it, as a full disk
     * fails a write) gives back what it took. Found by the review of 2026-12-05 (later): each
     * failed write kept its share for good, and a disk full for a while left every later large
     * body refused with 503 until the application restarted.
     */
    @Test
    void aWriteThatCannotBeKeptGivesItsShareBack() throws Exception {
        BodyBudget budget = new BodyBudget(10L << 20);
        BufferedBody body = new BufferedBody(10L << 20, budget, -1);
        body.write(new byte[MORE_THAN_MEMORY], 0, MORE_THAN_MEMORY); // now in a file
        assertThat(budget.held()).isEqualTo(MORE_THAN_MEMORY);
        Field file = BufferedBody.class.getDeclaredField("file");
        file.setAccessible(true);
        ((FileChannel) file.get(body)).close();
        assertThatThrownBy(() -> body.write(new byte[8192], 0, 8192)).isInstanceOf(BufferedBody.NotStored.class);
        assertThat(budget.held()).as("the failed write's share").isEqualTo(MORE_THAN_MEMORY);
        body.close();
        assertThat(budget.held()).isZero();
    }

    @Test
    void aWriteAfterTheCloseTakesNothing() throws Exception {
        BodyBudget budget = new BodyBudget(10L << 20);
        BufferedBody body = new BufferedBody(10L << 20, budget, -1);
        body.write(new byte[100], 0, 100);
        body.close();
        body.close();
        assertThatThrownBy(() -> body.write(new byte[MORE_THAN_MEMORY], 0, MORE_THAN_MEMORY))
            .isInstanceOf(BufferedBody.NotStored.class);
        assertThat(budget.held()).isZero();
    }

}
