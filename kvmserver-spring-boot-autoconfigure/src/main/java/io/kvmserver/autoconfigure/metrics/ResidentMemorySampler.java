package io.kvmserver.autoconfigure.metrics;

import io.kvmserver.server.KvmServer;
import io.kvmserver.server.KvmServer.GuestMapping;
import io.kvmserver.server.ResidentMemory;
import java.time.Duration;
import java.util.List;

/**
 * Resident guest memory for the gauges, measured in one pass over {@code /proc/self/smaps} for
 * the template and every request VM together, and kept for {@link #MAX_AGE}: a scrape reads
 * both gauges, and several registries may scrape at once, but the file is read at most once a
 * second. The lock is this sampler's own; no vCPU thread ever takes it.
 */
final class ResidentMemorySampler {

    /** How long a measurement is reused. */
    static final Duration MAX_AGE = Duration.ofSeconds(1);

    /**
     * One measurement.
     *
     * @param templateBytes resident memory of the template, shared by every request VM
     * @param requestPrivateBytes the request VMs' private copies of template pages, together
     */
    record Sample(long templateBytes, long requestPrivateBytes) {
    }

    private KvmServer measured;

    private long measuredAt;

    private Sample sample;

    private int passes;

    synchronized Sample sample(KvmServer server) {
        long now = System.nanoTime();
        if (server != this.measured || now - this.measuredAt > MAX_AGE.toNanos()) {
            this.sample = measure(server);
            this.measured = server;
            this.measuredAt = now;
            this.passes++;
        }
        return this.sample;
    }

    /** How many times smaps was read. */
    synchronized int passes() {
        return this.passes;
    }

    private static Sample measure(KvmServer server) {
        List<GuestMapping> mappings = server.guestMappings();
        List<ResidentMemory> memory = ResidentMemory
            .of(mappings.stream().map((m) -> new ResidentMemory.Range(m.hostAddress(), m.bytes())).toList());
        long template = 0;
        long requests = 0;
        for (int i = 0; i < mappings.size(); i++) {
            if (mappings.get(i).shared()) {
                template += memory.get(i).rssBytes();
            }
            else {
                requests += memory.get(i).anonymousBytes();
            }
        }
        return new Sample(template, requests);
    }

}
