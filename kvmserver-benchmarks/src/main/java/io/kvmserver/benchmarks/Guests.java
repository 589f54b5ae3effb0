package io.kvmserver.benchmarks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Every guest the server benchmarks know, one declaration each, with the least the engine must
 * allow for it (found by running it with {@code -v}, which logs every denial). The programs come
 * from {@code .ci/install-guests} (Debian's nginx, php and python3) or from {@code run.sh} (the C
 * server); a guest whose program is missing gets a row that says so.
 */
final class Guests {

    private Guests() {
    }

    /**
     * The guests, by key. {@code root} is the repository, {@code cServer} the C server that
     * {@code run.sh} compiled.
     */
    static Map<String, Guest> all(Path root, Path cServer) {
        Path test = root.resolve("kvmserver-engine/src/test");
        Path asyncio = test.resolve("python/asyncio_server.py");
        Path php = test.resolve("guests/php-counter");
        Map<String, Guest> guests = new LinkedHashMap<>();
        // The engine's epoll test server (static): answers "hello".
        add(guests, Guest.of("c", "C epoll server", cServer.toString(), "PORT").answers("hello", "hello"));
        // An unmodified asyncio server: counts the requests its process served.
        add(guests, Guest.of("python", "python3 asyncio", "/usr/bin/python3", asyncio.toString(), "PORT")
                .reads(pythonStdlib(), asyncio.getParent().toString())
                .answers("python served=", "python served=1"));
        // Debian's nginx, one process, `return 200`: reads its own configuration (no /etc/nginx),
        // writes only its pid file. Its temp directories exist already (mkdir answers EEXIST).
        add(guests, Guest.of("nginx", "nginx (return 200)", "/usr/sbin/nginx", "-p", "WORK", "-c", "WORK/nginx.conf",
                "-e", "stderr")
                .reads("WORK").writes("WORK/run").answers("hello", "hello").setup(Guests::nginxConfig));
        // The same with WORK writable: engines before 073b1d2 answered mkdir of an existing directory
        // without write permission with EACCES, not EEXIST; for comparisons with them.
        add(guests, guests.get("nginx").named("nginx-w", "nginx (return 200), WORK writable").writes("WORK"));
        // php -S with Debian's php.ini and opcache, whose hits + misses count the requests served;
        // the opcache lock file goes to WORK/run instead of /tmp.
        add(guests, Guest.of("php", "php -S (opcache)", "/usr/bin/php", "-d", "opcache.lockfile_path=WORK/run",
                "-S", "127.0.0.1:PORT", "-t", php.toString(), php.resolve("router.php").toString())
                .reads("/etc/php", "/usr/lib/php", "/usr/lib/x86_64-linux-gnu", "/usr/share/zoneinfo", "/etc/localtime",
                        php.toString())
                .writes("WORK/run").memoryMiB(1024).answers("", "1").setup((work, port) -> makeDirs(work, "run")));
        return guests;
    }

    private static void add(Map<String, Guest> guests, Guest guest) {
        guests.put(guest.key(), guest);
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
