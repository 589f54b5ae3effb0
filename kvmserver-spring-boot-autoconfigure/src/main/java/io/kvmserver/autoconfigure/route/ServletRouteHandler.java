package io.kvmserver.autoconfigure.route;

import io.micrometer.observation.Observation;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Method;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.client.Connection;
import org.eclipse.jetty.client.InputStreamResponseListener;
import org.eclipse.jetty.client.OutputStreamRequestContent;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.http.HttpFields;
import org.springframework.http.HttpHeaders;
import org.springframework.util.ReflectionUtils;

/**
 * Spring MVC's side of a route: forwards the request to a request VM of the server and streams
 * the program's answer back. It is mapped as a handler method of the application's
 * {@code RequestMappingHandlerMapping}, like a controller's, so that everything that applies to
 * controllers applies to routes: filters, the best-matching pattern in observations and
 * {@code @ControllerAdvice} exception handlers. The request body streams to the program from a thread
 * of the routes while this thread streams the answer to the client, so neither is ever held whole and
 * a program may answer while it still reads. Runs behind the application's filters (security,
 * tracing); a failure before the answer began is a {@link KvmServerRouteException}, which the
 * application's exception handling turns into the response.
 */
final class ServletRouteHandler {

    /** The handler method: {@link #handle}. */
    static final Method HANDLE = ReflectionUtils.findMethod(ServletRouteHandler.class, "handle",
            HttpServletRequest.class, HttpServletResponse.class);

    private static final int BUFFER = 16 * 1024;

    private final KvmServerRoutes routes;

    private final RoutedServer server;

    ServletRouteHandler(KvmServerRoutes routes, RoutedServer server) {
        this.routes = routes;
        this.server = server;
    }

