package io.kvmserver.autoconfigure.route;

import io.micrometer.observation.Observation;
import java.io.EOFException;
import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.eclipse.jetty.client.AsyncRequestContent;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.client.Result;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.util.Callback;
import org.reactivestreams.Subscription;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferFactory;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.util.ReflectionUtils;
import reactor.adapter.JdkFlowAdapter;
import reactor.core.Exceptions;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * Spring WebFlux's side of a route: forwards the request to a request VM of the server and
 * streams the program's answer back, with back pressure both ways (one buffer in flight each
 * way). It is mapped as a handler method of the application's
 * {@code RequestMappingHandlerMapping}, like a controller's, so that {@code @ControllerAdvice}
 * exception handlers apply to routes. Waiting for a free request VM, and for the report of a VM
 * that gave no answer, happens on the bounded elastic scheduler, never on an event loop. A
 * failure before the answer began is a {@link KvmServerRouteException}, which WebFlux's error
 * handling turns into the response.
 */
final class ReactiveRouteHandler {

    /** The handler method: {@link #handle}. */
    static final Method HANDLE = ReflectionUtils.findMethod(ReactiveRouteHandler.class, "handle",
            ServerWebExchange.class);

    /** Where WebFlux keeps the observation of the server's request in the Reactor context. */
    private static final String CURRENT_OBSERVATION = "micrometer.observation";

    private final KvmServerRoutes routes;

    private final RoutedServer server;

    ReactiveRouteHandler(KvmServerRoutes routes, RoutedServer server) {
        this.routes = routes;
        this.server = server;
    }

    /** Routes one request. */
    public Mono<Void> handle(ServerWebExchange web) {
        return Mono.deferContextual((reactorContext) -> {
            Observation parent = reactorContext.getOrDefault(CURRENT_OBSERVATION, null);
            ServerHttpRequest request = web.getRequest();
            ForwardedHeaders.Incoming incoming = incoming(request);
            long length = incoming.contentLength();
            RouteExchange exchange = new RouteExchange(this.routes, this.server, incoming, parent);
            String type = request.getHeaders().getFirst(HttpHeaders.CONTENT_TYPE);
            Mono<Void> checked = Mono.fromRunnable(() -> {
                exchange.checkHost(incoming);
                exchange.checkBodyLength(length);
            });
            if (length != 0 && this.server.requestBuffering()) {
                // Read before a request VM is taken: a client that sends its body slowly holds no
                // VM that other clients wait for.
                BufferedBody body = new BufferedBody(this.server.maxBodySize(), this.server.bodyBudget(), length);
                Mono<Void> read = checked.thenMany(request.getBody())
                    .publishOn(Schedulers.boundedElastic()) // beyond 64 KiB, a body goes to a file
                    .doOnNext((buffer) -> write(body, buffer))
                    .doOnDiscard(DataBuffer.class, DataBufferUtils::release)
                    .then(Mono.fromCallable(() -> {
                        if (body.length() < length) {
                            throw new EOFException("the client's body ended after " + body.length() + " of " + length
                                    + " bytes");
                        }
                        exchange.body(body.content(type));
                        return body;
                    }))
                    .onErrorMap((ex) -> {
                        Throwable cause = Exceptions.unwrap(ex);
                        KvmServerRouteException refused = exchange.refusedBody(cause);
                        return (refused != null) ? refused : cause;
                    })
                    .then();
                return route(web, exchange, read, null).doFinally((signal) -> body.close());
            }
            AsyncRequestContent body = (length == 0) ? null : new AsyncRequestContent(type) {

                @Override
                public long getLength() {
                    return length; // the program gets the client's Content-Length, not a chunked body
                }

            };
            if (body != null) {
                exchange.body(body);
            }
            return route(web, exchange, checked,
                    (body != null) ? new BodyWriter(body, this.server.maxBodySize()) : null);
        });
    }

