package io.kvmserver.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.host.LibC;
import io.kvmserver.host.SyscallNumbers;
import io.kvmserver.linux.FdTable;
import org.junit.jupiter.api.Test;

/**
 * Every request VM may hold its program's whole fd table on the host at once: the soft
 * {@code RLIMIT_NOFILE} is raised to cover them all, and a server the hard limit cannot cover does
 * not start. Without it a request that opens files until {@code EMFILE} took them from the other
 * VMs, whose accepts then failed (an idle VM spun on its ready listener) and whose resets could not
 * replicate the template's pipes.
 */
class HostFileLimitTest {

    private static final int RLIMIT_NOFILE = 7;
    private static final long PER_VM = 3L * FdTable.LIMIT + HostFileLimit.PER_VM_OVERHEAD;

    private static long[] limit() {
        try (Memory m = new Memory(16)) {
            LibC.syscall(SyscallNumbers.PRLIMIT64, 0, RLIMIT_NOFILE, 0, Pointer.nativeValue(m), 0, 0);
            return new long[] {m.getLong(0), m.getLong(8)};
        }
    }

    private static void setSoft(long soft, long hard) {
        try (Memory m = new Memory(16)) {
            m.setLong(0, soft);
            m.setLong(8, hard);
            LibC.syscall(SyscallNumbers.PRLIMIT64, 0, RLIMIT_NOFILE, Pointer.nativeValue(m), 0, 0, 0);
        }
    }

    private static KvmServerOptions options() {
        return KvmServerOptions.builder().program("/bin/true").build();
    }

    @Test
    void theSoftLimitIsRaisedToHoldEveryVmsTable() {
        long[] before = limit();
        // Room for this process's own descriptors and a few more: not for two VMs' tables, each of
        // whose fds may hold three host fds (a deleted file's private copy, its private fd and
        // the process's record-lock fd for it).
        setSoft(Math.min(before[1], 600), before[1]);
        try {
            HostFileLimit.reserve(2, options()).close();
            assertThat(limit()[0]).isGreaterThanOrEqualTo(2 * PER_VM).isLessThanOrEqualTo(before[1]);
        } finally {
            setSoft(before[0], before[1]);
        }
    }

    @Test
    void aServerTheHardLimitCannotCoverDoesNotStartAndSaysWhatToChange() {
        long hard = limit()[1];
        if (hard < 0) { // RLIM_INFINITY: nothing to refuse, and no VM count makes the soft limit overflow
            HostFileLimit.reserve(1_000_000, options()).close();
            assertThat(limit()[0]).isGreaterThanOrEqualTo(1_000_000 * PER_VM);
            return;
        }
        int vms = (int) Math.min(hard / PER_VM + 1, Integer.MAX_VALUE);
        assertThatThrownBy(() -> HostFileLimit.reserve(vms, options()))
                .isInstanceOf(KvmServerException.class)
                .hasMessageContaining(vms + " request VMs (--threads)")
                .hasMessageContaining("at most " + hard + " (RLIMIT_NOFILE)")
                .hasMessageContaining("or lower --threads");
    }

    /**
     * Servers of one JVM share its table: each one's check counts what the others were promised,
     * not only what they hold when it starts (review of 2026-12-05, third round: two servers that
     * each passed alone together exceeded the limit, and one's guest took the other's descriptors,
     * its sockets failing with EMFILE at 202 of its 1,024).
     */
    @Test
    void serversOfOneProcessArePromisedTheirDescriptorsTogether() {
        long hard = limit()[1];
        assertThat(hard).as("a finite hard limit (this machine's), or nothing could be refused").isPositive();
        int half = (int) (hard / PER_VM / 2 + 1); // two of these pass alone, not together
        try (HostFileLimit.Reservation first = HostFileLimit.reserve(half, options())) {
            assertThatThrownBy(() -> HostFileLimit.reserve(half, options()))
                    .isInstanceOf(KvmServerException.class)
                    .hasMessageContaining("the other servers of this process may hold");
        }
        HostFileLimit.reserve(half, options()).close(); // the first one's promise ended with it
    }
}
