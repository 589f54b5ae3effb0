package io.kvmserver.autoconfigure.route;

import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.RequestDispatcher;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import java.io.IOException;

/**
 * Keeps the application's error page out of a routed answer that broke off after it began
 * ({@link ServletRouteHandler.AnswerCutShort}). Tomcat includes the error page into a response
 * already committed, after the program's bytes: an error page as long as what was missing made a
 * well-formed answer of a cut one, bytes the program never sent (found by the review of
 * 2026-12-05). Registered for error and include dispatches (Tomcat includes the page); the
 * container still ends the connection.
 */
final class CutAnswerErrorFilter implements Filter {

    @Override
    public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
            throws IOException, ServletException {
        for (Object error = request.getAttribute(RequestDispatcher.ERROR_EXCEPTION); error instanceof Throwable cause;
                error = (cause.getCause() != cause) ? cause.getCause() : null) {
            if (cause instanceof ServletRouteHandler.AnswerCutShort) {
                return; // nothing may follow what the program sent
            }
        }
        chain.doFilter(request, response);
    }

}
