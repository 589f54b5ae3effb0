package io.kvmserver.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.RequiresKvm;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The harness's configurations run for real: real guests (python3, its http.server and redis-server from
 * {@code .ci/install-guests}) in the engine and natively, through the load client, with the
 * declared answers. A short run each; the numbers are not looked at, the answers and the
 * measurements' presence are.
 */
@RequiresKvm
class ServerBenchmarksKvmTest {

    /** The repository: surefire runs in the module's directory. */
    private static final Map<String, Guest> GUESTS = Guests.all(Path.of("..").toAbsolutePath().normalize(),
            Path.of("target/no-programs").toAbsolutePath());

    @TempDir
    Path work;

    private ServerBenchmarks.Row run(Guest guest, String config) {
        return ServerBenchmarks.runOne(guest, ServerBenchmarks.config(config), new ServerBenchmarks.Run(5, 1, 30, work));
    }

    private static void assertServedEveryRequest(ServerBenchmarks.Row row) {
        assertThat(row.failure()).as("failure").isNull();
        assertThat(row.result().failed()).as(() -> "failed; first: " + row.result().firstFailure()).isZero();
        assertThat(row.result().ok()).isEqualTo(5);
        assertThat(row.startNanos()).isPositive();
    }

    /** The template served 3 warmup requests: every request VM answers the template's 4th. */
    @Test
    void aWarmedTemplateAnswersOneMoreThanItsWarmupRequestsInEveryRequestVm() {
        ServerBenchmarks.Row row = run(GUESTS.get("python"), "e1-w3");
        assertServedEveryRequest(row);
        assertThat(row.memory().templateRss()).isPositive();
        assertThat(row.memory().vmRss()).isPositive();
        assertThat(row.memory().nativeRss()).isNegative();
    }

    /** The counterpart: had the warmup not reached the engine, the check above could not pass. */
    @Test
    void aWarmedTemplateDoesNotAnswerAsAColdOne() {
        Guest coldExpectation = GUESTS.get("python")
                .with(Guest.Exchange.get("/", "python served=", warmup -> "python served=1"));
        ServerBenchmarks.Row row = run(coldExpectation, "e1-w3");
        assertThat(row.result().ok()).isZero();
        assertThat(row.result().firstFailure()).isEqualTo("unexpected body: python served=4");
    }

    /** redis over its own protocol, in a warmed template: the HTTP warmup requests did not count. */
    @Test
    void redisAnswersIncrOverItsProtocolInAWarmedTemplate() {
        assertServedEveryRequest(run(GUESTS.get("redis"), "e1-w2"));
    }

    /** A thread per connection, HTTP/1.0 answers, a path of its own that the warmup asks for too. */
    @Test
    void pythonsHttpServerServesItsFileFromAWarmedTemplate() {
        assertServedEveryRequest(run(GUESTS.get("python-http"), "e1-w2"));
    }

    @Test
    void redisNativelyCountsAndReportsItsResidentMemory() {
        ServerBenchmarks.Row row = run(GUESTS.get("redis"), "native");
        assertServedEveryRequest(row);
        assertThat(row.memory().nativeRss()).isPositive();
        assertThat(row.memory().templateRss()).isNegative();
    }

    @Test
    void aMissingProgramGetsARowThatSaysSo() {
        ServerBenchmarks.Row row = run(GUESTS.get("go"), "e1");
        assertThat(row.failure()).startsWith(Path.of("target/no-programs/go-counter").toAbsolutePath() + " is missing");
    }
}
