package io.kvmserver.autoconfigure;

import com.sun.jna.Pointer;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

/**
 * Cuts one stream of guest output into lines. Guest memory is read in chunks into a buffer of
 * fixed size, never copied whole: a guest that writes a gigabyte costs the host no more memory
 * than one that writes a line. Not thread-safe; each stream has its own instance, used under a
 * lock of its owner.
 */
final class GuestLines {

    private static final int CHUNK = 8192;

    private final byte[] chunk = new byte[CHUNK];

    private final byte[] line;

    private final boolean truncate;

    private final Consumer<String> sink;

    private int length;

    /**
     * @param maxLine the longest line passed on
     * @param truncate true to drop the rest of a longer line, false to pass it on in pieces
     * @param sink receives each line, without its line break
     */
    GuestLines(int maxLine, boolean truncate, Consumer<String> sink) {
        this.line = new byte[maxLine];
        this.truncate = truncate;
        this.sink = sink;
    }

    /** Reads {@code count} bytes of guest output at a host address. */
    void write(long hostAddress, long count) {
        Pointer memory = new Pointer(hostAddress);
        for (long done = 0; done < count;) {
            int n = (int) Math.min(CHUNK, count - done);
            memory.read(done, this.chunk, 0, n);
            for (int i = 0; i < n; i++) {
                append(this.chunk[i]);
            }
            done += n;
        }
    }

    /** Passes on the line written so far without a line break, if there is one. */
    void endOfOutput() {
        if (this.length > 0) {
            this.sink.accept(decode());
            this.length = 0;
        }
    }

    /** The line written so far without a line break, or {@code ""}. */
    String partial() {
        return decode();
    }

    private void append(byte b) {
        if (b == '\n') {
            this.sink.accept(decode());
            this.length = 0;
        }
        else if (this.length < this.line.length) {
            this.line[this.length++] = b;
        }
        else if (!this.truncate) {
            this.sink.accept(decode());
            this.line[0] = b;
            this.length = 1;
        }
        // else: truncating, the rest of the line is dropped
    }

    private String decode() {
        int end = this.length;
        if (end > 0 && this.line[end - 1] == '\r') {
            end--;
        }
        return printable(new String(this.line, 0, end, StandardCharsets.UTF_8));
    }

    /**
     * The line with every control character but tab written as {@code \xNN} (C0, DEL and C1): a
     * carriage return, an ANSI or OSC escape sequence or a NUL in the program's output would
     * otherwise rewrite what a terminal shows of the application's log (a forged line over the
     * real prefix, the clipboard set through OSC 52); found by the review of 2026-12-05.
     */
    static String printable(String text) {
        StringBuilder out = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            boolean control = (c < 0x20 && c != '\t') || (c >= 0x7f && c <= 0x9f);
            if (control && out == null) {
                out = new StringBuilder(text.length() + 16).append(text, 0, i);
            }
            if (control) {
                out.append("\\x").append(Character.forDigit(c >> 4, 16)).append(Character.forDigit(c & 0xf, 16));
            }
            else if (out != null) {
                out.append(c);
            }
        }
        return (out != null) ? out.toString() : text;
    }

}
