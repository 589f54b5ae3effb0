package io.kvmserver.autoconfigure.route;

import io.kvmserver.server.RequestReport;
import io.kvmserver.server.Route;
import io.kvmserver.server.ServerStats;
import io.micrometer.observation.Observation;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.eclipse.jetty.client.Connection;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.http.HttpVersion;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;

/**
 * One routed request, whichever web stack received it: the request for the program, built from
 * the client's; its place in a free request VM; a connection of its own to the program's private
 * socket; and, when the program could not answer, the status that says why (from the request
 * VM's report). Observed from start to the request VM's report.
 */
final class RouteExchange {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(RouteExchange.class);

    private static final DefaultKvmServerRouteObservationConvention DEFAULT_CONVENTION =
            new DefaultKvmServerRouteObservationConvention();

    /** The outcome of an answer the route refused ({@link #invalid}). */
    private static final String INVALID = "invalid";

    /** The outcome of a request whose body the route refused ({@link #tooLarge}). */
    private static final String TOO_LARGE = "too-large";

    /** How long the observation waits for the request VM's report once the answer has gone. */
    private static final Duration REPORT_AFTER_ANSWER = Duration.ofSeconds(5);

    private final KvmServerRoutes routes;

    private final RoutedServer server;

    private final Request request;

    private final KvmServerRouteObservationContext context;

    private final Observation observation;

    private RoutedServer.Connections connections;

    private volatile Route.Admission admission;

    /** The place waited for without a thread ({@link #admitLater}), until the exchange has it. */
    private volatile CompletableFuture<Route.Admission> pendingPlace;

    private volatile boolean followed;

    /** Guards {@link #finished} against a connection being taken up ({@link #connect}). */
    private final Object connectionLock = new Object();

    private boolean finished;

    private volatile Connection connection;

    /**
     * Builds the request for the program, without its body yet ({@link #body}), and starts observing.
     * @param parent the observation of the application's request, or null for the one in scope
     */
    RouteExchange(KvmServerRoutes routes, RoutedServer server, ForwardedHeaders.Incoming incoming,
            Observation parent) {
        this.routes = routes;
        this.server = server;
        long timeout = server.timeout().toMillis();
        this.request = routes.client()
            .newRequest("localhost", 80)
            .method(incoming.method())
            .path(incoming.target())
            .version(HttpVersion.HTTP_1_1)
            .timeout(timeout, TimeUnit.MILLISECONDS)
            .idleTimeout(timeout, TimeUnit.MILLISECONDS)
            .headers((headers) -> ForwardedHeaders.toProgram(incoming, server.sensitiveHeaders(), headers));
        this.context = new KvmServerRouteObservationContext(server.name(), this.request, incoming.method(),
                incoming.path());
        Observation created = Observation.createNotStarted(routes.convention(), DEFAULT_CONVENTION,
                () -> this.context, routes.observations()); // a child of the observation in scope, if any
        if (parent != null) {
            created.parentObservation(parent);
        }
        this.observation = created.start();
    }

    Observation observation() {
        return this.observation;
    }

    /** The request's body, before {@link #admit()}. */
    void body(Request.Content body) {
        this.request.body(body);
    }

    /** The length of the body the program gets, when it is not the client's (a form rebuilt from its fields). */
    void bodyLength(long length) {
        this.request.headers((headers) -> headers.put(HttpHeaders.CONTENT_LENGTH, Long.toString(length)));
    }

    /** 400 Bad Request, with the outcome {@code bad-request}: the request cannot be forwarded as it is. */
    KvmServerRouteException badRequest(String detail) {
        return fail(HttpStatus.BAD_REQUEST, "bad-request", detail, null);
    }

    /**
     * Refuses a request with more than one {@code Host} (RFC 9112, section 3.2: a server answers
     * 400): the application reads the first, and a program that read another could act for a
     * host the application never checked. Tomcat refuses such a request itself, Reactor Netty
     * passes it on.
     * @throws KvmServerRouteException 400
     */
    void checkHost(ForwardedHeaders.Incoming incoming) {
        List<String> hosts = incoming.headers().get(HttpHeaders.HOST);
        if (hosts != null && hosts.size() > 1) {
            throw badRequest("the request has " + hosts.size() + " Host headers");
        }
    }

    /**
     * Refuses a body of {@code length} bytes (-1: not known yet) larger than {@code route.max-body-size}.
     * @throws KvmServerRouteException 413 for a body known to be too large
     */
    void checkBodyLength(long length) {
        if (length > this.server.maxBodySize()) {
            throw tooLarge();
        }
    }

