package io.kvmserver.autoconfigure.route;

import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.ProblemDetail;
import org.springframework.web.ErrorResponseException;

/**
 * A routed request the program could not answer: 504 Gateway Timeout when its request VM ran
 * past {@code max-request-time}, 502 Bad Gateway when it crashed, exited, ran out of memory or
 * closed the connection without an answer, 503 Service Unavailable when no request VM was free
 * within {@code route.max-wait} or the server was not serving, 413 Content Too Large when the
 * request body is larger than {@code route.max-body-size}. Thrown by the route's handler
 * before anything was sent to the client, so the application's error handling applies: Spring
 * MVC's and WebFlux's own (a problem detail, or the error page) or an
 * {@code @ExceptionHandler(KvmServerRouteException.class)} of the application's.
 */
public class KvmServerRouteException extends ErrorResponseException {

    private static final long serialVersionUID = 1L;

    private final String server;

    private final String outcome;

    KvmServerRouteException(HttpStatus status, String server, String outcome, String detail, Throwable cause) {
        super(status, ProblemDetail.forStatusAndDetail(status, detail), cause);
        this.server = server;
        this.outcome = outcome;
        if (status == HttpStatus.SERVICE_UNAVAILABLE) {
            getHeaders().set(HttpHeaders.RETRY_AFTER, "1");
        }
    }

    /** The server the request was routed to. */
    public String getServer() {
        return this.server;
    }

    /**
     * Why it failed: {@code timeout}, {@code crash}, {@code exit}, {@code memory-limit},
     * {@code ok} (the program closed the connection without an answer), {@code busy},
     * {@code unavailable}, {@code too-large}, {@code invalid} or {@code failed}.
     */
    public String getOutcome() {
        return this.outcome;
    }

    @Override
    public String getMessage() {
        return getBody().getDetail();
    }

}
