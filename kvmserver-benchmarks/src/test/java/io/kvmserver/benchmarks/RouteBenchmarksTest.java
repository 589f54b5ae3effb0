package io.kvmserver.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class RouteBenchmarksTest {

    /**
     * The routes benchmark checks every answer of the sample's guest against a fixed body: it
     * must be what the guest prints for its first request, or every routed request counts as a
     * failure (as happened once the sample's greeting changed).
     */
    @Test
    void theExpectedGuestBodyIsWhatTheSamplesGuestPrintsForItsFirstRequest() throws IOException {
        String source = Files.readString(Path.of("..", "sample-app", "src", "main", "c", "hello_server.c"));
        String format = RouteBenchmarks.GUEST_BODY.replace("served: 1\n", "served: %ld\\n");
        assertThat(source).contains('"' + format + '"');
    }
}
