package io.kvmserver.testing;

import java.nio.file.Path;
import java.util.List;

/**
 * The runtimes issue 10 must serve, each with its fixture from {@code src/test/guests} and the
 * permissions it needs (read from {@code strace} of a native run). Every runtime comes from
 * {@code .ci/install-guests}; one that is missing fails the test ({@link Runtimes#require}).
 */
public final class RuntimeGuests {

    private static final Path GUESTS = Fixtures.directory("guests");
    private static final String HTTP_GET = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    /** V8 and JavaScriptCore reserve GiBs of address space at start-up: the CLI's default range. */
    private static final long JIT_MEMORY = 8L << 30;
    private static final long MEMORY = 1L << 30;

    private RuntimeGuests() {
    }

    /** deno 2, {@code Deno.serve}. */
    public static RuntimeGuest deno() {
        Path deno = Runtimes.require("deno");
        Path script = GUESTS.resolve("deno-counter/counter.js");
        // npm links /usr/bin/deno to the binary in its package directory, bun to bin/bun.exe in its.
        // DENO_NO_UPDATE_CHECK: deno would otherwise resolve and contact its release server.
        // DENO_DIR: its cache, which it must be able to create (there is no HOME in the guest).
        Path cache = scratch("deno-dir");
        return new RuntimeGuest("deno", deno, List.of("run", "--allow-net=127.0.0.1", script.toString(), "PORT"),
                List.of(Runtimes.realPath(deno).getParent().toString(), script.getParent().toString()),
                List.of(cache.toString()), List.of("DENO_NO_UPDATE_CHECK=1", "NO_COLOR=1", "DENO_DIR=" + cache),
                JIT_MEMORY, HTTP_GET, true, Integer::toString);
    }

    /** A directory of the tests' own under target/, for a guest's cache. */
    private static Path scratch(String name) {
        Path dir = Path.of("target", name).toAbsolutePath();
        try {
            java.nio.file.Files.createDirectories(dir);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return dir;
    }

    /**
     * node with its {@code http} module. Only the script's own directory is granted: node resolves
     * the script's real path by {@code lstat} of each ancestor, which the engine answers for the
     * directories on the way to a grant (before, node died with "ENOENT: lstat" of the first).
     * Its libraries (Debian's libnode, or a static build) need no grant of their own.
     */
    public static RuntimeGuest node() {
        Path node = Runtimes.require("node");
        Path script = GUESTS.resolve("node-counter/counter.js");
        return new RuntimeGuest("node", node, List.of(script.toString(), "PORT"),
                List.of(Runtimes.realPath(node).getParent().toString(), script.getParent().toString()), List.of(),
                List.of("NO_COLOR=1"), JIT_MEMORY, HTTP_GET, true, Integer::toString);
    }

    /** bun with its default settings (concurrent GC on), {@code Bun.serve}. */
    public static RuntimeGuest bun() {
        Path bun = Runtimes.require("bun");
        Path script = GUESTS.resolve("bun-counter/counter.js");
        return new RuntimeGuest("bun", bun, List.of(script.toString(), "PORT"),
                List.of(Runtimes.realPath(bun).getParent().getParent().toString(), script.getParent().toString()),
                List.of(), List.of("NO_COLOR=1"), JIT_MEMORY, HTTP_GET, true, Integer::toString);
    }

    /** A static ({@code CGO_ENABLED=0}) Go net/http server. */
    public static RuntimeGuest go() {
        return new RuntimeGuest("go", CompiledGuests.go("go-counter"), List.of("PORT"), List.of(), List.of(), List.of(),
                MEMORY,
                HTTP_GET, true, Integer::toString);
    }

    /** A Rust server on tokio's multi-thread runtime, built offline from Debian's crates. */
    public static RuntimeGuest tokio() {
        return new RuntimeGuest("tokio", CompiledGuests.cargo("tokio-counter"), List.of("PORT"), List.of(), List.of(), List.of(),
                MEMORY, HTTP_GET, true, Integer::toString);
    }

    /** {@code php -S} with Debian's default configuration, opcache on. */
    public static RuntimeGuest php() {
        Path php = Runtimes.require("php");
        Path router = GUESTS.resolve("php-counter/router.php");
        // Reads php.ini and conf.d, the extension modules (opcache.so) and the libraries they
        // load (libffi, libedit: not the program's own DT_NEEDED), and the time zone database PHP
        // scans when date.timezone is unset. Writes opcache's lock file in /tmp, its default
        // opcache.lockfile_path (created and unlinked at start-up). -t: the document root is the
        // fixture's directory, not the working directory, which the guest may not read.
        return new RuntimeGuest("php", php, List.of("-S", "127.0.0.1:PORT", "-t", router.getParent().toString(),
                router.toString()),
                List.of("/etc/php", "/usr/lib/php", "/usr/lib/x86_64-linux-gnu", "/usr/share/zoneinfo", "/etc/localtime",
                        router.getParent().toString()),
                List.of("/tmp"), List.of(), MEMORY, HTTP_GET, true, Integer::toString);
    }

    /**
     * {@code python3 -m http.server}, unmodified: a thread per connection. It keeps no state a
     * client can see, so the answer is the file it serves, whatever it served before.
     */
    public static RuntimeGuest pythonHttpServer() {
        Path python = Path.of("/usr/bin/python3");
        if (!python.toFile().canExecute()) {
            throw new IllegalStateException("/usr/bin/python3 is not installed: run `bash .ci/install-guests`");
        }
        Path real = Runtimes.realPath(python);
        Path stdlib = real.getParent().getParent().resolve("lib").resolve(real.getFileName().toString());
        Path www = GUESTS.resolve("python-http-server/www");
        return new RuntimeGuest("python3 -m http.server", python,
                List.of("-m", "http.server", "--bind", "127.0.0.1", "--directory", www.toString(), "PORT"),
                List.of(stdlib.toString(), "/etc/mime.types", www.toString()), List.of(), List.of(), MEMORY,
                "GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", true,
                n -> "served by python3 -m http.server\n");
    }

    /** redis-server without persistence: {@code INCR} answers how often this process counted. */
    public static RuntimeGuest redis() {
        return new RuntimeGuest("redis-server", Runtimes.require("redis-server"),
                List.of("--port", "PORT", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
                List.of(), List.of(), List.of(), MEMORY, "INCR counter\r\nQUIT\r\n", false, n -> ":" + n + "\r\n+OK\r\n");
    }
}
