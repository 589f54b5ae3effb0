package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.RequiresKvm;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Socket options whose value is a pointer or fd (BPF filters, zero-copy receive) or that act on
 * the host (netfilter tables, marks, kernel modules) are refused; plain value options work.
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
                """);
    }
}
