package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.RequiresKvm;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Every pointer argument of every implemented system call that takes one ({@code
 * hostile_pointers.c}) given NULL, an unmapped page, a kernel address, an address above guest
 * memory, the descriptor tables, the trap stub, the page-table pool and a straddling range:
 * {@code EFAULT} each time (EINVAL where the man page puts that first), never a host exception.
 */
@RequiresKvm
class PointerArgumentsTest {

    @Test
    void everyBadPointerIsEfault() {
        GuestRun.Outcome o = HostileRuns.run("hostile_pointers", List.of("0x" + Long.toHexString(HostileRuns.MEMORY)),
                b -> b.allowRead(List.of("/")));
        assertThat(o.status()).as(o.toString()).isZero();
        assertThat(o.stdout()).as(o.toString()).doesNotContain("MISMATCH").contains("mismatches=0");
        int checked = Integer.parseInt(o.stdout().replaceAll("(?s).*checked=(\\d+).*", "$1"));
        assertThat(checked).as("cases run").isGreaterThan(900);
    }
}
