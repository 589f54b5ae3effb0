package io.kvmserver.testing;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.linux.GuestConsole;
import io.kvmserver.server.KvmServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/** A real {@link KvmServer} on a free loopback port, and a plain HTTP/1.1 client for it. */
public final class TestServer implements AutoCloseable {

    private final KvmServer server;
    private final int port;

    private TestServer(KvmServer server, int port) {
        this.server = server;
        this.port = port;
    }

    /**
     * Starts {@code program port extraArgs...} with the given options. Options that set their own
     * args may write {@code PORT} where the port goes, alone or as {@code HOST:PORT}.
     */
    public static TestServer start(Path program, List<String> extraArgs, UnaryOperator<KvmServerOptions.Builder> options) {
        return start(program, extraArgs, options, (stream, address, length) -> length);
    }

    /** As {@link #start(Path, List, UnaryOperator)}, with the guest's stdout and stderr going to {@code console}. */
    public static TestServer start(Path program, List<String> extraArgs, UnaryOperator<KvmServerOptions.Builder> options,
            GuestConsole console) {
        return start(freePort(), program, extraArgs, options, console);
    }

    /** As {@link #start(Path, List, UnaryOperator, GuestConsole)} on {@code port}, which clients may know before it starts. */
    public static TestServer start(int port, Path program, List<String> extraArgs,
            UnaryOperator<KvmServerOptions.Builder> options, GuestConsole console) {
        List<String> args = new java.util.ArrayList<>();
        args.add(Integer.toString(port));
        args.addAll(extraArgs);
        KvmServerOptions configured = options.apply(KvmServerOptions.builder()
                .program(program.toString())
                .args(args)
                .cwd(Path.of("").toAbsolutePath().toString())
                .allowListen(List.of("127.0.0.1:" + port))
                .maxBootTime(Duration.ofSeconds(30))
                .maxRequestTime(Duration.ofSeconds(10))
                .maxMainMemory(1L << 30)).build();
        KvmServerOptions built = configured.toBuilder().args(configured.args().stream()
                .map(a -> withPort(a, port)).toList()).build();
        return new TestServer(KvmServer.start(built, console, Map.of()), port);
    }

    /** {@code arg} with the placeholder {@code PORT} (alone, or in {@code HOST:PORT}) replaced by {@code port}. */
    public static String withPort(String arg, int port) {
        if (arg.equals("PORT")) {
            return Integer.toString(port);
        }
        return arg.endsWith(":PORT") ? arg.substring(0, arg.length() - "PORT".length()) + port : arg;
    }

    public static int freePort() {
        return Http.freePort();
    }

    public KvmServer server() {
        return server;
    }

    public int port() {
        return port;
    }

    /** GET {@code path} on a new connection; returns the body, or the exception's class name. */
    public String get(String path) {
        return Http.get(port, path);
    }

    /**
     * Sends {@code request} on a new connection and returns everything the server sends until it
     * closes the connection, or the exception's class name.
     */
    public String exchange(String request) {
        return exchange(port, request);
    }

    /** {@link #exchange(String)} with any server on a loopback port. */
    public static String exchange(int port, String request) {
        return exchange(port, request, false);
    }

    /**
     * {@link #exchange(String)}, ending the stream after the request ({@code shutdownOutput}) when
     * {@code endStream}: the server reads the end of the stream after the request.
     */
    public String exchange(String request, boolean endStream) {
        return exchange(port, request, endStream);
    }

    private static String exchange(int port, String request, boolean endStream) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
            s.setSoTimeout(15_000);
            OutputStream out = s.getOutputStream();
            out.write(request.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            if (endStream) {
                s.shutdownOutput();
            }
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "ERROR:" + e.getClass().getSimpleName();
        }
    }

    @Override
    public void close() {
        server.close(Duration.ofSeconds(5));
    }
}
