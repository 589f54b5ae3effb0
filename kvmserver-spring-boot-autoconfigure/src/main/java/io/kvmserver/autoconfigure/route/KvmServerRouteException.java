package io.kvmserver.autoconfigure.route;

import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.web.server.ResponseStatusException;

/**
 * A routed request the program could not answer: 504 Gateway Timeout when its request VM ran
 * past {@code max-request-time}, 502 Bad Gateway when it crashed, exited, ran out of memory or
 * closed the connection without an answer, 503 Service Unavailable when no request VM was free
 * within {@code route.max-wait} or the server was not serving, 413 Content Too Large when the
 * request body is larger than {@code route.max-body-size}. A {@link ResponseStatusException}, so
 * that every error handling takes its status. Thrown by the route's handler
 * before anything was sent to the client, so the application's error handling applies: Spring
 * MVC's and WebFlux's own (a problem detail, or the error page) or an
 * {@code @ExceptionHandler(KvmServerRouteException.class)} of the application's.
 */
public class KvmServerRouteException extends ResponseStatusException {

    private static final long serialVersionUID = 1L;

    private final String server;

    private final String outcome;

    private final String failure;

    private final HttpHeaders headers = new HttpHeaders();

    /**
     * @param detail what the client may read: the outcome and the request VM, never the
     * program's state (a crash's addresses hold for every request VM of the template)
     * @param failure what went wrong in detail, for the log, or null
     */
    KvmServerRouteException(HttpStatus status, String server, String outcome, String detail, String failure,
            Throwable cause) {
        super(status, detail, cause);
        this.server = server;
        this.outcome = outcome;
        this.failure = failure;
        if (status == HttpStatus.SERVICE_UNAVAILABLE) {
            this.headers.set(HttpHeaders.RETRY_AFTER, "1");
        }
    }

    /** The server the request was routed to. */
    public String getServer() {
        return this.server;
    }

    /**
     * Why it failed: {@code timeout}, {@code crash}, {@code exit}, {@code memory-limit},
     * {@code ok} (the program closed the connection without an answer), {@code busy},
     * {@code unavailable}, {@code too-large}, {@code bad-request}, {@code invalid} or {@code failed}.
     */
    public String getOutcome() {
        return this.outcome;
    }

    /**
     * What went wrong in detail, as the request VM reported it (the fault and its address, the
     * call the program waited in), or the cause of a failed exchange; null when there is nothing
     * more to say. For the log: the problem detail sent to the client leaves it out.
     */
    public String getFailure() {
        return this.failure;
    }

    @Override
    public HttpHeaders getHeaders() {
        return this.headers;
    }

    /** The problem's detail, and the failure when there is one: for the log. */
    @Override
    public String getMessage() {
        String detail = getBody().getDetail();
        return (this.failure != null) ? detail + ": " + this.failure : detail;
    }

    /**
     * Without a stack trace: the program decides how many of these there are, and where in the
     * route it was thrown says nothing the outcome does not.
     */
    @Override
    public synchronized Throwable fillInStackTrace() {
        return this;
    }

}
