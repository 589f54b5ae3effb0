package io.kvmserver.autoconfigure.route;

import io.kvmserver.server.RequestReport;
import io.micrometer.common.KeyValue;
import io.micrometer.common.KeyValues;

/**
 * The observation {@value #NAME} of a routed request: a timer (and a trace span, with a tracer)
 * per server and outcome.
 *
 * <ul>
 * <li>low cardinality (timer tags and span tags): {@code server}, {@code outcome} (see
 * {@link KvmServerRouteObservationContext#getOutcome()}), {@code status} (the HTTP status
 * answered), {@code method};</li>
 * <li>high cardinality (span tags only): {@code kvmserver.vm} (the request VM's id),
 * {@code kvmserver.exits} (its exits to the host during the request),
 * {@code kvmserver.reset.pages} (pages its reset restored), {@code http.path}.</li>
 * </ul>
 */
public class DefaultKvmServerRouteObservationConvention implements KvmServerRouteObservationConvention {

    /** The observation's name, and so the timer's. */
    public static final String NAME = "kvmserver.route.requests";

    @Override
    public String getName() {
        return NAME;
    }

    @Override
    public String getContextualName(KvmServerRouteObservationContext context) {
        return "kvmserver " + context.getServer();
    }

    @Override
    public KeyValues getLowCardinalityKeyValues(KvmServerRouteObservationContext context) {
        return KeyValues.of(KeyValue.of("server", context.getServer()), KeyValue.of("outcome", context.getOutcome()),
                KeyValue.of("status", (context.getStatus() > 0) ? String.valueOf(context.getStatus()) : "none"),
                KeyValue.of("method", method(context.getMethod())));
    }

    /**
     * The method as a tag: the standard ones as they are, anything a client invents
     * {@code UNKNOWN}, as Spring's own HTTP metrics tag it (each invented method would be a meter
     * of its own, kept for good).
     */
    static String method(String method) {
        return switch (method) {
            case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE" -> method;
            default -> "UNKNOWN";
        };
    }

    @Override
    public KeyValues getHighCardinalityKeyValues(KvmServerRouteObservationContext context) {
        RequestReport report = context.getReport();
        KeyValues values = KeyValues.of(KeyValue.of("http.path", context.getPath()));
        if (report == null) {
            return values;
        }
        return values.and(KeyValue.of("kvmserver.vm", String.valueOf(report.vm())),
                KeyValue.of("kvmserver.exits", String.valueOf(report.exits())),
                KeyValue.of("kvmserver.reset.pages", String.valueOf(report.resetPages())));
    }

}