    /** 413 Content Too Large, with the outcome {@code too-large}: the body is larger than {@code route.max-body-size}. */
    KvmServerRouteException tooLarge() {
        return fail(HttpStatus.CONTENT_TOO_LARGE, TOO_LARGE, "the request body is larger than "
                + this.server.maxBodySize() + " bytes", this.server.property("max-body-size") + " is "
                + this.server.maxBodySize() + " bytes", null);
    }

    /**
     * The answer to a buffered body's refusal, whichever web stack read it: 413 for one too large,
     * 503 for one the budget or the disk has no room for; null for any other failure.
     */
    KvmServerRouteException refusedBody(Throwable failure) {
        if (failure instanceof BufferedBody.TooLarge) {
            return tooLarge();
        }
        if (failure instanceof BufferedBody.OverBudget) {
            return overBudget();
        }
        return (failure instanceof BufferedBody.NotStored) ? notStored(failure) : null;
    }

    /**
     * 503 Service Unavailable, with the outcome {@code busy}: the bodies being read for the server
     * hold all of {@code route.max-buffered-size}; the client may try again.
     */
    private KvmServerRouteException overBudget() {
        long limit = this.server.bodyBudget().limit();
        return fail(HttpStatus.SERVICE_UNAVAILABLE, "busy", "the request bodies being read for the kvmserver "
                + this.server.name() + " hold all they may", this.server.property("max-buffered-size") + " is "
                + limit + " bytes", null);
    }

    /**
     * 503 Service Unavailable, with the outcome {@code busy}: the body could not be kept for the
     * program (the temporary file's disk is full); the client may try again.
     */
    private KvmServerRouteException notStored(Throwable cause) {
        return fail(HttpStatus.SERVICE_UNAVAILABLE, "busy", "the request body could not be kept for the kvmserver "
                + this.server.name(), String.valueOf(cause.getMessage()), cause);
    }

