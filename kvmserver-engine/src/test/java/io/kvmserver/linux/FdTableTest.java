package io.kvmserver.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvmserver.host.Errno;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The fd table's scans stop at the highest fd in use (a reset closes, forks and looks for
 * listeners in every request): what they skip must be empty. Real host eventfds stand in for
 * the descriptions; a fork makes new ones.
 */
class FdTableTest {

    private final FdTable template = new FdTable();
    private final FdTable spent = new FdTable();

    @AfterEach
    void closeEverything() {
        template.closeAll();
        spent.closeAll();
    }

    private static EventFdFile eventfd() {
        return EventFdFile.create(0, false, 0);
    }

    private static FdTable fork(FdTable from, FdTable into) {
        return from.fork(new ForkContext(null), into);
    }

    @Test
    void aForkCopiesTheHighestFdsEachWayTheyCanBeMade() {
        template.install(eventfd(), 0, false);
        template.install(eventfd(), 700, true); // install from a minimum (F_DUPFD)
        template.duplicateTo(0, 1000, false); // dup2 to a high fd

        FdTable copy = fork(template, new FdTable());
        try {
            assertThat(copy.openCount()).isEqualTo(3);
            assertThat(copy.isOpen(700)).as("installed at 700").isTrue();
            assertThat(copy.closeOnExec(700)).isTrue();
            assertThat(copy.isOpen(1000)).as("duplicated to 1000").isTrue();
            assertThat(copy.get(1000)).as("still one description with fd 0").isSameAs(copy.get(0));
            assertThat(copy.get(0)).as("a description of its own").isNotSameAs(template.get(0));
            assertThat(copy.end()).isEqualTo(1001);
        } finally {
            copy.closeAll();
        }
    }

    @Test
    void aSpentTableTakesTheTemplatesFdsAndNothingOfItsOwn() {
        template.install(eventfd(), 0, false);
        spent.install(eventfd(), 0, false);
        spent.install(eventfd(), 0, true);
        spent.duplicateTo(1, 900, true);

        spent.closeAll();
        assertThat(spent.openCount()).isZero();
        assertThat(spent.end()).isZero();
        fork(template, spent);

        assertThat(spent.openCount()).isEqualTo(1);
        assertThat(spent.isOpen(1)).isFalse();
        assertThat(spent.isOpen(900)).as("the spent request's high fd").isFalse();
        assertThat(spent.lowestFree()).isEqualTo(1);
        // The next request's fd 1 and fd 900 start without the spent one's close-on-exec flag.
        assertThat(spent.install(eventfd(), 0, false)).isEqualTo(1);
        assertThat(spent.closeOnExec(1)).isFalse();
        spent.duplicateTo(0, 900, false);
        assertThat(spent.closeOnExec(900)).isFalse();
    }

    @Test
    void aForkIntoATableWithAnFdOpenIsRefused() {
        template.install(eventfd(), 0, false);
        spent.install(eventfd(), 0, false);
        spent.duplicateTo(0, 5, false);
        spent.close(0);

        assertThatThrownBy(() -> fork(template, spent)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("still open");
        assertThat(spent.isOpen(5)).as("left as it was").isTrue();
    }

    @Test
    void theLowestFreeFdLooksPastTheHighestOneAndStopsAtTheLimit() {
        template.install(eventfd(), 0, false);
        assertThat(template.lowestFree()).isEqualTo(1);
        for (int fd = 1; fd < FdTable.LIMIT; fd++) {
            template.duplicate(0, 0, false);
        }
        assertThat(template.lowestFree()).as("a full table").isEqualTo(-1);
        assertThatThrownBy(() -> template.duplicate(0, 0, false)).isInstanceOfSatisfying(SyscallError.class,
                e -> assertThat(e.errno()).isEqualTo(Errno.EMFILE));
        template.close(1000);
        assertThat(template.lowestFree()).isEqualTo(1000);
    }
}
