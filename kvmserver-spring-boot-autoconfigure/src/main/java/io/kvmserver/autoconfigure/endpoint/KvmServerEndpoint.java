package io.kvmserver.autoconfigure.endpoint;

import io.kvmserver.autoconfigure.KvmServerLifecycle;
import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.server.KvmServer;
import io.kvmserver.server.KvmServer.VmState;
import io.kvmserver.server.ServerStats;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;

/**
 * {@code /actuator/kvmserver}: the live state of the server and of each request VM, for looking
 * at a running server without a metrics backend.
 */
@Endpoint(id = "kvmserver")
public class KvmServerEndpoint {

    /** How many system call names the endpoint lists; the rest are summed as "other". */
    private static final int SYSCALL_NAMES = 20;

    private final KvmServerLifecycle lifecycle;

    public KvmServerEndpoint(KvmServerLifecycle lifecycle) {
        this.lifecycle = lifecycle;
    }

    @ReadOperation
    public KvmServerDescriptor kvmserver() {
        KvmServer server = this.lifecycle.getServer();
        if (server == null) {
            return new KvmServerDescriptor(this.lifecycle.getProgram(), false, null, null, null, Map.of(), List.of());
        }
        KvmServerOptions options = server.options();
        InetSocketAddress address = server.listenAddress();
        ServerStats stats = server.stats();
        return new KvmServerDescriptor(options.program(), server.isRunning(),
                (address != null) ? address.getAddress().getHostAddress() + ":" + address.getPort() : null,
                new OptionsDescriptor(options.args(), options.threads(), options.ephemeral(),
                        options.maxRequestTime().toMillis(), options.maxRequestMemory()),
                new StatsDescriptor(stats.requests(), stats.failures(), stats.resets(), stats.resetPages(),
                        stats.vmExits(), stats.failedResets(), stats.lastFailure(), server.templateMappedBytes()),
                server.syscallCounts(SYSCALL_NAMES), server.vms());
    }

    /**
     * The server as the endpoint shows it.
     *
     * @param program the host path of the program
     * @param running whether the server is serving
     * @param listenAddress the address the program listens on, null for a unix socket or when
     * stopped
     * @param options the settings that shape serving
     * @param stats counters since the server started
     * @param syscalls system calls of the request VMs by name, most frequent first
     * @param vms each request VM: id, alive, busy, exits
     */
    public record KvmServerDescriptor(String program, boolean running, String listenAddress,
            OptionsDescriptor options, StatsDescriptor stats, Map<String, Long> syscalls, List<VmState> vms) {
    }

    /**
     * Settings of the running server.
     *
     * @param args the program's arguments
     * @param threads the configured number of request VMs (0: one per CPU)
     * @param ephemeral whether VMs reset after every connection
     * @param maxRequestTimeMillis the time limit of a request
     * @param maxRequestMemoryBytes the memory a request may dirty
     */
    public record OptionsDescriptor(List<String> args, int threads, boolean ephemeral, long maxRequestTimeMillis,
            long maxRequestMemoryBytes) {
    }

    /**
     * Counters of the running server.
     *
     * @param requests connections served
     * @param failures connections that did not end normally
     * @param resets resets of request VMs
     * @param resetPages pages restored by resets
     * @param vmExits exits of request VMs to the host
     * @param failedResets resets that failed
     * @param lastFailure the most recent failure, or null
     * @param templateMappedBytes memory mapped by the template
     */
    public record StatsDescriptor(long requests, long failures, long resets, long resetPages, long vmExits,
            long failedResets, String lastFailure, long templateMappedBytes) {
    }

}
