package io.kvmserver.autoconfigure;

import com.sun.jna.Pointer;
import io.kvmserver.linux.GuestConsole;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;

/**
 * Passes guest output on to the configured console and, until {@link #stop()}, keeps its last
 * lines: when the program ends before it serves, those lines usually hold the reason
 * ({@code bind: Address already in use}), and the failure analysis shows them.
 */
final class BootOutputRecorder implements GuestConsole {

    private static final int MAX_LINES = 20;

    private static final int MAX_LINE_LENGTH = 500;

    private final GuestConsole delegate;

    private final Deque<String> lines = new ArrayDeque<>();

    private final StringBuilder partial = new StringBuilder();

    private volatile boolean recording = true;

    BootOutputRecorder(GuestConsole delegate) {
        this.delegate = delegate;
    }

    @Override
    public long write(int stream, long hostAddress, long length) {
        if (this.recording) {
            record(new Pointer(hostAddress).getByteArray(0, (int) length));
        }
        return this.delegate.write(stream, hostAddress, length);
    }

    private synchronized void record(byte[] bytes) {
        for (String piece : new String(bytes, StandardCharsets.UTF_8).split("(?<=\n)")) {
            if (this.partial.length() < MAX_LINE_LENGTH) {
                this.partial.append(piece, 0, Math.min(piece.length(), MAX_LINE_LENGTH - this.partial.length()));
            }
            if (piece.endsWith("\n")) {
                addLine();
            }
        }
    }

    private void addLine() {
        String line = this.partial.toString().strip();
        this.partial.setLength(0);
        if (this.lines.size() == MAX_LINES) {
            this.lines.removeFirst();
        }
        this.lines.addLast(line);
    }

    /** Stops recording, once the server serves and boot output no longer matters. */
    void stop() {
        this.recording = false;
    }

    /** The recorded lines, with an unterminated last line included. */
    synchronized List<String> lines() {
        String[] result = this.lines.toArray(String[]::new);
        if (this.partial.length() > 0) {
            result = Arrays.copyOf(result, result.length + 1);
            result[result.length - 1] = this.partial.toString().strip();
        }
        return List.of(result);
    }

}
