package io.kvmserver.autoconfigure.route;

import io.kvmserver.server.RequestReport;
import io.micrometer.observation.transport.RequestReplySenderContext;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.Response;

/**
 * What the observation of one routed request knows: the server, the request sent to the
 * program (the carrier: a tracing handler adds its propagation headers to it, so that the
 * program sees the trace), and once it is over, the request VM that served it, how its request
 * ended, and the HTTP status the application answered.
 */
public class KvmServerRouteObservationContext extends RequestReplySenderContext<Request, Response> {

    private final String server;

    private final String method;

    private final String path;

    private String outcome = "unknown";

    private RequestReport report;

    private int status;

    KvmServerRouteObservationContext(String server, Request request, String method, String path) {
        super((carrier, key, value) -> carrier.headers((headers) -> headers.put(key, value)));
        this.server = server;
        this.method = method;
        this.path = path;
        setCarrier(request);
        setRemoteServiceName("kvmserver " + server);
    }

    /** The server's name ({@code default} for the one configured at {@code kvmserver.*}). */
    public String getServer() {
        return this.server;
    }

    /** The HTTP method of the routed request. */
    public String getMethod() {
        return this.method;
    }

    /** The path of the routed request, without its query. */
    public String getPath() {
        return this.path;
    }

    /**
     * How the routed request ended: {@code ok}, {@code timeout}, {@code crash}, {@code exit},
     * {@code memory-limit} (from its request VM), {@code busy} (no VM was free in time),
     * {@code unavailable} (the server was not serving), {@code failed} (the route itself failed),
     * {@code unknown} (no report).
     */
    public String getOutcome() {
        return this.outcome;
    }

    void setOutcome(String outcome) {
        this.outcome = outcome;
    }

    /** The request VM's report, once it has come: the VM, its exits and reset pages. Null before. */
    public RequestReport getReport() {
        return this.report;
    }

    void setReport(RequestReport report) {
        this.report = report;
    }

    /** The status the application answered the routed request with; 0 when none was sent. */
    public int getStatus() {
        return this.status;
    }

    void setStatus(int status) {
        this.status = status;
    }

}
