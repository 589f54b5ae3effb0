package io.kvmserver.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Builds the compiled guest servers in {@code src/test/guests} (Go and Rust) into
 * {@code target/guest-programs}, once per test run, with the toolchains {@code .ci/install-guests}
 * installs. Both builds are offline: Go needs only its standard library, Rust takes tokio from
 * Debian's crate registry ({@code src/test/guests/<name>/.cargo/config.toml}).
 */
public final class CompiledGuests {

    private static final Path OUTPUT = Path.of("target/guest-programs");
    private static final ConcurrentHashMap<String, Path> BUILT = new ConcurrentHashMap<>();

    private CompiledGuests() {
    }

    /** The static ({@code CGO_ENABLED=0}) Go program in {@code src/test/guests/<name>}. */
    public static Path go(String name) {
        return BUILT.computeIfAbsent("go:" + name, key -> {
            Path binary = OUTPUT.resolve(name).toAbsolutePath();
            Map<String, String> env = new java.util.HashMap<>(
                    Map.of("CGO_ENABLED", "0", "GOFLAGS", "-mod=mod", "GOPROXY", "off", "GOTOOLCHAIN", "local"));
            if (System.getenv("GOCACHE") == null && System.getenv("HOME") == null && System.getenv("XDG_CACHE_HOME") == null) {
                env.put("GOCACHE", OUTPUT.resolve("go-cache").toAbsolutePath().toString()); // go refuses to build without one
            }
            build(name, List.of(Runtimes.require("go").toString(), "build", "-trimpath", "-o", binary.toString(), "."), env);
            return binary;
        });
    }

    /** The release build of the Cargo package in {@code src/test/guests/<name>}, built offline. */
    public static Path cargo(String name) {
        return BUILT.computeIfAbsent("cargo:" + name, key -> {
            Path targetDir = OUTPUT.resolve("cargo").toAbsolutePath();
            build(name, List.of(Runtimes.require("cargo").toString(), "build", "--release", "--offline", "--quiet",
                    "--target-dir", targetDir.toString()), Map.of());
            return targetDir.resolve("release").resolve(name);
        });
    }

    private static void build(String name, List<String> command, Map<String, String> env) {
        Path directory = Fixtures.directory("guests").resolve(name);
        try {
            Files.createDirectories(OUTPUT);
            ProcessBuilder builder = new ProcessBuilder(command).directory(directory.toFile()).redirectErrorStream(true);
            builder.environment().putAll(env);
            Process p = builder.start();
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IllegalStateException("building the guest " + directory + " failed: " + command + "\n" + output
                        + "\n(the toolchains and crates come from `bash .ci/install-guests`)");
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + command + " in " + directory, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