    /** Routes one request. */
    public void handle(HttpServletRequest request, HttpServletResponse response) throws IOException {
        ForwardedHeaders.Incoming incoming = incoming(request);
        long length = incoming.contentLength();
        RouteExchange exchange = new RouteExchange(this.routes, this.server, incoming, null);
        int status = 0;
        Throwable error = null;
        BufferedBody buffered = null;
        OutputStreamRequestContent streamed = null;
        CompletableFuture<Void> copier = null;
        try (Observation.Scope scope = exchange.observation().openScope()) {
            exchange.checkHost(incoming);
            exchange.checkBodyLength(length);
            if (length != 0 && (this.server.requestBuffering() || isForm(request))) {
                // Read before a request VM is taken: a client that sends its body slowly holds
                // this thread, never a VM that other clients wait for. A form always is (a filter
                // may have read it; the container bounds its size).
                buffered = readWhole(request, length, exchange);
                exchange.body(buffered.content(request.getContentType()));
            }
            else if (length != 0) {
                streamed = new OutputStreamRequestContent(request.getContentType()) {

                    @Override
                    public long getLength() {
                        return length; // the program gets the client's Content-Length, not a chunked body
                    }

                };
                exchange.body(streamed);
            }
            exchange.admit();
            Connection connection = connect(exchange);
            AnswerListener listener = new AnswerListener();
            connection.send(exchange.request(), listener);
            if (streamed != null) {
                // The client's body is copied with blocking reads and writes on a thread of the routes, so
                // that this one is free to stream the answer while the body still comes in, and so that
                // no blocking read ever runs on the HTTP client's selector (which would stop the answer).
                InputStream in = request.getInputStream();
                OutputStreamRequestContent body = streamed;
                Request forwarded = exchange.request();
                long limit = this.server.maxBodySize();
                copier = CompletableFuture.runAsync(() -> copyBody(in, body, forwarded, limit),
                        this.routes.client().getExecutor());
            }
            try {
                listener.get(this.server.timeout().toMillis(), TimeUnit.MILLISECONDS);
            }
            catch (ExecutionException ex) {
                throw exchange.failed(ex.getCause());
            }
            catch (TimeoutException ex) {
                listener.getInputStream().close();
                throw exchange.failed(ex);
            }
            catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
                throw exchange.failed(ex);
            }
            AnswerHead head = listener.head;
            int answered = head.status();
            HttpFields answerHeaders = head.headers();
            if (!RouteExchange.isFinalStatus(answered)) {
                listener.getInputStream().close();
                throw exchange.invalid(answered);
            }
            response.setStatus(answered);
            ForwardedHeaders.toClient(answerHeaders, this.server.sensitiveHeaders(), (name, value) -> {
                // Tomcat parses a Content-Type it is given, and logs a long warning for every
                // charset it does not know: the program would decide how much the log grows.
                response.addHeader(name, name.equalsIgnoreCase(HttpHeaders.CONTENT_TYPE)
                        ? ForwardedHeaders.withKnownCharset(value) : value);
            });
            try (InputStream in = listener.getInputStream()) {
                copy(in, response, exchange);
                if (RouteExchange.endsWithItsConnection(request.getMethod(), answered, answerHeaders)
                        && exchange.programFailed().join()) {
                    // A close-delimited answer that ended because its VM failed is cut short, not whole.
                    throw new AnswerCutShort("the program's answer, which ends with its connection, ended with"
                            + " its request VM's failure: the client's connection is cut");
                }
            }
            status = answered;
        }
        catch (KvmServerRouteException ex) {
            status = ex.getStatusCode().value();
            error = ex;
            throw ex;
        }
        catch (IOException | RuntimeException ex) {
            error = ex;
            throw ex;
        }
        finally {
            if (copier != null) {
                // The copier reads the client's request: it must be done before this request is, or
                // the container would recycle the stream under it (another client's bytes read into
                // this program, or that client's request broken). With the program's connection closed
                // its next write fails; what it waits for is at most the client's next bytes.
                exchange.closeConnection();
                streamed.fail(new CancellationException("the routed request is over"));
                copier.exceptionally((ignored) -> null).join();
            }
            if (buffered != null) {
                buffered.close();
            }
            exchange.finish(status, error);
        }
    }

    /** Copiers reading a client's body now, of every route (for diagnostics and tests). */
    private static final AtomicInteger COPYING = new AtomicInteger();

    static int copying() {
        return COPYING.get();
    }

    /**
     * Copies the client's body to the program's request; a client that fails fails the request,
     * and a body that grows past {@code limit} bytes aborts it ({@link BufferedBody.TooLarge}: 413),
     * whatever the program is doing.
     */
    private static void copyBody(InputStream in, OutputStreamRequestContent body, Request forwarded, long limit) {
        COPYING.incrementAndGet();
        try (OutputStream out = body.getOutputStream()) {
            byte[] buffer = new byte[BUFFER];
            long copied = 0;
            for (int n; (n = in.read(buffer)) >= 0;) {
                copied += n;
                if (copied > limit) {
                    forwarded.abort(new BufferedBody.TooLarge(limit));
                    return;
                }
                out.write(buffer, 0, n);
            }
        }
        catch (IOException ex) {
            body.fail(ex);
        }
        finally {
            COPYING.decrementAndGet();
        }
    }

    /**
     * Reads the client's whole body ({@code length} bytes, -1 when not known).
     * @throws KvmServerRouteException 413 when it is larger than {@code route.max-body-size}, 503
     * when the server's bodies hold all of {@code route.max-buffered-size}
     */
    private BufferedBody readWhole(HttpServletRequest request, long length, RouteExchange exchange)
            throws IOException {
        BufferedBody body = new BufferedBody(this.server.maxBodySize(), this.server.bodyBudget(), length);
        try {
            InputStream in = request.getInputStream();
            byte[] buffer = new byte[BUFFER];
            for (int n; (n = in.read(buffer)) >= 0;) {
                body.write(buffer, 0, n);
            }
            if (body.length() == 0 && isForm(request)) {
                // A filter of the application read the form first (Spring's FormContentFilter does
                // for PUT, PATCH and DELETE; a CSRF check for POST): its fields are the body.
                byte[] form = formBody(request);
                body.write(form, 0, form.length);
                exchange.bodyLength(form.length);
                return body;
            }
            if (body.length() < length) {
                // Not an EOFException, which Spring takes for a client gone (and answers 200).
                throw exchange.badRequest("the request body ended after " + body.length() + " of " + length + " bytes");
            }
            return body;
        }
        catch (IOException | RuntimeException ex) {
            body.close();
            KvmServerRouteException refused = exchange.refusedBody(ex);
            if (refused != null) {
                throw refused;
            }
            throw ex;
        }
    }

    private static boolean isForm(HttpServletRequest request) {
        String type = request.getContentType();
        return type != null && type.toLowerCase(java.util.Locale.ROOT).startsWith("application/x-www-form-urlencoded");
    }

    /**
     * The form's fields as a body, in the request's encoding: the parameters the container parsed,
     * without those of the query string (which stays in the request line).
     */
    private static byte[] formBody(HttpServletRequest request) {
        java.nio.charset.Charset charset = (request.getCharacterEncoding() != null)
                ? java.nio.charset.Charset.forName(request.getCharacterEncoding()) : StandardCharsets.UTF_8;
        org.springframework.util.MultiValueMap<String, String> query = org.springframework.web.util.UriComponentsBuilder
            .newInstance()
            .query(request.getQueryString())
            .build()
            .getQueryParams();
        StringBuilder form = new StringBuilder();
        request.getParameterMap().forEach((name, values) -> {
            List<String> fromQuery = new java.util.ArrayList<>();
            query.forEach((key, raw) -> {
                if (org.springframework.web.util.UriUtils.decode(key, charset).equals(name)) {
                    raw.forEach((value) -> fromQuery.add(
                            (value != null) ? org.springframework.web.util.UriUtils.decode(value.replace('+', ' '), charset) : ""));
                }
            });
            for (String value : values) {
                if (!fromQuery.remove(value)) {
                    form.append(form.isEmpty() ? "" : "&").append(URLEncoder.encode(name, charset))
                        .append('=').append(URLEncoder.encode(value, charset));
                }
            }
        });
        return form.toString().getBytes(StandardCharsets.US_ASCII);
    }

    private static Connection connect(RouteExchange exchange) {
        try {
            return exchange.connect().get();
        }
        catch (ExecutionException ex) {
            throw exchange.failed(ex.getCause());
        }
        catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            throw exchange.failed(ex);
        }
    }

    /**
     * Streams the program's answer to the client, flushing whenever the program has nothing more
     * ready. The program failing mid-answer turns into a 502 or 504 while nothing has been sent;
     * after that only cutting the client's connection (the exception) can say it.
     */
    private static void copy(InputStream in, HttpServletResponse response, RouteExchange exchange)
            throws IOException {
        OutputStream out = response.getOutputStream();
        byte[] buffer = new byte[BUFFER];
        while (true) {
            int n;
            try {
                n = in.read(buffer);
            }
            catch (IOException ex) {
                if (!response.isCommitted()) {
                    response.reset();
                    throw exchange.failed(ex);
                }
                // Only the connection's end can say it now. Not the EOFException itself: Spring takes
                // that for a client gone and ends the exchange quietly, and the container would then
                // keep the connection for the next request, whose answer a client trusting the
                // Content-Length would read as the rest of this one.
                throw new AnswerCutShort("the program's answer broke off after it began (" + ex.getClass().getSimpleName()
                        + "): the client's connection is cut");
            }
            if (n < 0) {
                break;
            }
            out.write(buffer, 0, n);
            if (in.available() == 0) {
                out.flush();
            }
        }
    }

    /**
     * The program's answer broke off after it began: the client's connection must end. Without a
     * stack trace: the container logs it for every such request, and the program decides how many
     * there are (its message says what happened; where in the route is always here).
     */
    static final class AnswerCutShort extends RuntimeException {

        AnswerCutShort(String message) {
            super(message, null, false, false);
        }

    }

    private static ForwardedHeaders.Incoming incoming(HttpServletRequest request) {
        HttpHeaders headers = new HttpHeaders();
        for (String name : Collections.list(request.getHeaderNames())) {
            headers.addAll(name, Collections.list(request.getHeaders(name)));
        }
        return new ForwardedHeaders.Incoming(request.getMethod(), request.getRequestURI(), request.getQueryString(),
                headers, request.getRemoteAddr(), request.getScheme(), request.getLocalPort());
    }

    /** A listener that keeps the answer's head as it came ({@link AnswerHead}). */
    private static final class AnswerListener extends InputStreamResponseListener {

        private volatile AnswerHead head = AnswerHead.NONE;

        @Override
        public void onHeaders(Response response) {
            this.head = AnswerHead.of(response);
            super.onHeaders(response);
        }

    }

}
