package io.kvmserver.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.jna.Memory;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Guest output cut into bounded lines, from real native memory as the engine hands it over. */
class GuestLinesTests {

    private final List<String> lines = new ArrayList<>();

    @Test
    void cutsLinesAcrossWritesAndDropsCarriageReturns() {
        GuestLines guest = new GuestLines(100, false, this.lines::add);
        write(guest, "GET / 200\r\nGET /a");
        write(guest, " 404\n\npartial");

        assertThat(this.lines).containsExactly("GET / 200", "GET /a 404", "");
        assertThat(guest.partial()).isEqualTo("partial");
    }

    @Test
    void theEndOfOutputPassesOnTheLineLeftWithoutItsNewline() {
        GuestLines guest = new GuestLines(100, false, this.lines::add);
        write(guest, "request 1 partial");
        guest.endOfOutput();
        guest.endOfOutput();
        write(guest, "request 2\n");

        assertThat(this.lines).containsExactly("request 1 partial", "request 2");
        assertThat(guest.partial()).isEmpty();
    }

    @Test
    void aHugeWriteIsReadInChunksAndLoggedInPiecesOfTheLongestLine() {
        GuestLines guest = new GuestLines(8192, false, this.lines::add);
        byte[] megabyte = new byte[1 << 20];
        Arrays.fill(megabyte, (byte) 'x');
        write(guest, megabyte);

        assertThat(this.lines).hasSize(127).allSatisfy((line) -> assertThat(line).hasSize(8192));
        assertThat(guest.partial()).hasSize((1 << 20) - 127 * 8192);
    }

    /**
     * The program cannot rewrite what a terminal shows of the log: a carriage return inside a
     * line (a forged line over the real prefix), ANSI and OSC escapes, NUL, DEL and C1 controls
     * are written out; a tab and the text around them stay (found by the review of 2026-12-05).
     */
    @Test
    void controlCharactersAreWrittenOutSoTheProgramCannotForgeTheLog() {
        GuestLines guest = new GuestLines(200, false, this.lines::add);
        write(guest, "normal\r2026-12-05 INFO FAKE admin logged in\n\u001b[2K\u001b]52;c;ZXZpbA==\u0007 done\n"
                + "nul\u0000after\tdel\u007fc1\u009bé\r\n");

        assertThat(this.lines).containsExactly("normal\\x0d2026-12-05 INFO FAKE admin logged in",
                "\\x1b[2K\\x1b]52;c;ZXZpbA==\\x07 done", "nul\\x00after\tdel\\x7fc1\\x9bé");
    }

    @Test
    void truncatingKeepsTheStartOfALongLineOnly() {
        GuestLines guest = new GuestLines(5, true, this.lines::add);
        write(guest, "bind: Permission denied\nok\n");

        assertThat(this.lines).containsExactly("bind:", "ok");
    }

    private static void write(GuestLines guest, String text) {
        write(guest, text.getBytes(StandardCharsets.UTF_8));
    }

    private static void write(GuestLines guest, byte[] bytes) {
        try (Memory memory = new Memory(bytes.length)) {
            memory.write(0, bytes, 0, bytes.length);
            guest.write(com.sun.jna.Pointer.nativeValue(memory), bytes.length);
        }
    }

}
