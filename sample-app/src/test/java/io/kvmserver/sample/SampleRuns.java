package io.kvmserver.sample;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.context.ConfigurableApplicationContext;

/** What the sample's tests share: asking the running application over HTTP, reading its log. */
final class SampleRuns {

    private static final HttpClient CLIENT = HttpClient.newHttpClient();

    private SampleRuns() {
    }

    /** GET a path of the application's own web server: its routes, its controller, Actuator. */
    static HttpResponse<String> get(ConfigurableApplicationContext context, String path) throws Exception {
        return CLIENT.send(request(context, path).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** GET a path with basic auth. */
    static HttpResponse<String> get(ConfigurableApplicationContext context, String path, String user,
            String password) throws Exception {
        String credentials = Base64.getEncoder()
            .encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
        return CLIENT.send(request(context, path).header("Authorization", "Basic " + credentials).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static HttpRequest.Builder request(ConfigurableApplicationContext context, String path) {
        int port = context.getEnvironment().getRequiredProperty("local.server.port", Integer.class);
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path));
    }

    /**
     * Checks that a normal run logged nothing at WARN or ERROR and that the server said it had
     * stopped: the log a user of the sample reads.
     */
    static void assertCleanLog(CapturedOutput output) {
        List<String> lines = output.getAll().lines().toList();
        assertThat(lines).as("the log of a normal run").noneMatch((line) -> line.contains(" WARN ")
                || line.contains(" ERROR ") || line.startsWith("WARNING") || line.contains("Exception"));
        assertThat(lines).anyMatch((line) -> line.contains("kvmserver: stopped "));
    }

}
