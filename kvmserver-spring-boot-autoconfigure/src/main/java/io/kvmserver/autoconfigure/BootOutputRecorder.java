package io.kvmserver.autoconfigure;

import io.kvmserver.linux.GuestConsole;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * Passes guest output on to the configured console and, until {@link #stop()}, keeps its last
 * lines: when the program ends before it serves, those lines usually hold the reason
 * ({@code bind: Address already in use}), and the failure analysis shows them. Memory is bounded
 * whatever the guest writes: {@value #MAX_LINES} lines of at most {@value #MAX_LINE_LENGTH} bytes.
 */
final class BootOutputRecorder implements GuestConsole {

    private static final int MAX_LINES = 20;

    private static final int MAX_LINE_LENGTH = 500;

    private final GuestConsole delegate;

    private final Deque<String> lines = new ArrayDeque<>();

    private final GuestLines stdout = new GuestLines(MAX_LINE_LENGTH, true, this::addLine);

    private final GuestLines stderr = new GuestLines(MAX_LINE_LENGTH, true, this::addLine);

    private volatile boolean recording = true;

    BootOutputRecorder(GuestConsole delegate) {
        this.delegate = delegate;
    }

    @Override
    public long write(int stream, long hostAddress, long length) {
        if (this.recording) {
            synchronized (this) {
                ((stream == 2) ? this.stderr : this.stdout).write(hostAddress, length);
            }
        }
        return this.delegate.write(stream, hostAddress, length);
    }

    @Override
    public void endOfOutput() {
        this.delegate.endOfOutput();
    }

    private void addLine(String line) {
        if (this.lines.size() == MAX_LINES) {
            this.lines.removeFirst();
        }
        this.lines.addLast(line.strip());
    }

    /** Stops recording, once the server serves and boot output no longer matters. */
    void stop() {
        this.recording = false;
    }

    /** The recorded lines, with unterminated last lines included. */
    synchronized List<String> lines() {
        List<String> result = new ArrayList<>(this.lines);
        for (GuestLines stream : List.of(this.stdout, this.stderr)) {
            String partial = stream.partial().strip();
            if (!partial.isEmpty()) {
                result.add(partial);
            }
        }
        return List.copyOf(result);
    }

}
