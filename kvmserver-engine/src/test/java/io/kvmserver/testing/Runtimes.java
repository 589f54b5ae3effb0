package io.kvmserver.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Finds the guest runtimes and build tools that {@code .ci/install-guests} installs (deno, bun,
 * redis-server, php, go, cargo, ...). A missing one fails the test that needs it with a message
 * that says how to install it; it never skips the test, so a CI machine without it cannot pass.
 */
public final class Runtimes {

    private Runtimes() {
    }

    /**
     * The first {@code command} on the PATH, as found: links are not resolved, because some
     * programs choose what to be by the name they are run as ({@code redis-server} links to
     * {@code redis-check-rdb}, {@code cargo} to {@code rustup}). Use {@link #realPath} for the
     * directories a guest must be allowed to read.
     */
    public static Path require(String command) {
        String path = System.getenv().getOrDefault("PATH", "");
        for (String dir : path.split(":")) {
            Path candidate = Path.of(dir.isEmpty() ? "." : dir, command);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return candidate.toAbsolutePath();
            }
        }
        throw new IllegalStateException("'" + command + "' is not installed (not on PATH=" + path + "). "
                + "Install the guest runtimes the tests need with `bash .ci/install-guests` (as root; "
                + ".ci/run does it in CI): these tests fail instead of skipping when one is missing.");
    }

    /** {@code path} with every symbolic link resolved. */
    public static Path realPath(Path path) {
        try {
            return path.toRealPath();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
