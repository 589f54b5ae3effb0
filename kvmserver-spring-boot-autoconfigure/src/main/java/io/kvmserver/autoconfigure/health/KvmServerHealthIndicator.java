package io.kvmserver.autoconfigure.health;

import io.kvmserver.autoconfigure.KvmServerLifecycle;
import io.kvmserver.server.KvmServer;
import io.kvmserver.server.ServerStats;
import org.springframework.boot.health.contributor.AbstractHealthIndicator;
import org.springframework.boot.health.contributor.Health;

/**
 * Health of the kvmserver: UP while the template is frozen and at least one request VM serves,
 * DOWN with the reason otherwise. A request VM whose reset failed stops serving, so DOWN with
 * "no request VM is alive" means the server cannot take connections any more: include the
 * indicator in the liveness group to have the platform restart the application, or in the
 * readiness group to take it out of the load balancer.
 */
public class KvmServerHealthIndicator extends AbstractHealthIndicator {

    private final KvmServerLifecycle lifecycle;

    public KvmServerHealthIndicator(KvmServerLifecycle lifecycle) {
        super("kvmserver health check failed");
        this.lifecycle = lifecycle;
    }

    @Override
    protected void doHealthCheck(Health.Builder builder) {
        KvmServer server = this.lifecycle.getServer();
        builder.withDetail("program", this.lifecycle.getProgram());
        if (server == null) {
            builder.down().withDetail("reason", "the server is not running (not started yet, or stopped)");
            return;
        }
        ServerStats stats = server.stats();
        long alive = server.aliveVms();
        long busy = server.busyVms();
        if (alive > 0) {
            builder.up();
        }
        else {
            builder.down().withDetail("reason", "no request VM is alive");
        }
        builder.withDetail("threads", server.threads())
            .withDetail("ready", alive - busy)
            .withDetail("busy", busy)
            .withDetail("ephemeral", server.options().ephemeral())
            .withDetail("requests", stats.requests())
            .withDetail("resets", stats.resets())
            .withDetail("failures", stats.failures());
        if (server.listenAddress() != null) {
            builder.withDetail("listenAddress", server.listenAddress().getAddress().getHostAddress() + ":"
                    + server.listenAddress().getPort());
        }
        if (stats.lastFailure() != null) {
            builder.withDetail("lastFailure", stats.lastFailure());
        }
    }

}
