package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.RequiresKvm;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Socket options whose value is a pointer or fd (BPF filters, zero-copy receive) or that act on
 * the host (netfilter tables, marks, kernel modules, busy polling) are refused; so are source
 * routes and IPv6 routing and option headers, which would send packets through addresses the
 * network policy never saw (the review of 2026-12-04 late saw an allowed connect's packets go to
 * 127.0.0.3 and fd00::2); buffer sizes are cut to a default host's maximum (a request's 480
 * socketpairs held 3.9 GB of kernel memory at the host's 8 MiB). Plain value options work, and
 * every answer is an unprivileged process's on a default host (checked natively as nobody).
 */
@RequiresKvm
class SocketOptionTest {

    @Test
    void optionsThatReachHostMemoryFdsOrTablesAreRefused() {
        GuestRun.Outcome o = GuestRun.run(GuestPrograms.get("hostile_sockopt"), List.of(), b -> b.allowNet(true));
        assertThat(o.status()).as(o.toString()).isZero();
        assertThat(o.stdout()).isEqualTo("""
                reuseaddr=0 errno=0
                nodelay=0 errno=0
                attach_filter=-1 errno=92
                attach_bpf=-1 errno=92
                mark=-1 errno=1
                ipt_set_replace=-1 errno=92
                zerocopy_receive=-1 errno=92
                ulp=-1 errno=92
                peercred=-1 errno=92
                prefer_busy_poll=-1 errno=1
                busy_poll_budget=-1 errno=1
                ip_options_lsrr=-1 errno=1
                ip_options_rr=0 errno=0
                ipv6_rthdr=-1 errno=1
                ipv6_2292rthdr=-1 errno=1
                ipv6_hopopts=-1 errno=1
                ipv6_rthdr_cleared=0 errno=0
                sndbuf=0 errno=0
                sndbuf_got=425984
                rcvbuf=0 errno=0
                rcvbuf_got=425984
                sndbuf_minus_one=0 errno=0
                sndbuf_minus_one_got=425984
                """);
    }
}
