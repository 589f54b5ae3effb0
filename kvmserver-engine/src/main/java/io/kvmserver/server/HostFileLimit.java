package io.kvmserver.server;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.config.Option;
import io.kvmserver.host.LibC;
import io.kvmserver.host.SyscallNumbers;
import io.kvmserver.linux.FdTable;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * The host file descriptors the request VMs may hold. A VM's program may open {@link FdTable#LIMIT}
 * files, nearly all of them host descriptors in the JVM's one table: unless the process may open
 * that many for every VM at once, a request that opens files until {@code EMFILE} takes them from
 * the others (their {@code socket}, {@code open}, {@code accept} and resets fail), and isolation
 * would depend on how many VMs share the table. So the soft {@code RLIMIT_NOFILE} is raised, up to
 * the hard one, to cover them all (every server's of the JVM), and a server it cannot cover does
 * not start.
 */
final class HostFileLimit {

    /** Host descriptors of a VM besides its program's: KVM's, its waiter's, its listeners' and the route's. */
    static final int PER_VM_OVERHEAD = 64;
    /**
     * Host descriptors one guest fd may hold: three, for a file the template opened and no path
     * names any more (its private copy's memfd, a private descriptor reopened from it for
     * {@code flock} and {@code O_APPEND}, and the process's record-lock descriptor for the file);
     * every other kind holds one or two (the review of 2026-12-04 night ran a request to about
     * 2,000, then 3,000, host fds with a table of 1,000, and the other VM's writes failed with EMFILE).
     */
    static final int HOST_FDS_PER_GUEST_FD = 3;
    /** What one request VM may hold at most. */
    static final long PER_VM = (long) FdTable.LIMIT * HOST_FDS_PER_GUEST_FD + PER_VM_OVERHEAD;

    private static final int RLIMIT_NOFILE = 7;

    private HostFileLimit() {
    }

    /**
     * What the servers running in this JVM have been promised, together: one table for all of
     * them, so each server's check counts the others' promises, not only the descriptors they
     * happen to hold when it starts (two servers that each passed alone were promised more than
     * the limit together, and one's guest took the other's).
     */
    private static long reserved;

    /** Descriptors promised to one server's request VMs, given back when it stops. */
    static final class Reservation implements AutoCloseable {
        private long count;

        private Reservation(long count) {
            this.count = count;
        }

        @Override
        public void close() {
            synchronized (HostFileLimit.class) {
                reserved -= count;
                count = 0;
            }
        }
    }

    /**
     * Makes room for {@code vms} request VMs' descriptors besides those open now and those the
     * other servers of this JVM were promised, or says what to change.
     */
    static synchronized Reservation reserve(int vms, KvmServerOptions options) {
        ensure(vms, reserved, options);
        reserved += vms * PER_VM;
        return new Reservation(vms * PER_VM);
    }

    private static void ensure(int vms, long promisedToOthers, KvmServerOptions options) {
        long needed = openNow() + promisedToOthers + vms * PER_VM;
        try (Memory limit = new Memory(16)) {
            LibC.syscall(SyscallNumbers.PRLIMIT64, 0, RLIMIT_NOFILE, 0, Pointer.nativeValue(limit), 0, 0);
            long soft = limit.getLong(0);
            long hard = limit.getLong(8);
            if (Long.compareUnsigned(soft, needed) >= 0) {
                return;
            }
            if (Long.compareUnsigned(hard, needed) < 0) {
                throw new KvmServerException(vms + " request VMs (" + options.nameOf(Option.THREADS) + ") may hold "
                        + PER_VM + " host file descriptors each, " + needed + " in all with those open now"
                        + (promisedToOthers > 0 ? " and the " + promisedToOthers + " the other servers of this process"
                                + " may hold" : "") + ", but this process may open at most " + hard
                        + " (RLIMIT_NOFILE)", "raise its limit (ulimit -n, systemd's LimitNOFILE, docker run"
                        + " --ulimit nofile) or lower " + options.nameOf(Option.THREADS));
            }
            limit.setLong(0, needed);
            LibC.syscall(SyscallNumbers.PRLIMIT64, 0, RLIMIT_NOFILE, Pointer.nativeValue(limit), 0, 0, 0);
        } catch (LastErrorException e) {
            // Reading or raising a soft limit below the hard one does not fail; if it did, the
            // VMs would still each be bounded by their own table, only not isolated by this.
        }
    }

    private static long openNow() {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        } catch (IOException e) {
            return 0;
        }
    }
}
