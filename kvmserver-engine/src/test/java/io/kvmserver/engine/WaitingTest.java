package io.kvmserver.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.RequiresKvm;
import java.util.List;
import org.junit.jupiter.api.Test;

/** poll, ppoll, select, pselect6, epoll, eventfd, timerfd and socketpair, with their timeouts. */
@RequiresKvm
class WaitingTest {

    @Test
    void theWaitingFamilyBehavesAsOnLinux() {
        GuestRun.Outcome o = GuestRun.run(GuestPrograms.get("waits"), List.of());
        assertThat(o.status()).as(o.toString()).isZero();
        assertThat(o.stdout()).isEqualTo("""
                poll empty=0
                poll ready=1 revents_in=1
                ppoll timeout=0 waited=1
                poll badfd=1 nval=1
                select ready=1 isset=1
                pselect timeout=0
                eventfd empty=-1 errno_eagain=1
                eventfd value=5
                epoll timeout=0 waited=1
                epoll ready=1 data_ok=1
                epoll_ctl dup=-1 errno_eexist=1
                epoll_ctl del=0
                timerfd expirations=1 waited=1
                socketpair=0
                socketpair read=ping
                """);
    }
}
