package io.kvmserver.benchmarks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Every guest the server benchmarks know, one declaration each, with the least the engine must
 * allow for it (found by running it with {@code -v}, which logs every denial). The programs come
 * from {@code .ci/install-guests} (Debian's nginx, php, python3 and redis, npm's deno and bun) or
 * from {@code run.sh} (the C, Go and Rust servers); a guest whose program is missing gets a row
 * that says so.
 */
final class Guests {

    private Guests() {
    }

    /**
     * The guests, by key. {@code root} is the repository, {@code programs} the directory of the
     * servers {@code run.sh} compiled: {@code http_server} (C), {@code go-counter},
     * {@code tokio-counter}.
     */
    static Map<String, Guest> all(Path root, Path programs) {
        Path test = root.resolve("kvmserver-engine/src/test");
        Path asyncio = test.resolve("python/asyncio_server.py");
        Path fixtures = test.resolve("guests");
        Path php = fixtures.resolve("php-counter");
        Map<String, Guest> guests = new LinkedHashMap<>();
        // The engine's epoll test server (static): answers "hello".
        add(guests, Guest.of("c", "C epoll server", programs.resolve("http_server").toString(), "PORT"));
        // An unmodified asyncio server: counts the requests its process served.
        add(guests, Guest.of("python", "python3 asyncio", "/usr/bin/python3", asyncio.toString(), "PORT")
                .reads(pythonStdlib(), asyncio.getParent().toString()).counts("python served="));
        // Debian's nginx, one process, `return 200`: reads its own configuration (no /etc/nginx),
        // writes only its pid file. Its temp directories exist already (mkdir answers EEXIST).
        add(guests, Guest.of("nginx", "nginx (return 200)", "/usr/sbin/nginx", "-p", "WORK", "-c", "WORK/nginx.conf",
                "-e", "stderr")
                .reads("WORK").writes("WORK/run").setup(Guests::nginxConfig));
        // The same with WORK writable: engines before 073b1d2 answered mkdir of an existing directory
        // without write permission with EACCES, not EEXIST; for comparisons with them.
        add(guests, guests.get("nginx").named("nginx-w", "nginx (return 200), WORK writable").writes("WORK"));
        // php -S with Debian's php.ini and opcache, whose hits + misses count the requests served;
        // the opcache lock file goes to WORK/run instead of /tmp.
        add(guests, Guest.of("php", "php -S (opcache)", "/usr/bin/php", "-d", "opcache.lockfile_path=WORK/run",
                "-S", "127.0.0.1:PORT", "-t", php.toString(), php.resolve("router.php").toString())
                .reads("/etc/php", "/usr/lib/php", "/usr/lib/x86_64-linux-gnu", "/usr/share/zoneinfo", "/etc/localtime",
                        php.toString())
                .writes("WORK/run").memoryMiB(1024).counts("").setup((work, port) -> makeDirs(work, "run")));
        runtimes(guests, fixtures, programs);
        return guests;
    }

