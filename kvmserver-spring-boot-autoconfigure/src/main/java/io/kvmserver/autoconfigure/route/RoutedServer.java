package io.kvmserver.autoconfigure.route;

import io.kvmserver.autoconfigure.KvmServerLifecycle;
import io.kvmserver.server.KvmServer;
import io.kvmserver.server.Route;
import java.io.IOException;
import java.nio.channels.SelectableChannel;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.eclipse.jetty.io.Transport;

/**
 * One server's route: the requests it takes ({@code route.paths}), how long they wait for a free
 * request VM ({@code route.max-wait}), how their bodies come in ({@code route.request-buffering},
 * {@code route.max-body-size}), and the way to its request VMs while it serves.
 */
final class RoutedServer {

    /** How long past {@code max-request-time} the route waits for the program before it gives up. */
    private static final Duration GRACE = Duration.ofSeconds(10);

    private final KvmServerLifecycle lifecycle;

    private volatile Connections connections;

    /** {@code route.sensitive-headers}, lower-case: the settings never change, every request reads them. */
    private final Set<String> sensitiveHeaders;

    private final BodyBudget bodyBudget;

    RoutedServer(KvmServerLifecycle lifecycle) {
        this.lifecycle = lifecycle;
        Set<String> names = new HashSet<>();
        for (String name : lifecycle.getSettings().getRoute().getSensitiveHeaders()) {
            names.add(name.strip().toLowerCase(Locale.ROOT));
        }
        this.sensitiveHeaders = Set.copyOf(names);
        this.bodyBudget = new BodyBudget(lifecycle.getSettings().getRoute().getMaxBufferedSize().toBytes());
    }

    String name() {
        return this.lifecycle.getName();
    }

    List<String> paths() {
        return this.lifecycle.getSettings().getRoute().getPaths();
    }

    Duration maxWait() {
        return this.lifecycle.getSettings().getRoute().getMaxWait();
    }

    /** How many routed requests may wait for a free request VM at once ({@code route.max-waiting}). */
    int maxWaiting() {
        return this.lifecycle.getSettings().getRoute().getMaxWaiting();
    }

    /** Whether request bodies are read whole before a request VM is taken ({@code route.request-buffering}). */
    boolean requestBuffering() {
        return this.lifecycle.getSettings().getRoute().isRequestBuffering();
    }

    /** The largest request body, in bytes ({@code route.max-body-size}). */
    long maxBodySize() {
        return this.lifecycle.getSettings().getRoute().getMaxBodySize().toBytes();
    }

    /** What the bodies being read whole for this server may hold together ({@code route.max-buffered-size}). */
    BodyBudget bodyBudget() {
        return this.bodyBudget;
    }

    /** {@code route.sensitive-headers}' default: what holds for the application's whole site. */
    static final List<String> DEFAULT_SENSITIVE_HEADERS = List.of("Authorization", "Proxy-Authorization", "Cookie",
            "Set-Cookie", "Strict-Transport-Security", "Alt-Svc", "Clear-Site-Data", "Service-Worker-Allowed");

    /** The defaults {@code route.sensitive-headers} leaves out, as configured: they pass the route. */
    List<String> sensitiveHeadersLeftOut() {
        Set<String> configured = sensitiveHeaders();
        return DEFAULT_SENSITIVE_HEADERS.stream()
            .filter((name) -> !configured.contains(name.toLowerCase(Locale.ROOT)))
            .toList();
    }

    /** The headers that pass the route neither way ({@code route.sensitive-headers}), lower-case. */
    Set<String> sensitiveHeaders() {
        return this.sensitiveHeaders;
    }

    /** The name of a route property of this server, as the application sets it: {@code kvmserver.route.max-body-size}. */
    String property(String relative) {
        return this.lifecycle.getNaming().property("route." + relative);
    }

    /** How long a routed request may take at most: the engine cuts it at max-request-time, this is the safety net. */
    Duration timeout() {
        return this.lifecycle.getSettings().getLimits().getMaxRequestTime().plus(GRACE);
    }

    /** The way into the running server's request VMs, or null while it does not serve. */
    Connections connections() {
        KvmServer server = this.lifecycle.getServer();
        Route route = (server != null && server.isRunning()) ? server.route() : null;
        if (route == null) {
            return null;
        }
        Connections current = this.connections;
        if (current == null || current.route != route) {
            current = new Connections(route);
            this.connections = current;
        }
        return current;
    }

    /**
     * A running server's route, with the Jetty transport that connects to it: a unix socket
     * channel whose name the request VM that takes it reports back to (see {@link Route}).
     */
    static final class Connections {

        final Route route;

        final Transport transport;

        Connections(Route route) {
            this.route = route;
            this.transport = new Transport.TCPUnix(route.socket()) {

                @Override
                public SelectableChannel newSelectableChannel() throws IOException {
                    return route.newChannel();
                }

            };
        }

    }

}