    /**
     * Takes a place in a free request VM, waiting up to {@code route.max-wait}.
     * @throws KvmServerRouteException 503 when none is free in time, or the server does not serve
     */
    void admit() {
        RoutedServer.Connections current = serving();
        Route.Admission place;
        try {
            place = current.route.admit(this.server.maxWait(), this.server.maxWaiting());
        }
        catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            throw fail(HttpStatus.SERVICE_UNAVAILABLE, "busy", "interrupted while waiting for a free request VM", ex);
        }
        catch (Route.QueueFull ex) {
            throw queueFull(ex);
        }
        admitted(current, place);
    }

    /**
     * {@link #admit()} without a thread waiting (WebFlux): completes once the request has its
     * place, on a thread of the routes' client, or fails with the same
     * {@link KvmServerRouteException}s. {@link #finish} gives the place back if the exchange ended
     * first.
     */
    CompletableFuture<Void> admitLater() {
        RoutedServer.Connections current;
        try {
            current = serving();
        }
        catch (KvmServerRouteException ex) {
            return CompletableFuture.failedFuture(ex);
        }
        CompletableFuture<Route.Admission> place = current.route.admitLater(this.server.maxWait(),
                this.server.maxWaiting());
        this.pendingPlace = place;
        // On a thread of the routes' client, never the request VM's that freed the place (nor the
        // common pool, which is a new thread per task on one CPU).
        return place.handleAsync((admission, failure) -> {
            if (failure != null) {
                Throwable cause = failure instanceof CompletionException ? failure.getCause() : failure;
                if (cause instanceof CancellationException cancelled) {
                    throw cancelled; // the exchange ended first (finish gave the wait up): nothing to answer
                }
                throw cause instanceof Route.QueueFull full ? queueFull(full)
                        : fail(HttpStatus.SERVICE_UNAVAILABLE, "busy", "the wait for a free request VM ended", cause);
            }
            admitted(current, admission);
            return null;
        }, this.routes.client().getExecutor());
    }

    private RoutedServer.Connections serving() {
        RoutedServer.Connections current = this.server.connections();
        if (current == null) {
            throw fail(HttpStatus.SERVICE_UNAVAILABLE, "unavailable",
                    "the kvmserver " + this.server.name() + " is not serving", null);
        }
        return current;
    }

    private KvmServerRouteException queueFull(Route.QueueFull full) {
        return fail(HttpStatus.SERVICE_UNAVAILABLE, "busy", full.getMessage() + " of the kvmserver " + this.server.name(),
                this.server.property("max-waiting") + " is " + this.server.maxWaiting(), null);
    }

    /** The request has its place ({@code place}), or is refused: none came in time, or the server stopped. */
    private void admitted(RoutedServer.Connections current, Route.Admission place) {
        this.admission = place;
        if (this.admission == null) {
            if (this.server.connections() == null) {
                // The server stopped while the request waited: it was refused at once, not after the wait.
                throw fail(HttpStatus.SERVICE_UNAVAILABLE, "unavailable",
                        "the kvmserver " + this.server.name() + " stopped serving", null);
            }
            throw fail(HttpStatus.SERVICE_UNAVAILABLE, "busy", "no request VM of the kvmserver " + this.server.name()
                    + " was free within " + this.server.maxWait().toMillis() + " ms", null);
        }
        this.connections = current;
    }

    /**
     * A connection of the request's own to the program, tied to its place in a request VM; after
     * {@link #admit()}. The connection is taken up in a stage of its own, which nobody can cancel:
     * a caller that gives up (a WebFlux request whose client went while the connection was being
     * made) cancels only the future returned, and a connection made after the exchange finished is
     * closed at once, never left open to hold the request VM that accepted it until its time limit
     * (with its place already given back).
     */
    CompletableFuture<Connection> connect() {
        this.request.transport(this.connections.transport);
        CompletableFuture<Connection> taken = this.routes.client()
            .resolveDestination(this.request)
            .newConnection()
            .thenApply((connection) -> {
                synchronized (this.connectionLock) {
                    if (this.finished) {
                        connection.close();
                        throw new CancellationException("the exchange ended while its connection was made");
                    }
                    this.connection = connection;
                    this.admission.follow(connection.getLocalSocketAddress());
                    this.followed = true;
                }
                return connection;
            });
        return taken.thenApply(Function.identity());
    }

    /** The request for the program, to send on the connection. */
    Request request() {
        return this.request;
    }

    /**
     * Why the program gave no answer, as the request VM reports it: 504 when it ran past its
     * time limit, 502 when it crashed, exited, ran out of memory or closed the connection.
     * Waits for the report (the VM is reset by then).
     */
    KvmServerRouteException failed(Throwable cause) {
        for (Throwable c = cause; c != null; c = c.getCause()) {
            if (c instanceof BufferedBody.TooLarge) {
                return tooLarge(); // a streamed body of unknown length grew past the limit
            }
            if (c instanceof org.eclipse.jetty.http.HttpException) {
                // The route's client could not read the answer as HTTP (a head it cannot parse, or
                // one too long): the program answered, wrongly.
                return fail(HttpStatus.BAD_GATEWAY, INVALID, "the kvmserver " + this.server.name()
                        + " answered something that is not an HTTP response", String.valueOf(c.getMessage()), cause);
            }
        }
        RequestReport report = null;
        if (this.followed) {
            try {
                report = this.admission.report().get(this.server.timeout().toMillis(), TimeUnit.MILLISECONDS);
            }
            catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
            }
            catch (ExecutionException | TimeoutException ex) {
                // no report: the server stopped, or the program still holds the connection
            }
        }
        String name = this.server.name();
        if (report == null && this.server.connections() == null) {
            // The server stopped with the request in flight (its shutdown's grace ran out): the
            // program is not to blame, and another instance may answer.
            return fail(HttpStatus.SERVICE_UNAVAILABLE, "unavailable", "the kvmserver " + name
                    + " stopped while the request was in flight", String.valueOf(cause), cause);
        }
        if (report == null) {
            return fail(HttpStatus.BAD_GATEWAY, "failed", "the kvmserver " + name + " gave no answer",
                    String.valueOf(cause), cause);
        }
        this.context.setReport(report);
        String outcome = tag(report.outcome());
        String vm = "request VM " + report.vm() + " of the kvmserver " + name;
        return switch (report.outcome()) {
            case TIMEOUT -> fail(HttpStatus.GATEWAY_TIMEOUT, outcome, vm + " ran past its time limit", report.failure(),
                    cause);
            case OK -> fail(HttpStatus.BAD_GATEWAY, outcome, vm + " closed the connection without an answer", cause);
            default -> fail(HttpStatus.BAD_GATEWAY, outcome, vm + " failed (" + outcome + ")", report.failure(), cause);
        };
    }

    /**
     * Whether an answer of {@code status} with {@code headers}, to a request of {@code method},
     * ends with its connection (no length, not chunked): only the request VM's report can tell
     * such an answer cut short by a crash from a whole one.
     */
    static boolean endsWithItsConnection(String method, int status, org.eclipse.jetty.http.HttpFields headers) {
        return !"HEAD".equals(method) && status != 204 && status != 304
                && !headers.contains(org.eclipse.jetty.http.HttpHeader.CONTENT_LENGTH)
                && !headers.contains(org.eclipse.jetty.http.HttpHeader.TRANSFER_ENCODING);
    }

    /**
     * Whether the request VM that answered reports a failure (a crash, its time limit, its memory
     * limit, an exit), waiting for its report: for an answer that ended with its connection, which
     * is whole only if the program closed it.
     */
    CompletableFuture<Boolean> programFailed() {
        if (!this.followed) {
            return CompletableFuture.completedFuture(false);
        }
        return this.admission.report()
            .orTimeout(this.server.timeout().toMillis(), TimeUnit.MILLISECONDS)
            .handle((report, failure) -> report != null && report.outcome() != ServerStats.Outcome.OK);
    }

    /** Whether a client may get {@code status} from a proxy as its answer: 200-599 (a 1xx is never final here). */
    static boolean isFinalStatus(int status) {
        return status >= 200 && status <= 599;
    }

    /**
     * The program answered with a status no client may get from a proxy: a 1xx as its final answer
     * (a 101 too: the route strips {@code Upgrade}, a hop-by-hop header, so no client's request
     * asks the program to switch protocols), or a number outside 200-599. 502, with the outcome
     * {@code invalid}.
     */
    KvmServerRouteException invalid(int status) {
        return fail(HttpStatus.BAD_GATEWAY, INVALID, "the kvmserver " + this.server.name()
                + " answered with status " + status + ", which no client may get from a proxy", null);
    }

    /** Ends the request's connection to the program (the program's side sees its end). */
    void closeConnection() {
        Connection used = this.connection;
        if (used != null) {
            used.close();
        }
    }

    private KvmServerRouteException fail(HttpStatus status, String outcome, String detail, Throwable cause) {
        return fail(status, outcome, detail, null, cause);
    }

    private KvmServerRouteException fail(HttpStatus status, String outcome, String detail, String failure,
            Throwable cause) {
        this.context.setOutcome(outcome);
        if (INVALID.equals(outcome) || "failed".equals(outcome)) {
            // The program's own failures (a crash, a time limit) are logged by its request VM; an
            // answer the route refused, or none with no report, only here.
            // The detail only: the failure may quote the program's bytes, which never reach the log raw.
            LOG.warn("kvmserver: a routed request to {} was answered {} ({}): {}", this.server.name(), status.value(),
                    outcome, detail);
        }
        else if (LOG.isDebugEnabled()) {
            LOG.debug("kvmserver: a routed request to {} was answered {} ({}): {}", this.server.name(), status.value(),
                    outcome, detail);
        }
        return new KvmServerRouteException(status, this.server.name(), outcome, detail, failure, cause);
    }

    /**
     * The exchange is over: the application answered {@code status} (0 if nothing was sent), and
     * {@code error} went wrong, if anything. Frees the request's place once its VM is done, and
     * stops the observation when the VM's report comes (on the route's threads, never the VM's).
     */
    void finish(int status, Throwable error) {
        synchronized (this.connectionLock) {
            this.finished = true; // a connection made from now on is closed as it comes (connect)
        }
        closeConnection(); // whatever the program answered, its connection ends with the request
        this.context.setStatus(status);
        if (error != null) {
            this.observation.error(error);
        }
        CompletableFuture<Route.Admission> pending = this.pendingPlace;
        if (pending != null && this.admission == null) {
            Route.abandon(pending); // the exchange ended while it waited (its client went): no place kept
        }
        Route.Admission place = this.admission;
        if (place == null || !this.followed) {
            if (place != null) {
                place.close();
                this.context.setOutcome("failed");
            }
            this.observation.stop();
            return;
        }
        place.close();
        place.report()
            .orTimeout(REPORT_AFTER_ANSWER.toMillis(), TimeUnit.MILLISECONDS)
            .whenCompleteAsync((report, failure) -> {
                if (report != null) {
                    this.context.setReport(report);
                    String refused = this.context.getOutcome(); // the VM served it; the route refused it
                    if (!INVALID.equals(refused) && !TOO_LARGE.equals(refused)) {
                        this.context.setOutcome(tag(report.outcome()));
                    }
                }
                this.observation.stop();
            }, this.routes.client().getExecutor());
    }

    /** An engine outcome as the observation and exception name it: {@code memory-limit}. */
    static String tag(ServerStats.Outcome outcome) {
        return outcome.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

}
