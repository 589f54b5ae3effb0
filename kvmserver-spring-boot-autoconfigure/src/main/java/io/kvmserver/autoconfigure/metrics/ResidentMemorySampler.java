package io.kvmserver.autoconfigure.metrics;

import io.kvmserver.autoconfigure.KvmServerLifecycle;
import io.kvmserver.server.KvmServer;
import io.kvmserver.server.KvmServer.GuestMapping;
import io.kvmserver.server.ResidentMemory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Resident guest memory for the gauges, measured in one pass over {@code /proc/self/smaps} for
 * the template and every request VM of every server together, and kept for {@link #MAX_AGE}: a
 * scrape reads both gauges of every server, and several registries may scrape at once, but the
 * file is read at most once a second. The lock is this sampler's own; no vCPU thread ever takes
 * it.
 */
final class ResidentMemorySampler {

    /** How long a measurement is reused. */
    static final Duration MAX_AGE = Duration.ofSeconds(1);

    /**
     * One server's measurement.
     *
     * @param templateBytes resident memory of the template, shared by every request VM
     * @param requestPrivateBytes the request VMs' private copies of template pages, together
     */
    record Sample(long templateBytes, long requestPrivateBytes) {
    }

    private final List<KvmServerLifecycle> lifecycles;

    private Map<KvmServer, Sample> samples = Map.of();

    private long measuredAt;

    private int passes;

    ResidentMemorySampler(List<KvmServerLifecycle> lifecycles) {
        this.lifecycles = List.copyOf(lifecycles);
    }

    synchronized Sample sample(KvmServer server) {
        long now = System.nanoTime();
        if (!this.samples.containsKey(server) || now - this.measuredAt > MAX_AGE.toNanos()) {
            this.samples = measure(server);
            this.measuredAt = now;
            this.passes++;
        }
        return this.samples.get(server);
    }

    /** How many times smaps was read. */
    synchronized int passes() {
        return this.passes;
    }

    /** Every running server, and {@code asked} even if its lifecycle no longer holds it, in one pass. */
    private Map<KvmServer, Sample> measure(KvmServer asked) {
        List<KvmServer> servers = new ArrayList<>();
        servers.add(asked);
        for (KvmServerLifecycle lifecycle : this.lifecycles) {
            KvmServer running = lifecycle.getServer();
            if (running != null && running != asked) {
                servers.add(running);
            }
        }
        List<GuestMapping> mappings = new ArrayList<>();
        List<KvmServer> owners = new ArrayList<>();
        for (KvmServer server : servers) {
            for (GuestMapping mapping : server.guestMappings()) {
                mappings.add(mapping);
                owners.add(server);
            }
        }
        List<ResidentMemory> memory = ResidentMemory
            .of(mappings.stream().map((m) -> new ResidentMemory.Range(m.hostAddress(), m.bytes())).toList());
        Map<KvmServer, long[]> sums = new IdentityHashMap<>();
        for (int i = 0; i < mappings.size(); i++) {
            long[] sum = sums.computeIfAbsent(owners.get(i), (server) -> new long[2]);
            if (mappings.get(i).shared()) {
                sum[0] += memory.get(i).rssBytes();
            }
            else {
                sum[1] += memory.get(i).anonymousBytes();
            }
        }
        Map<KvmServer, Sample> result = new IdentityHashMap<>();
        sums.forEach((server, sum) -> result.put(server, new Sample(sum[0], sum[1])));
        return result;
    }

}
