package io.kvmserver.autoconfigure;

import io.kvmserver.server.KvmServer;
import java.time.Duration;
import java.util.List;

/**
 * Request VMs stuck past their limits. The engine stops a request at
 * {@code kvmserver.limits.max-request-time} and resets its VM, which takes milliseconds; a VM
 * still running on that clock {@value #GRACE_SECONDS} seconds after it has escaped the engine's
 * own limit and will not serve again, which only a restart cures. The clock is the engine's own
 * ({@link KvmServer.VmState#limitedMillis()}): without ephemeral, a persistent connection a client
 * keeps open and silent, while the program waits for its clients, is no request running (found by
 * the review of 2026-12-05, later: such a VM was reported stuck and the application's liveness
 * BROKEN while it served every other client).
 */
public final class StuckVms {

    /** How long past {@code max-request-time} a busy VM counts as stuck. */
    public static final int GRACE_SECONDS = 10;

    private StuckVms() {
    }

    /** The request VMs of {@code server} that are stuck. */
    public static List<KvmServer.VmState> of(KvmServer server) {
        return of(server.vms(), threshold(server));
    }

    /** The VMs among {@code vms} that have run on the limited clock for longer than {@code threshold}. */
    public static List<KvmServer.VmState> of(List<KvmServer.VmState> vms, Duration threshold) {
        long limit = threshold.toMillis();
        return vms.stream().filter((vm) -> vm.alive() && vm.limitedMillis() > limit).toList();
    }

    /** How long a request may run before its VM counts as stuck. */
    public static Duration threshold(KvmServer server) {
        return server.options().maxRequestTime().plusSeconds(GRACE_SECONDS);
    }

}
