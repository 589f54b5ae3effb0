package io.kvmserver.autoconfigure.route;

import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.http.HttpFields;

/**
 * The program's status and headers as they were when its answer's head came. Jetty's response
 * object does not stay so: a program that answers {@code HEAD} with a body, as a plain server
 * does, made the client parse the extra bytes as the start of another answer and set the first
 * one's status to 0 while the route read it (a 502 "answered with status 0" in one {@code HEAD}
 * of twenty, found in CI on 2026-12-05).
 *
 * @param status the status line's code
 * @param headers the headers, an immutable copy
 */
record AnswerHead(int status, HttpFields headers) {

    /** No head yet. */
    static final AnswerHead NONE = new AnswerHead(0, HttpFields.EMPTY);

    static AnswerHead of(Response response) {
        return new AnswerHead(response.getStatus(), response.getHeaders().asImmutable());
    }

}
