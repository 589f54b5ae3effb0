package io.kvmserver.benchmarks;

import com.sun.jna.Pointer;
import io.kvmserver.linux.GuestConsole;
import java.nio.charset.StandardCharsets;

/**
 * The guest's console for a benchmark: keeps the last few KiB the program writes while it starts
 * (so that a guest that fails to start is reported with its own message), and from the first
 * request on drops everything without copying, as a quiet server would.
 */
final class BootConsole implements GuestConsole {

    private static final int KEEP = 4096;

    private final StringBuilder tail = new StringBuilder();
    private volatile boolean serving;

    @Override
    public long write(int stream, long hostAddress, long length) {
        if (!serving && length > 0) {
            int n = (int) Math.min(length, KEEP);
            byte[] bytes = new Pointer(hostAddress).getByteArray(0, n);
            synchronized (tail) {
                tail.append(new String(bytes, StandardCharsets.UTF_8));
                if (tail.length() > KEEP) {
                    tail.delete(0, tail.length() - KEEP);
                }
            }
        }
        return length;
    }

    /** From now on, output is dropped. */
    void serving() {
        serving = true;
    }

    /** What the program wrote while starting, on one line. */
    String tail() {
        synchronized (tail) {
            return tail.toString().strip().replace('\n', ' ');
        }
    }
}
