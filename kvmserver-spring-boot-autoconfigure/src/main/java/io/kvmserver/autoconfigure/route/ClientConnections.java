package io.kvmserver.autoconfigure.route;

import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.http.server.reactive.ServerHttpResponseDecorator;
import org.springframework.util.ClassUtils;

/**
 * Ends a WebFlux client's connection whose routed answer broke off after it began. WebFlux
 * completes a committed response whose body failed as if it had ended, and the server keeps the
 * connection for the next request: a client that trusts the program's {@code Content-Length}
 * would read the next answer on it as the rest of this one. Only the server's own connection can
 * say it; Reactor Netty's is reached here, other servers' are left to their own handling.
 */
final class ClientConnections {

    private static final boolean REACTOR_NETTY = ClassUtils.isPresent("reactor.netty.Connection",
            ClientConnections.class.getClassLoader());

    private ClientConnections() {
    }

    static void end(ServerHttpResponse response) {
        if (REACTOR_NETTY) {
            Netty.end(ServerHttpResponseDecorator.getNativeResponse(response));
        }
    }

    /** Loaded only where Reactor Netty is. */
    private static final class Netty {

        static void end(Object nativeResponse) {
            if (nativeResponse instanceof reactor.netty.Connection connection) {
                connection.dispose();
            }
        }

    }

}
