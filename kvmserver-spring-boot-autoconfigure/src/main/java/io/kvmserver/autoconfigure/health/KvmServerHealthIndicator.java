package io.kvmserver.autoconfigure.health;

import io.kvmserver.autoconfigure.KvmServerLifecycle;
import io.kvmserver.autoconfigure.KvmServerLifecycle.State;
import io.kvmserver.autoconfigure.StuckVms;
import io.kvmserver.config.Option;
import io.kvmserver.server.KvmServer;
import io.kvmserver.server.ServerStats;
import java.util.List;
import org.springframework.boot.health.contributor.AbstractHealthIndicator;
import org.springframework.boot.health.contributor.Health;

/**
 * Health of the kvmserver, following Spring Boot's conventions for something that takes traffic:
 *
 * <ul>
 * <li>OUT_OF_SERVICE while the program boots (it is not failing, it is not serving yet) and once
 * the server has stopped;</li>
 * <li>UP while at least one request VM can take a connection;</li>
 * <li>DOWN when none can: every request VM has stopped (a VM whose reset failed stops serving)
 * or is stuck in a request past {@code kvmserver.limits.max-request-time} (see
 * {@link StuckVms}), or the program failed to start.</li>
 * </ul>
 *
 * Include it in the readiness group to take the application out of the load balancer while the
 * guest cannot serve. Liveness does not need it: the lifecycle publishes a broken liveness state
 * itself when a request VM is stuck.
 */
public class KvmServerHealthIndicator extends AbstractHealthIndicator {

    private final KvmServerLifecycle lifecycle;

    public KvmServerHealthIndicator(KvmServerLifecycle lifecycle) {
        super("kvmserver health check failed");
        this.lifecycle = lifecycle;
    }

    @Override
    protected void doHealthCheck(Health.Builder builder) {
        State state = this.lifecycle.getState();
        KvmServer server = this.lifecycle.getServer();
        builder.withDetail("program", this.lifecycle.getProgram()).withDetail("state", state.tag());
        if (!this.lifecycle.getNaming().isDefault()) {
            builder.withDetail("server", this.lifecycle.getName());
        }
        if (server == null) {
            switch (state) {
                case FAILED -> builder.down().withDetail("reason", "the program could not be started");
                case NEW, STARTING -> builder.outOfService().withDetail("reason", "the program is starting");
                default -> builder.outOfService().withDetail("reason", "the server has stopped");
            }
            return;
        }
        ServerStats stats = server.stats();
        List<KvmServer.VmState> vms = server.vms();
        List<KvmServer.VmState> stuck = StuckVms.of(vms, StuckVms.threshold(server));
        long alive = vms.stream().filter(KvmServer.VmState::alive).count();
        long busy = vms.stream().filter((vm) -> vm.alive() && vm.busy()).count();
        if (alive - stuck.size() > 0) {
            builder.up();
        }
        else {
            builder.down().withDetail("reason", (alive == 0) ? "no request VM is alive"
                    : "every request VM is stuck in a request past "
                            + this.lifecycle.getNaming().nameOf(Option.MAX_REQUEST_TIME));
        }
        builder.withDetail("threads", vms.size())
            .withDetail("ready", alive - busy)
            .withDetail("busy", busy)
            .withDetail("stuck", stuck.size())
            .withDetail("ephemeral", server.options().ephemeral())
            .withDetail("requests", stats.requests())
            .withDetail("resets", stats.resets())
            .withDetail("failures", stats.failures());
        if (server.route() != null) {
            builder.withDetail("routeAddress", server.route().address());
        }
        if (server.listenAddress() != null) {
            builder.withDetail("listenAddress", server.listenAddress().getAddress().getHostAddress() + ":"
                    + server.listenAddress().getPort());
        }
    }

}
