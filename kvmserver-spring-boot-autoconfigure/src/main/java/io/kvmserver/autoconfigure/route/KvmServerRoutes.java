package io.kvmserver.autoconfigure.route;

import io.kvmserver.autoconfigure.KvmServerLifecycle;
import io.micrometer.observation.ObservationRegistry;
import java.nio.channels.SelectableChannel;
import java.util.List;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.transport.HttpClientTransportOverHTTP;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.io.ClientConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.springframework.beans.factory.DisposableBean;

/**
 * The routes of the application's servers, and the HTTP client that forwards their requests:
 * Jetty's, speaking HTTP/1.1 to each program over its private socket, one new connection per
 * request. It is a proxy's client, so it changes nothing on the way: no redirects followed, no
 * cookies kept (one client's cookie must never reach another's request), no content decoded, no
 * authentication or 100-continue handling, no {@code User-Agent} of its own.
 */
public class KvmServerRoutes implements DisposableBean {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(KvmServerRoutes.class);

    /** The longest answer head a program may send through a route. */
    static final int MAX_ANSWER_HEAD = 64 * 1024;

    private final List<RoutedServer> servers;

    private final HttpClient client;

    private final ObservationRegistry observations;

    private final KvmServerRouteObservationConvention convention;

    public KvmServerRoutes(List<KvmServerLifecycle> lifecycles, ObservationRegistry observations,
            KvmServerRouteObservationConvention convention) {
        this.servers = lifecycles.stream()
            .filter((lifecycle) -> !lifecycle.getSettings().getRoute().getPaths().isEmpty())
            .map(RoutedServer::new)
            .toList();
        this.observations = observations;
        this.convention = convention;
        for (RoutedServer server : this.servers) {
            List<String> passed = server.sensitiveHeadersLeftOut();
            if (!passed.isEmpty()) {
                LOG.warn("{} leaves out {}: the program sees and sets them through its route",
                        server.property("sensitive-headers"), String.join(", ", passed));
            }
        }
        QueuedThreadPool threads = new QueuedThreadPool();
        threads.setName("kvmserver-route");
        threads.setDaemon(true);
        ClientConnector connector = new ClientConnector() {

            @Override
            protected void configure(SelectableChannel channel) {
                // Every channel is a unix socket: TCP's options do not apply, and trying each one
                // costs an exception per connection.
            }

        };
        connector.setExecutor(threads);
        this.client = new HttpClient(new HttpClientTransportOverHTTP(connector));
        this.client.setExecutor(threads);
        this.client.setFollowRedirects(false);
        this.client.setHttpCookieStore(new HttpCookieStore.Empty());
        this.client.setUserAgentField(null);
        // A program's answer head is bounded as a server bounds a request's (Tomcat's 8 KiB, here
        // 64 KiB): a longer one is a bad gateway's, never megabytes taken into the heap.
        this.client.setMaxResponseHeadersSize(MAX_ANSWER_HEAD);
        this.client.getProtocolHandlers().clear();
        try {
            this.client.start();
        }
        catch (Exception ex) {
            throw new IllegalStateException("cannot start the HTTP client of the kvmserver routes", ex);
        }
        // Cleared once started, which installs the default decoders: no answer is decoded, and no
        // request gets an Accept-Encoding the client never sent.
        this.client.getContentDecoderFactories().clear();
    }

    /** The servers with routes. */
    List<RoutedServer> servers() {
        return this.servers;
    }

    HttpClient client() {
        return this.client;
    }

    ObservationRegistry observations() {
        return this.observations;
    }

    KvmServerRouteObservationConvention convention() {
        return this.convention;
    }

    @Override
    public void destroy() throws Exception {
        this.client.stop();
    }

}
