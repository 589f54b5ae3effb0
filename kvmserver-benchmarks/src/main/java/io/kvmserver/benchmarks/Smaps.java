package io.kvmserver.benchmarks;

import io.kvmserver.server.ResidentMemory;

/** Resident memory of a guest mapping ({@link ResidentMemory}), and how the tables print it. */
record Smaps(long rssBytes, long anonymousBytes) {

    static Smaps of(long start, long length) {
        ResidentMemory m = ResidentMemory.of(start, length);
        return new Smaps(m.rssBytes(), m.anonymousBytes());
    }

    static String mib(long bytes) {
        return String.format("%.2f MiB", bytes / 1048576.0);
    }

    static String kib(long bytes, boolean unit) {
        return String.format(unit ? "%d KiB" : "%d", bytes >> 10);
    }
}
