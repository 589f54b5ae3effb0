package io.kvmserver.testing;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A server program run natively on the host, as a reference for what the engine must reproduce.
 * Its output goes to a file under {@code target/} so that a failure can show it.
 */
public final class NativeServer implements AutoCloseable {

    private static final long START_SECONDS = 60;

    private final Process process;
    private final Path output;
    private final List<String> command;

    private NativeServer(Process process, Path output, List<String> command) {
        this.process = process;
        this.output = output;
        this.command = command;
    }

    /**
     * Starts {@code command} with {@code env} ({@code NAME=VALUE}) added to this process's
     * environment, and returns once it accepts connections on {@code port}.
     */
    /**
     * Runs the C fixture {@code fixture} ({@link GuestPrograms}) natively on a free port and
     * checks that it answers {@code path} with {@code expected}: the answer the engine must give.
     */
    public static void expectAnswer(String fixture, String path, String expected) {
        int port = TestServer.freePort();
        try (NativeServer natively = start(List.of(GuestPrograms.get(fixture).toString(), Integer.toString(port)),
                List.of(), port)) {
            org.assertj.core.api.Assertions.assertThat(Http.get(port, path)).as(natively.output()).isEqualTo(expected);
        }
    }

    public static NativeServer start(List<String> command, List<String> env, int port) {
        try {
            Path output = Files.createTempFile(Files.createDirectories(Path.of("target/native-servers")), "server", ".log");
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(output.toFile()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            for (String variable : env) {
                int eq = variable.indexOf('=');
                builder.environment().put(variable.substring(0, eq), variable.substring(eq + 1));
            }
            Process p = builder.start();
            NativeServer server = new NativeServer(p, output, command);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(START_SECONDS);
            while (!server.accepts(port)) {
                if (!p.isAlive() || System.nanoTime() > deadline) {
                    server.close();
                    throw new AssertionError(command + (p.isAlive() ? " did not listen on port " + port + " within "
                            + START_SECONDS + " s" : " exited with status " + p.exitValue()) + "\n" + server.output());
                }
                Thread.sleep(20);
            }
            return server;
        } catch (IOException e) {
            throw new IllegalStateException("cannot start " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A bare connection, closed without a request: no server here counts it as one. */
    private boolean accepts(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 1_000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** What the program printed so far. */
    public String output() {
        try {
            return "--- output of " + command + " ---\n" + Files.readString(output, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "<cannot read " + output + ": " + e + ">";
        }
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
