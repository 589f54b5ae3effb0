package io.kvmserver.benchmarks;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.SocketAddress;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a route adds, in one run of the sample application ({@code sample-app.jar}, a Spring Boot
 * application on Tomcat with Spring Security): one request per new connection to
 *
 * <ul>
 * <li>its plain Spring controller, {@code /spring};</li>
 * <li>its route {@code /guest/}: Tomcat, the security filter chain and Spring MVC, then Jetty's
 * client to a fresh request VM of the bundled C server through the route's private socket;</li>
 * <li>the same guest reached directly: the same request VMs, through the same private socket
 * (which the application logs at start), without the application.</li>
 * </ul>
 *
 * The application runs in a JVM of its own, started by this harness (and pinned with it when the
 * harness is). Usage: {@code RouteBenchmarks --app /abs/sample-app.jar [--requests 3000]
 * [--warmup 1000] [--max-seconds 60] [--rounds 3] [--title TEXT] [--java java]}.
 */
public final class RouteBenchmarks {

    private static final Pattern SOCKET = Pattern.compile("privately, on unix socket (\\S+) with");

    static final String GUEST_BODY = "Hello from a KVM-isolated C server! Requests this process has served: 1\n";

    /** One target and what it measured, over every round. */
    private record Target(String name, LoadClient client, List<long[]> rounds) {
    }

    public static void main(String[] argv) throws Exception {
        Args args = new Args(argv);
        Path app = Path.of(args.required("app")).toAbsolutePath();
        int requests = args.getInt("requests", 3000);
        int warmup = args.getInt("warmup", 1000);
        int rounds = args.getInt("rounds", 3);
        double maxSeconds = args.getDouble("max-seconds", 60);
        String title = args.get("title", "routes");
        int port = freePort();
        Process process = new ProcessBuilder(args.get("java", "java"), "-XX:+UseSerialGC", "-Xms256m", "-Xmx256m",
                "-jar", app.toString(), "--server.port=" + port, "--spring.main.banner-mode=off")
            .redirectErrorStream(true)
            .start();
        try {
            Path socket = awaitStart(process);
            List<Target> targets = List.of(
                    target("plain Spring controller (/spring)", new InetSocketAddress("127.0.0.1", port), "/spring",
                            "Hello from Spring!\n"),
                    target("routed request (/guest/, through the application)", new InetSocketAddress("127.0.0.1",
                            port), "/guest/", GUEST_BODY),
                    target("the same guest reached directly (the route's unix socket)",
                            UnixDomainSocketAddress.of(socket), "/guest/", GUEST_BODY));
            long served0 = vmRequests(port);
            List<String> failures = new ArrayList<>();
            for (Target t : targets) {
                System.err.println("[routes] warming up " + t.name() + " ...");
                t.client().run(warmup, maxSeconds, LoadClient.Pause.NONE);
            }
            // Rounds interleave the targets, so that a slow phase of the machine hits all three alike.
            int measured = 0;
            for (int round = 0; round < rounds; round++) {
                for (Target t : targets) {
                    System.err.println("[routes] round " + (round + 1) + ": " + t.name() + " ...");
                    LoadClient.Result r = t.client().run(requests, maxSeconds, LoadClient.Pause.NONE);
                    t.rounds().add(r.raw());
                    if (r.failed() > 0) {
                        failures.add(t.name() + ": " + r.failed() + " failed, first: " + r.firstFailure());
                    }
                    if (!t.name().startsWith("plain")) {
                        measured += r.ok();
                    }
                }
            }
            long served = vmRequests(port) - served0;
            print(title, targets, warmup, served, measured + 2L * warmup, failures);
        } finally {
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }

    private static Target target(String name, SocketAddress address, String path, String body) {
        return new Target(name, new LoadClient(address, Guest.Exchange.get(path, body, warmup -> body), body), new ArrayList<>());
    }

    /** Waits until the application has started; returns the route's unix socket from its log. */
    private static Path awaitStart(Process process) throws IOException {
        BufferedReader out = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        Path socket = null;
        String line;
        while ((line = out.readLine()) != null) {
            Matcher m = SOCKET.matcher(line);
            if (m.find()) {
                socket = Path.of(m.group(1));
            }
            if (line.contains("Started SampleApplication")) {
                break;
            }
            if (line.contains("APPLICATION FAILED TO START")) {
                throw new IllegalStateException("the application failed to start: " + line);
            }
        }
        if (socket == null) {
            throw new IllegalStateException("the application did not log its route socket");
        }
        Thread drain = new Thread(() -> {
            try {
                out.transferTo(java.io.Writer.nullWriter());
            } catch (IOException ignored) {
                // the application stopped
            }
        }, "app-output");
        drain.setDaemon(true);
        drain.start();
        return socket;
    }

    /** Requests served by the application's request VMs so far, from its Actuator endpoint. */
    private static long vmRequests(int port) throws Exception {
        URI endpoint = URI.create("http://127.0.0.1:" + port + "/actuator/kvmserver/default");
        String json = HttpClient.newHttpClient()
            .send(HttpRequest.newBuilder(endpoint).build(), HttpResponse.BodyHandlers.ofString())
            .body();
        Matcher m = Pattern.compile("\"stats\":\\{\"requests\":(\\d+)").matcher(json);
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    private static void print(String title, List<Target> targets, int warmup, long served, long sent,
            List<String> failures) {
        StringBuilder b = new StringBuilder();
        b.append("\n#### ").append(title).append("\n\n");
        b.append("| target | requests | average | p50 | p90 | p99 |\n|---|---:|---:|---:|---:|---:|\n");
        for (Target t : targets) {
            int count = t.rounds().stream().mapToInt((r) -> r.length).sum();
            long[] all = new long[count];
            int at = 0;
            for (long[] r : t.rounds()) {
                System.arraycopy(r, 0, all, at, r.length);
                at += r.length;
            }
            b.append("| ").append(t.name()).append(" | ").append(count).append(" | ")
                .append(Latencies.of(all).cells()).append(" |\n");
        }
        b.append("\nRequests the request VMs served during the measurement: ").append(served)
            .append(" (sent to the guest, warmup included: ").append(sent).append(").\n");
        failures.forEach((f) -> b.append("\nFailures, ").append(f).append('\n'));
        System.out.println(b);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

}
