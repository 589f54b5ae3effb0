package io.kvmserver.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.jna.LastErrorException;
import io.kvmserver.host.LibC;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The connections a booting template keeps for the request VMs: bounded (a flood during the
 * warmup holds at most {@link EarlyConnections#MAX} host descriptors), handed out oldest first,
 * and closed when the server closes with some never taken.
 */
class EarlyConnectionsTest {

    private static final int F_GETFD = 1;

    private static int hostFd() {
        return LibC.open("/dev/null\0".getBytes(StandardCharsets.US_ASCII), 0, 0);
    }

    @Test
    void atMostMaxWaitOldestFirstAndTheRestAreClosedWithTheServer() {
        EarlyConnections early = new EarlyConnections();
        List<Integer> fds = new ArrayList<>();
        for (int i = 0; i < EarlyConnections.MAX; i++) {
            int fd = hostFd();
            fds.add(fd);
            assertThat(early.hold(fd, new byte[] {2, 0, (byte) i})).isTrue();
        }
        int extra = hostFd();
        assertThat(early.hold(extra, new byte[] {2, 0})).as("one past the bound: the caller closes it").isFalse();
        LibC.close(extra);

        EarlyConnections.Connection first = early.take();
        assertThat(first.fd()).isEqualTo(fds.get(0));
        assertThat(first.peer()[2]).isZero();
        assertThat(early.hold(first.fd(), first.peer())).as("room again once one was taken").isTrue();

        early.closeAll();
        assertThat(early.any()).isFalse();
        for (int fd : fds) {
            assertThatThrownBy(() -> LibC.fcntl(fd, F_GETFD, 0)).as("fd %d closed", fd)
                    .isInstanceOf(LastErrorException.class);
        }
    }
}
