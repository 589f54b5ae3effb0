package io.kvmserver.server;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Resident memory of an address range of this process (a VM's guest memory), summed over the
 * {@code /proc/self/smaps} entries inside it (a mapping may have been split by mprotect).
 *
 * <p>Reading smaps walks every mapping of the JVM under the kernel's lock of the address space,
 * which the vCPU threads' page faults also take, so {@link #of(List)} measures any number of
 * ranges in one pass, streaming the file without holding it in memory. Still, it is for metrics
 * and benchmarks, not for a hot path: callers cache the result.
 *
 * @param rssBytes       pages present in memory (for a private file mapping: shared template
 *                       pages it has touched plus its own copies)
 * @param anonymousBytes private copy-on-write copies: what this mapping costs on its own
 */
public record ResidentMemory(long rssBytes, long anonymousBytes) {

    private static final Path SMAPS = Path.of("/proc/self/smaps");

    /** A range of this process's addresses: {@code [start, start + length)}. */
    public record Range(long start, long length) {
    }

    /** Resident memory of one range. */
    public static ResidentMemory of(long start, long length) {
        return of(List.of(new Range(start, length))).get(0);
    }

    /** Resident memory of each range, in the order given, from one pass over smaps. */
    public static List<ResidentMemory> of(List<Range> ranges) {
        long[] rss = new long[ranges.size()];
        long[] anon = new long[ranges.size()];
        try (BufferedReader in = Files.newBufferedReader(SMAPS, StandardCharsets.US_ASCII)) {
            int inside = -1;
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                int dash = line.indexOf('-');
                int space = line.indexOf(' ');
                if (dash > 0 && space > dash && isHex(line, 0, dash)) {
                    long from = Long.parseUnsignedLong(line, 0, dash, 16);
                    long to = Long.parseUnsignedLong(line, dash + 1, space, 16);
                    inside = rangeContaining(ranges, from, to);
                } else if (inside >= 0 && line.startsWith("Rss:")) {
                    rss[inside] += kib(line);
                } else if (inside >= 0 && line.startsWith("Anonymous:")) {
                    anon[inside] += kib(line);
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + SMAPS, e);
        }
        List<ResidentMemory> result = new ArrayList<>(ranges.size());
        for (int i = 0; i < ranges.size(); i++) {
            result.add(new ResidentMemory(rss[i] << 10, anon[i] << 10));
        }
        return result;
    }

    private static int rangeContaining(List<Range> ranges, long from, long to) {
        for (int i = 0; i < ranges.size(); i++) {
            Range r = ranges.get(i);
            if (from >= r.start() && to <= r.start() + r.length()) {
                return i;
            }
        }
        return -1;
    }

    private static boolean isHex(String s, int from, int to) {
        for (int i = from; i < to; i++) {
            if (Character.digit(s.charAt(i), 16) < 0) {
                return false;
            }
        }
        return true;
    }

    /** The number of a {@code Name:   123 kB} line. */
    private static long kib(String line) {
        int start = line.indexOf(':') + 1;
        while (start < line.length() && line.charAt(start) == ' ') {
            start++;
        }
        int end = start;
        while (end < line.length() && Character.isDigit(line.charAt(end))) {
            end++;
        }
        return end > start ? Long.parseLong(line, start, end, 10) : 0;
    }
}
