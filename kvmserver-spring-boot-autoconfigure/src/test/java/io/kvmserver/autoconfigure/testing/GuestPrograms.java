package io.kvmserver.autoconfigure.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Real guest programs for the tests, compiled statically with the host's gcc on first use into
 * {@code target/guest-programs}: the engine's test HTTP server and this module's small programs
 * in {@code src/test/c}.
 */
public final class GuestPrograms {

    private static final Map<String, Path> SOURCES = Map.of("http_server",
            Path.of("../kvmserver-engine/src/test/c/http_server.c"), "boot_loop", Path.of("src/test/c/boot_loop.c"),
            "not_a_server", Path.of("src/test/c/not_a_server.c"), "probing_server",
            Path.of("src/test/c/probing_server.c"));

    private static final Path OUTPUT = Path.of("target/guest-programs");

    private static final Map<String, Path> BUILT = new ConcurrentHashMap<>();

    private GuestPrograms() {
    }

    /**
     * The HTTP server: {@code [port] [state-dir]}, answers {@code /} with {@code hello}, {@code /counter}
     * with counters, spins on {@code /loop}.
     */
    public static Path httpServer() {
        return get("http_server");
    }

    /** Spins forever without listening. */
    public static Path bootLoop() {
        return get("boot_loop");
    }

    /** Prints "not a server after all" and exits with status 3. */
    public static Path notAServer() {
        return get("not_a_server");
    }

    /**
     * {@code <port> [boot-delay-ms]}: probes nscd and DNS and reads /etc/hostname as libc programs
     * do, waits the delay, then answers {@code hello} on 127.0.0.1:port.
     */
    public static Path probingServer() {
        return get("probing_server");
    }

    public static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
        catch (IOException ex) {
            throw new IllegalStateException(ex);
        }
    }

    private static Path get(String name) {
        return BUILT.computeIfAbsent(name, GuestPrograms::compile);
    }

    private static Path compile(String name) {
        Path source = SOURCES.get(name).toAbsolutePath().normalize();
        Path binary = OUTPUT.resolve(name).toAbsolutePath();
        try {
            Files.createDirectories(OUTPUT);
            Process gcc = new ProcessBuilder(
                    List.of("gcc", "-O2", "-Wall", "-static", "-o", binary.toString(), source.toString()))
                .redirectErrorStream(true)
                .start();
            String output = new String(gcc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!gcc.waitFor(120, TimeUnit.SECONDS) || gcc.exitValue() != 0) {
                throw new IllegalStateException("gcc failed for " + source + ":\n" + output);
            }
            return binary;
        }
        catch (IOException ex) {
            throw new IllegalStateException("cannot run gcc (is it installed?) for " + source, ex);
        }
        catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(ex);
        }
    }

}
