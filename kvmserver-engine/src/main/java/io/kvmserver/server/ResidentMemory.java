package io.kvmserver.server;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Resident memory of an address range of this process (a VM's guest memory), summed over the
 * {@code /proc/self/smaps} entries inside it (a mapping may have been split by mprotect). Reads
 * the whole smaps file: for metrics and benchmarks, not for a hot path.
 *
 * @param rssBytes       pages present in memory (for a private file mapping: shared template
 *                       pages it has touched plus its own copies)
 * @param anonymousBytes private copy-on-write copies: what this mapping costs on its own
 */
public record ResidentMemory(long rssBytes, long anonymousBytes) {

    public static ResidentMemory of(long start, long length) {
        List<String> lines;
        try {
            lines = Files.readAllLines(Path.of("/proc/self/smaps"));
        } catch (IOException e) {
            throw new IllegalStateException("cannot read /proc/self/smaps", e);
        }
        long end = start + length;
        long rss = 0;
        long anon = 0;
        boolean inside = false;
        for (String line : lines) {
            int dash = line.indexOf('-');
            int space = line.indexOf(' ');
            if (dash > 0 && space > dash && isHex(line, 0, dash)) {
                long from = Long.parseUnsignedLong(line.substring(0, dash), 16);
                long to = Long.parseUnsignedLong(line.substring(dash + 1, space), 16);
                inside = from >= start && to <= end;
            } else if (inside && line.startsWith("Rss:")) {
                rss += kib(line);
            } else if (inside && line.startsWith("Anonymous:")) {
                anon += kib(line);
            }
        }
        return new ResidentMemory(rss << 10, anon << 10);
    }

    private static boolean isHex(String s, int from, int to) {
        for (int i = from; i < to; i++) {
            if (Character.digit(s.charAt(i), 16) < 0) {
                return false;
            }
        }
        return true;
    }

    private static long kib(String line) {
        String[] parts = line.trim().split("\\s+");
        return Long.parseLong(parts[1]);
    }
}
