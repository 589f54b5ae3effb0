package io.kvmserver.autoconfigure.endpoint;

import io.kvmserver.autoconfigure.KvmServerLifecycle;
import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.server.KvmServer;
import io.kvmserver.server.KvmServer.VmState;
import io.kvmserver.server.ServerStats;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.springframework.boot.actuate.endpoint.SanitizableData;
import org.springframework.boot.actuate.endpoint.Sanitizer;
import org.springframework.boot.actuate.endpoint.SanitizingFunction;
import org.springframework.boot.actuate.endpoint.SecurityContext;
import org.springframework.boot.actuate.endpoint.Show;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;
import org.springframework.boot.actuate.endpoint.annotation.Selector;

/**
 * {@code /actuator/kvmserver}: the live state of every server and of each request VM, for
 * looking at running servers without a metrics backend; {@code /actuator/kvmserver/{name}} shows
 * one server ({@code default} for the server configured at {@code kvmserver.*}).
 *
 * <p>The program's arguments and the last failure may hold secrets (a token passed as an
 * argument, guest data in a crash report). They go through Spring Boot's sanitizing support like
 * the values of the {@code env} endpoint: hidden unless
 * {@code management.endpoint.kvmserver.show-values} allows them, and then passed through the
 * application's {@link SanitizingFunction} beans, under the keys {@code kvmserver.args[n]} and
 * {@code kvmserver.last-failure} ({@code kvmserver.servers.<name>.args[n]} and so on for a named
 * server).
 */
@Endpoint(id = "kvmserver")
public class KvmServerEndpoint {

    /** How many system call names the endpoint lists; the rest are summed as "other". */
    private static final int SYSCALL_NAMES = 20;

    private final List<KvmServerLifecycle> lifecycles;

    private final Sanitizer sanitizer;

    private final Show showValues;

    private final Set<String> roles;

    /**
     * @param lifecycles the servers to describe
     * @param sanitizingFunctions the application's sanitizing functions
     * @param showValues when to show sensitive values
     * @param roles the roles that may see them when {@code showValues} is
     * {@link Show#WHEN_AUTHORIZED}
     */
    public KvmServerEndpoint(List<KvmServerLifecycle> lifecycles, Iterable<SanitizingFunction> sanitizingFunctions,
            Show showValues, Set<String> roles) {
        this.lifecycles = List.copyOf(lifecycles);
        this.sanitizer = new Sanitizer(sanitizingFunctions);
        this.showValues = showValues;
        this.roles = Set.copyOf(roles);
    }

    /** Every server, by name. */
    @ReadOperation
    public KvmServersDescriptor kvmserver(SecurityContext securityContext) {
        Map<String, KvmServerDescriptor> servers = new LinkedHashMap<>();
        this.lifecycles.forEach((lifecycle) -> servers.put(lifecycle.getName(), describe(lifecycle, securityContext)));
        return new KvmServersDescriptor(servers);
    }

    /** One server, by name; null (404) for a name no server has. */
    @ReadOperation
    public KvmServerDescriptor server(SecurityContext securityContext, @Selector String name) {
        return this.lifecycles.stream()
            .filter((lifecycle) -> lifecycle.getName().equals(name))
            .findFirst()
            .map((lifecycle) -> describe(lifecycle, securityContext))
            .orElse(null);
    }

    private KvmServerDescriptor describe(KvmServerLifecycle lifecycle, SecurityContext securityContext) {
        boolean show = this.showValues.isShown(securityContext, this.roles);
        KvmServer server = lifecycle.getServer();
        String state = lifecycle.getState().tag();
        String prefix = lifecycle.getNaming().prefix();
        if (server == null) {
            return new KvmServerDescriptor(lifecycle.getProgram(), state, false, null, null, null, null, null, Map.of(),
                    List.of());
        }
        KvmServerOptions options = server.options();
        InetSocketAddress address = server.listenAddress();
        ServerStats stats = server.stats();
        List<String> args = new ArrayList<>();
        for (int i = 0; i < options.args().size(); i++) {
            args.add(sanitize(prefix + "args[" + i + "]", options.args().get(i), show));
        }
        String lastFailure = (stats.lastFailure() != null)
                ? sanitize(prefix + "last-failure", stats.lastFailure(), show) : null;
        return new KvmServerDescriptor(options.program(), state, server.isRunning(),
                (address != null) ? address.getAddress().getHostAddress() + ":" + address.getPort() : null,
                (server.route() != null) ? server.route().address() : null,
                new OptionsDescriptor(args, options.threads(), options.ephemeral(),
                        options.maxRequestTime().toMillis(), options.maxRequestMemory(), options.settleTime().toMillis()),
                (server.timerDueAtFreeze() != null) ? server.timerDueAtFreeze().toMillis() : null,
                new StatsDescriptor(stats.requests(), stats.failures(), stats.resets(), stats.resetPages(),
                        stats.vmExits(), stats.failedResets(), lastFailure, server.templateMappedBytes()),
                server.syscallCounts(SYSCALL_NAMES), server.vms());
    }

    private String sanitize(String key, String value, boolean show) {
        Object sanitized = this.sanitizer.sanitize(new SanitizableData(null, key, value), show);
        return (sanitized != null) ? sanitized.toString() : null;
    }

    /**
     * Every server of the application.
     *
     * @param servers each server by name: {@code default} for the one configured at {@code kvmserver.*}
     */
    public record KvmServersDescriptor(Map<String, KvmServerDescriptor> servers) {
    }

    /**
     * The server as the endpoint shows it.
     *
     * @param program the host path of the program
     * @param state where the server is in its life: new, starting, serving, stopping, stopped,
     * failed
     * @param running whether the server is serving
     * @param listenAddress the address the program listens on, null for a unix socket, a route
     * address, or when stopped
     * @param routeAddress the address the program listens on privately, for the application's
     * routes, or null
     * @param options the settings that shape serving
     * @param timerDueAtFreezeMillis how long after the freeze a timer of the program's was due (the
     * timeout of the wait the template froze in, another thread's timed wait, or a timer it armed),
     * or null: every request VM started after it runs that timer in its request (see
     * {@code kvmserver.warmup.settle-time})
     * @param stats counters since the server started
     * @param syscalls system calls of the request VMs by name, most frequent first
     * @param vms each request VM: id, alive, busy, exits, and how long its current request has
     * been running (requestMillis)
     */
    public record KvmServerDescriptor(String program, String state, boolean running, String listenAddress,
            String routeAddress, OptionsDescriptor options, Long timerDueAtFreezeMillis, StatsDescriptor stats,
            Map<String, Long> syscalls,
            List<VmState> vms) {
    }

    /**
     * Settings of the running server.
     *
     * @param args the program's arguments, sanitized
     * @param threads the configured number of request VMs (0: one per CPU)
     * @param ephemeral whether VMs reset after every connection
     * @param maxRequestTimeMillis the time limit of a request
     * @param maxRequestMemoryBytes the memory a request may dirty
     * @param settleTimeMillis how long the template could settle before it froze
     */
    public record OptionsDescriptor(List<String> args, int threads, boolean ephemeral, long maxRequestTimeMillis,
            long maxRequestMemoryBytes, long settleTimeMillis) {
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
     * @param lastFailure the most recent failure, sanitized, or null
     * @param templateMappedBytes memory mapped by the template
     */
    public record StatsDescriptor(long requests, long failures, long resets, long resetPages, long vmExits,
            long failedResets, String lastFailure, long templateMappedBytes) {
    }

}
