package io.kvmserver.testing;

import com.sun.jna.Pointer;
import io.kvmserver.linux.GuestConsole;
import java.nio.charset.StandardCharsets;

/**
 * Keeps what a served guest writes to stdout and stderr (its last 64 KiB), so that a test that
 * fails can show why the program did not start or answer.
 */
public final class CapturedConsole implements GuestConsole {

    private static final int KEEP = 64 * 1024;

    private final StringBuilder text = new StringBuilder();
    private final String endMark;

    public CapturedConsole() {
        this("");
    }

    private CapturedConsole(String endMark) {
        this.endMark = endMark;
    }

    /** A console that keeps {@code mark} where the output was ended ({@link #endOfOutput}). */
    public static CapturedConsole markingEnds(String mark) {
        return new CapturedConsole(mark);
    }

    @Override
    public synchronized void endOfOutput() {
        text.append(endMark);
    }

    @Override
    public synchronized long write(int stream, long hostAddress, long length) {
        int n = (int) Math.min(length, KEEP);
        text.append(new String(new Pointer(hostAddress).getByteArray(length - n, n), StandardCharsets.UTF_8));
        if (text.length() > KEEP) {
            text.delete(0, text.length() - KEEP);
        }
        return length;
    }

    /** Everything kept so far, for an assertion message. */
    public synchronized String text() {
        return text.toString();
    }
}