    private static void write(BufferedBody body, DataBuffer buffer) {
        byte[] bytes = new byte[buffer.readableByteCount()];
        buffer.read(bytes);
        DataBufferUtils.release(buffer);
        try {
            body.write(bytes, 0, bytes.length);
        }
        catch (IOException ex) {
            throw Exceptions.propagate(ex);
        }
    }

    /**
     * Forwards the request, once {@code before} is done (the body's checks, and its reading when it
     * is buffered), with its body streamed by {@code writer}, if any, and relays the answer.
     */
    private Mono<Void> route(ServerWebExchange web, RouteExchange exchange, Mono<Void> before, BodyWriter writer) {
        ServerHttpRequest request = web.getRequest();
        AtomicInteger status = new AtomicInteger();
        AtomicReference<Throwable> error = new AtomicReference<>();
        // The wait for a request VM holds no thread: waits that held bounded-elastic threads
        // left none for the application's other routes and blocking work.
        Mono<Answer> forwarded = Mono.fromFuture(exchange::admitLater)
            .onErrorMap(CompletionException.class, (ex) -> (ex.getCause() != null) ? ex.getCause() : ex)
            .then(Mono.defer(() -> Mono.fromFuture(exchange.connect())))
            .flatMap((connection) -> {
                Answer answer = new Answer();
                if (writer != null) {
                    request.getBody().subscribe(writer);
                }
                connection.send(exchange.request(), answer);
                return Mono.fromFuture(answer.headers);
            })
            .onErrorResume((ex) -> !(ex instanceof KvmServerRouteException),
                    (ex) -> Mono.fromCallable(() -> exchange.failed(unwrap(ex)))
                        .subscribeOn(Schedulers.boundedElastic())
                        .flatMap(Mono::error));
        return before.then(forwarded)
            .flatMap((answer) -> {
                if (!RouteExchange.isFinalStatus(answer.head.status())) {
                    answer.content.fail(new CancellationException("refused"));
                    return Mono.error(exchange.invalid(answer.head.status()));
                }
                ServerHttpResponse response = web.getResponse();
                status.set(answer.head.status());
                response.setStatusCode(HttpStatusCode.valueOf(answer.head.status()));
                ForwardedHeaders.toClient(answer.head.headers(), this.server.sensitiveHeaders(),
                        response.getHeaders()::add);
                Flux<DataBuffer> body = content(answer.content, response.bufferFactory(),
                        declaredLength(request, answer.head));
                if (RouteExchange.endsWithItsConnection(request.getMethod().name(), answer.head.status(),
                        answer.head.headers())) {
                    // A close-delimited answer that ended because its VM failed is cut short, not whole.
                    body = body.concatWith(Mono.fromFuture(exchange.programFailed())
                        .flatMap((failed) -> failed ? Mono.error(new IOException("the program's answer, which ends with"
                                + " its connection, ended with its request VM's failure")) : Mono.empty()));
                }
                return response.writeWith(body).doOnError((ex) -> ClientConnections.end(response));
            })
            .doOnError((ex) -> {
                error.set(ex);
                if (ex instanceof KvmServerRouteException route) {
                    status.set(route.getStatusCode().value());
                }
            })
            .doFinally((signal) -> {
                if (writer != null) {
                    writer.dispose(); // the request is over: nothing more of its body is read
                }
                exchange.finish(status.get(), error.get());
            });
    }

    /**
     * The length of the body the program's answer declares, or -1 when it has no body whatever its
     * {@code Content-Length} says: an answer to HEAD (which carries the length a GET would get),
     * a 204 and a 304.
     */
    private static long declaredLength(ServerHttpRequest request, AnswerHead answer) {
        int status = answer.status();
        if (HttpMethod.HEAD.equals(request.getMethod()) || status == 204 || status == 304) {
            return -1;
        }
        return answer.headers().getLongField(HttpHeader.CONTENT_LENGTH);
    }

