package io.kvmserver.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Compiles the C guest programs ({@code src/test/c} of the engine, see {@link Fixtures}) with the host's {@code gcc}, once per test
 * run, into {@code target/guest-programs}: the real programs the tests run in the VM.
 */
public final class GuestPrograms {

    /** How a fixture is linked. */
    public enum Linking {
        STATIC("-static"), STATIC_PIE("-static-pie"), DYNAMIC("-no-pie"), PIE("-pie");

        private final String flag;

        Linking(String flag) {
            this.flag = flag;
        }
    }

    private static final Path OUTPUT = Path.of("target/guest-programs");
    private static final ConcurrentHashMap<String, Path> BUILT = new ConcurrentHashMap<>();

    private GuestPrograms() {
    }

    /** The fixture {@code name.c} built with {@code linking}; compiled on first use. */
    public static Path get(String name, Linking linking) {
        return BUILT.computeIfAbsent(name + "-" + linking, key -> compile(name, linking));
    }

    public static Path get(String name) {
        return get(name, Linking.STATIC);
    }

    /** Where the C fixtures are, as a directory (see {@link Fixtures}). */
    public static Path sourceDirectory() {
        return Fixtures.directory("c");
    }

    private static Path compile(String name, Linking linking) {
        Path source = sourceDirectory().resolve(name + ".c");
        Path binary = OUTPUT.resolve(name + "-" + linking.name().toLowerCase()).toAbsolutePath();
        try {
            Files.createDirectories(OUTPUT);
            List<String> command = new ArrayList<>(List.of("gcc", "-O2", "-g", "-Wall", "-o", binary.toString(),
                    linking.flag, source.toString()));
            if (linking == Linking.PIE) {
                command.add(2, "-fPIE");
            }
            Process gcc = new ProcessBuilder(command).redirectErrorStream(true).start();
            String output = new String(gcc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!gcc.waitFor(120, TimeUnit.SECONDS) || gcc.exitValue() != 0) {
                throw new IllegalStateException("gcc failed for " + source + ":\n" + output);
            }
            return binary;
        } catch (IOException e) {
            throw new IllegalStateException("cannot run gcc (is it installed?) for " + source, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