    /**
     * Issue 10's runtimes, serving the engine's runtime test fixtures ({@code src/test/guests},
     * {@code RuntimeGuests}) with the same permissions: each answers with a counter of the
     * requests its process served, except python's http.server (a file) and redis (INCR over the
     * redis protocol). The JIT runtimes reserve GiBs of address space: the default 8 GiB range.
     */
    private static void runtimes(Map<String, Guest> guests, Path fixtures, Path programs) {
        add(guests, Guest.of("go", "Go net/http (static)", programs.resolve("go-counter").toString(), "PORT")
                .memoryMiB(1024).counts(""));
        add(guests, Guest.of("tokio", "Rust tokio multi-thread", programs.resolve("tokio-counter").toString(), "PORT")
                .memoryMiB(1024).counts(""));
        // INCR counts per process; the engine's warmup requests are HTTP, which redis refuses
        // ("Possible SECURITY ATTACK") without counting: a warmed template still answers 1.
        add(guests, Guest.of("redis", "redis-server (INCR)", onPath("redis-server"), "--port", "PORT",
                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
                .memoryMiB(1024).with(new Guest.Exchange("INCR counter\r\nQUIT\r\n", false, "/", ":",
                        warmup -> ":1\r\n+OK\r\n")));
        // ThreadingHTTPServer: a thread per connection, serving a file whatever it served before.
        Path www = fixtures.resolve("python-http-server/www");
        String served = "served by python3 -m http.server\n";
        add(guests, Guest.of("python-http", "python3 -m http.server", "/usr/bin/python3", "-m", "http.server",
                "--bind", "127.0.0.1", "--directory", www.toString(), "PORT")
                .reads(pythonStdlib(), "/etc/mime.types", www.toString()).memoryMiB(1024)
                .path("/hello.txt").answers(served, served));
        // npm links /usr/bin/bun to bin/bun.exe in its package directory, /usr/bin/deno to the
        // binary in its. Bun with its default settings (concurrent GC on).
        Path bunScript = fixtures.resolve("bun-counter/counter.js");
        String bun = onPath("bun");
        add(guests, Guest.of("bun", "bun (Bun.serve)", bun, bunScript.toString(), "PORT")
                .reads(realParent(bun, 2), bunScript.getParent().toString()).env("NO_COLOR=1")
                .memoryMiB(8192).counts(""));
        // DENO_NO_UPDATE_CHECK: deno would otherwise resolve and contact its release server.
        // DENO_DIR: its cache, which it must be able to create (there is no HOME in the guest).
        Path denoScript = fixtures.resolve("deno-counter/counter.js");
        String deno = onPath("deno");
        add(guests, Guest.of("deno", "deno 2 (Deno.serve)", deno, "run", "--allow-net=127.0.0.1",
                denoScript.toString(), "PORT")
                .reads(realParent(deno, 1), denoScript.getParent().toString())
                .writes("WORK/deno").env("DENO_NO_UPDATE_CHECK=1", "NO_COLOR=1", "DENO_DIR=WORK/deno")
                .memoryMiB(8192).counts("").setup((work, port) -> makeDirs(work, "deno")));
    }

    private static void add(Map<String, Guest> guests, Guest guest) {
        guests.put(guest.key(), guest);
    }

    /**
     * The first {@code command} on the PATH, links unresolved (redis-server is a link whose name
     * chooses what it runs), or /usr/bin/command when there is none: its row says it is missing.
     */
    private static String onPath(String command) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            Path candidate = Path.of(dir.isEmpty() ? "." : dir, command);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return candidate.toAbsolutePath().toString();
            }
        }
        return "/usr/bin/" + command;
    }

    /** The directory {@code levels} up from what {@code program} links to (the package it belongs to). */
    private static String realParent(String program, int levels) {
        Path p = Path.of(program);
        try {
            p = p.toRealPath();
        } catch (IOException e) {
            // not installed: the run reports that
        }
        for (int i = 0; i < levels && p.getParent() != null; i++) {
            p = p.getParent();
        }
        return p.toString();
    }

    /** /usr/lib/python3.11 for /usr/bin/python3 → python3.11. */
    private static String pythonStdlib() {
        Path python = Path.of("/usr/bin/python3");
        try {
            Path real = python.toRealPath();
            return real.getParent().getParent().resolve("lib").resolve(real.getFileName()).toString();
        } catch (IOException e) {
            return "/usr/lib/python3"; // not installed: the run reports that
        }
    }

    /** One process, no daemon, errors on stderr, no access log, everything under WORK. */
    private static void nginxConfig(Path work, int port) throws IOException {
        makeDirs(work, "run", "temp/client", "temp/proxy", "temp/fastcgi", "temp/uwsgi", "temp/scgi");
        String temp = work.resolve("temp").toString();
        Files.writeString(work.resolve("nginx.conf"), String.join("\n",
                "daemon off;",
                "master_process off;",
                "worker_processes 1;",
                "error_log stderr warn;",
                "pid " + work.resolve("run/nginx.pid") + ";",
                "events { worker_connections 64; }",
                "http {",
                "  access_log off;",
                "  client_body_temp_path " + temp + "/client;",
                "  proxy_temp_path " + temp + "/proxy;",
                "  fastcgi_temp_path " + temp + "/fastcgi;",
                "  uwsgi_temp_path " + temp + "/uwsgi;",
                "  scgi_temp_path " + temp + "/scgi;",
                "  server {",
                "    listen 127.0.0.1:" + port + ";",
                "    location / { default_type text/plain; return 200 \"hello\"; }",
                "  }",
                "}", ""));
    }

    private static void makeDirs(Path work, String... dirs) throws IOException {
        for (String d : dirs) {
            Files.createDirectories(work.resolve(d));
        }
    }
}