    /**
     * The program's answer as WebFlux buffers: each chunk copied once, read only as WebFlux asks.
     * An answer that ends before its {@code Content-Length} ({@code declared}, or -1) is an error,
     * so that the client's connection ends instead of waiting for bytes that belong to the next
     * answer on it.
     */
    private static Flux<DataBuffer> content(Content.Source source, DataBufferFactory buffers, long declared) {
        AtomicLong relayed = new AtomicLong();
        return JdkFlowAdapter.flowPublisherToFlux(Content.Source.asPublisher(source))
            .filter(Content.Chunk::hasRemaining)
            .map((chunk) -> {
                relayed.addAndGet(chunk.remaining());
                return buffers.wrap(copy(chunk.getByteBuffer()));
            })
            .concatWith(Mono.defer(() -> (declared >= 0 && relayed.get() < declared)
                    ? Mono.error(new IOException("the program's answer ended after " + relayed.get() + " of "
                            + declared + " bytes"))
                    : Mono.empty()));
    }

    private static ByteBuffer copy(ByteBuffer buffer) {
        ByteBuffer copy = ByteBuffer.allocate(buffer.remaining());
        copy.put(buffer).flip();
        return copy;
    }

    private static Throwable unwrap(Throwable failure) {
        Throwable cause = failure;
        while ((cause instanceof CompletionException || cause instanceof ExecutionException)
                && cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause;
    }

    private static ForwardedHeaders.Incoming incoming(ServerHttpRequest request) {
        String remote = (request.getRemoteAddress() != null && request.getRemoteAddress().getAddress() != null)
                ? request.getRemoteAddress().getAddress().getHostAddress() : "unknown";
        int port = (request.getLocalAddress() != null) ? request.getLocalAddress().getPort()
                : request.getURI().getPort();
        return new ForwardedHeaders.Incoming(request.getMethod().name(), request.getURI().getRawPath(),
                request.getURI().getRawQuery(), request.getHeaders(), remote, request.getURI().getScheme(), port);
    }

    /** The program's answer: its headers, and then its content, as Jetty delivers them. */
    private static final class Answer implements Response.Listener {

        private final CompletableFuture<Answer> headers = new CompletableFuture<>();

        private AnswerHead head = AnswerHead.NONE;

        private Content.Source content;

        @Override
        public void onContentSource(Response response, Content.Source contentSource) {
            this.head = AnswerHead.of(response);
            this.content = contentSource;
            this.headers.complete(this);
        }

        @Override
        public void onComplete(Result result) {
            if (result.isFailed()) {
                this.headers.completeExceptionally(result.getFailure());
            }
        }

    }

    /**
     * Writes the client's request body into the program's request, one buffer at a time; a body
     * that grows past {@code limit} bytes fails the request ({@link BufferedBody.TooLarge}: 413).
     */
    private static final class BodyWriter extends BaseSubscriber<DataBuffer> {

        private final AsyncRequestContent content;

        private final long limit;

        private long written;

        BodyWriter(AsyncRequestContent content, long limit) {
            this.content = content;
            this.limit = limit;
        }

        @Override
        protected void hookOnSubscribe(Subscription subscription) {
            request(1);
        }

        @Override
        protected void hookOnNext(DataBuffer buffer) {
            byte[] bytes = new byte[buffer.readableByteCount()];
            buffer.read(bytes);
            DataBufferUtils.release(buffer);
            this.written += bytes.length;
            if (this.written > this.limit) {
                this.content.fail(new BufferedBody.TooLarge(this.limit));
                cancel();
                return;
            }
            this.content.write(ByteBuffer.wrap(bytes), Callback.from(() -> request(1), (failure) -> cancel()));
        }

        @Override
        protected void hookOnComplete() {
            this.content.close();
        }

        @Override
        protected void hookOnError(Throwable failure) {
            this.content.fail(failure);
        }

    }

}
