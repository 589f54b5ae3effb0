package io.kvmserver.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The configurations, among them ephemeral with warmup, and the summary's start and memory columns. */
class ServerBenchmarksTest {

    private static final Map<String, Guest> GUESTS = Guests.all(Path.of("/repo"), Path.of("/built"));

    @Test
    void e1WithANumberIsEphemeralThreadsOneWithThatManyWarmupRequests() {
        ServerBenchmarks.Config warmed = ServerBenchmarks.config("e1-w20");
        assertThat(warmed.templateWarmup()).isEqualTo(20);
        assertThat(warmed.ephemeral()).isTrue();
        assertThat(warmed.threads()).isEqualTo(1);
        assertThat(warmed.name()).isEqualTo("kvmserver ephemeral threads=1 --warmup 20");
        assertThat(ServerBenchmarks.config("e1").templateWarmup()).isZero();
    }

    @Test
    void anUnknownConfigurationOrZeroWarmupRequestsIsAnError() {
        assertThatThrownBy(() -> ServerBenchmarks.config("e1-w0")).hasMessageContaining("e1-wN");
        assertThatThrownBy(() -> ServerBenchmarks.config("e3")).hasMessageContaining("unknown configuration e3");
    }

    private static ServerBenchmarks.Row row(String key, long p50Micros, long startMillis, ServerBenchmarks.Memory memory) {
        long[] nanos = {p50Micros * 1000, p50Micros * 1000, p50Micros * 1000};
        return new ServerBenchmarks.Row(ServerBenchmarks.config(key),
                new LoadClient.Result(Latencies.of(nanos), 3, 0, 0.1, null), null, null, null, null, null, null, memory,
                Map.of(), Map.of(), null, null, startMillis * 1_000_000);
    }

    private static ServerBenchmarks.Memory vm(long templateKib, long privateKib) {
        return new ServerBenchmarks.Memory(-1, templateKib << 10, (templateKib / 2) << 10, privateKib << 10,
                privateKib << 10);
    }

    @Test
    void theSummaryShowsTheWarmedRowsStartToServingAndMemoryNativeAgainstTemplateAndRequestVm() {
        Map<Guest, List<ServerBenchmarks.Row>> results = new LinkedHashMap<>();
        results.put(GUESTS.get("go"), List.of(
                row("native", 50, 3, ServerBenchmarks.Memory.ofNative(6000 << 10)),
                row("t1", 400, 120, vm(9000, 300)),
                row("e1", 900, 110, vm(9000, 200)),
                row("e1-w20", 600, 180, vm(9500, 100))));
        results.put(GUESTS.get("deno"), List.of(
                row("native", 300, 40, ServerBenchmarks.Memory.ofNative(40000 << 10)),
                ServerBenchmarks.Row.failed(ServerBenchmarks.config("t1"), "KvmServerException: out of memory"),
                ServerBenchmarks.Row.failed(ServerBenchmarks.config("e1"), "KvmServerException: out of memory"),
                ServerBenchmarks.Row.failed(ServerBenchmarks.config("e1-w20"), "KvmServerException: out of memory")));
        String summary = ServerBenchmarks.summary("pinned", results);
        assertThat(summary).contains("| guest | native p50 | threads=1 p50 | ephemeral p50 | ephemeral --warmup 20 p50 |",
                "| Go net/http (static) | 50 µs | 400 µs | 900 µs | 600 µs | 18.0x |",
                "| deno 2 (Deno.serve) | 300 µs | failed | failed | failed | - |",
                "| guest | start to serving: native | threads=1 | ephemeral | ephemeral --warmup 20 | native VmRSS |",
                "| Go net/http (static) | 3.00 ms | 120.0 ms | 110.0 ms | 180.0 ms | 6000 KiB | 9000 KiB | 4500 KiB"
                        + " | 200 KiB | 9500 KiB | 100 KiB |",
                "| deno 2 (Deno.serve) | 40.0 ms | failed | failed | failed | 40000 KiB | failed | failed | failed"
                        + " | failed | failed |");
        assertEveryLineHasTheCellsOfItsHeader(summary, 13, 11);
    }

    /** Each table (lines that start with '|', between blank lines) has {@code columns[i]} cells in every line. */
    private static void assertEveryLineHasTheCellsOfItsHeader(String summary, int... columns) {
        String[] tables = summary.strip().split("\n\n");
        List<String> found = java.util.Arrays.stream(tables).filter(t -> t.startsWith("|")).toList();
        assertThat(found).hasSize(columns.length);
        for (int i = 0; i < columns.length; i++) {
            long pipes = columns[i] + 1;
            found.get(i).lines().forEach(l -> assertThat(l.chars().filter(c -> c == '|').count()).as(l).isEqualTo(pipes));
        }
    }

    @Test
    void withoutAWarmedConfigurationTheSummaryHasNoWarmedColumns() {
        Map<Guest, List<ServerBenchmarks.Row>> results = Map.of(GUESTS.get("c"), List.of(
                row("native", 30, 2, ServerBenchmarks.Memory.ofNative(800 << 10)), row("e1", 250, 20, vm(888, 20))));
        String summary = ServerBenchmarks.summary("pinned", results);
        assertThat(summary).doesNotContain("warmup").contains("| C epoll server | 30 µs | - | 250 µs | 8.3x |",
                "| C epoll server | 2.00 ms | - | 20.0 ms | 800 KiB | 888 KiB | 444 KiB | 20 KiB |");
        assertEveryLineHasTheCellsOfItsHeader(summary, 11, 8);
    }
}
