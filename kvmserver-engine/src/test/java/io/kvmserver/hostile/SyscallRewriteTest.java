package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.testing.CapturedConsole;
import io.kvmserver.testing.Eventually;
import io.kvmserver.testing.GuestAnswers;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.NativeServer;
import io.kvmserver.testing.RequiresKvm;
import io.kvmserver.testing.TestServer;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The template's {@code mov $nr, %eax; syscall} sites rewritten into jumps to trampolines that
 * enter the syscall entry without the instruction (nested PVM: {@code SyscallSiteRewriter}). What
 * is shared: the rewritten code and the trampolines, in the template's memory, which every request
 * VM maps; so only the template's own execution names sites, never a request (which can write the
 * queue page where the entry records sites, or jump to the entry with any RCX). What must not
 * change: everything the program can see of a call, its registers, flags and red zone, a jump to
 * the {@code syscall} itself, a program stepping through it.
 */
@RequiresKvm
class SyscallRewriteTest {

    private static TestServer start(GuestPrograms.Linking linking, UnaryOperator<KvmServerOptions.Builder> options) {
        return TestServer.start(GuestPrograms.get("rewritten_sites", linking), List.of(),
                b -> options.apply(b.ephemeral(true).threads(1).maxRequestTime(Duration.ofSeconds(20))),
                new CapturedConsole());
    }

    /**
     * The sites the template ran are rewritten, in the program's code and in the C library's
     * (static and dynamic, where the library lies 2^46 bytes above the program), and those its
     * decoder finds in functions with a symbol (scanned_only, getppid in the dynamic C library as
     * the loader maps it, and the library's generic {@code syscall()}, whose instruction before the
     * {@code syscall} loads its sixth argument from the stack): every request starts with them and
     * gets Linux's answers. A site in code without a symbol that the template never ran keeps its
     * {@code syscall}, even one every request runs; so does one after an encoding the decoder does
     * not know, and bytes that look like a site inside another instruction (a constant) are left
     * alone.
     */
    @Test
    void theTemplatesSitesAreRewrittenForEveryRequest() {
        String rewritten = GuestAnswers.onThisHost() ? "JJJMMJJMMJ ok" : "MMMMMMMMMM ok";
        for (GuestPrograms.Linking linking : List.of(GuestPrograms.Linking.STATIC, GuestPrograms.Linking.PIE)) {
            try (TestServer s = start(linking, b -> b)) {
                for (int i = 0; i < 3; i++) {
                    assertThat(s.get("/sites")).as(linking + " request " + i).isEqualTo(rewritten);
                }
                assertThat(s.get("/maps")).as(linking.toString())
                        .isEqualTo(GuestAnswers.onThisHost() ? "areas=" + (linking == GuestPrograms.Linking.PIE ? 2 : 1)
                                + " r-xp" : "areas=0 none");
                assertThat(s.server().stats().failures()).isZero();
            }
        }
        NativeServer.expectAnswer("rewritten_sites", "/sites", "MMMMMMMMMM ok");
    }

    /**
     * The C library's {@code read} ({@code xor %eax, %eax; syscall}: two bytes before the
     * {@code syscall}, too few for a jump to a trampoline) jumps with a {@code jmp rel8} to padding
     * of its own function that the scan proved is never executed, which holds the {@code jmp rel32}
     * to its trampoline: in the static program and in the C library the dynamic loader maps.
     * Reads through it get Linux's answers (a pipe's bytes, {@code EBADF}), and every request's
     * own read of its request goes through it.
     */
    @Test
    void theCLibrarysReadJumpsThroughPaddingOfItsFunction() {
        expectRewrittenStaticAndPie("/read", " read=5 same ebadf=1");
    }

    /**
     * Three requests to {@code path} in a static and a PIE build answer {@code J} and then
     * {@code answer} where the site is rewritten ({@code M} where it is not), as the native run
     * answers {@code M} and then {@code answer}.
     */
    private static void expectRewrittenStaticAndPie(String path, String answer) {
        String expected = (GuestAnswers.onThisHost() ? "J" : "M") + answer;
        for (GuestPrograms.Linking linking : List.of(GuestPrograms.Linking.STATIC, GuestPrograms.Linking.PIE)) {
            try (TestServer s = start(linking, b -> b)) {
                for (int i = 0; i < 3; i++) {
                    assertThat(s.get(path)).as(linking + " request " + i).isEqualTo(expected);
                }
                assertThat(s.server().stats().failures()).isZero();
            }
        }
        NativeServer.expectAnswer("rewritten_sites", path, "M" + answer);
    }

    /**
     * The shape of Go's generic call ({@code runtime/internal/syscall.Syscall6}: the number already
     * in RAX, its first argument moved into RDI by a three-byte register {@code mov} right before
     * the {@code syscall}, {@code int3}s after the function outside its symbol) jumps through those
     * {@code int3}s to a trampoline that makes the same move: calls through it get Linux's answers,
     * with the argument moved (a {@code dup} of fd 1, {@code EBADF} for fd -1).
     */
    @Test
    void goStyleCallsJumpThroughTheInt3sAfterTheirFunction() {
        expectRewrittenStaticAndPie("/moved", " getpid=same dup=fd ebadf=1");
    }

    /**
     * A program single-stepping itself (TF) through the rewritten {@code read}: the jump to the
     * padding, the padding's jump and the trampoline each trap in the program, as its own
     * instructions would, and none stops in the engine's pages; the read gets its bytes.
     */
    @Test
    void aProgramSteppingThroughTheRewrittenReadNeverStopsInTheEngine() {
        try (TestServer s = start(GuestPrograms.Linking.STATIC, b -> b)) {
            assertThat(s.get("/read")).startsWith(GuestAnswers.onThisHost() ? "J" : "M");
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/stepread")).isEqualTo("read=5 traps=10 low=0");
            }
        }
        NativeServer.expectAnswer("rewritten_sites", "/stepread", "read=5 traps=10 low=0");
    }

    /**
     * The template maps the first MiB of a 3 GiB file executable: the engine reads the file of an
     * executable mapping for its symbols, but only a regular file of at most 16 MiB (the host's
     * memory is not the program's to spend: reading this one whole failed the start with an
     * OutOfMemoryError), and decodes the mapping's bytes in guest memory. It starts and serves.
     */
    @Test
    void aHugeFileMappedExecutableIsNotReadForSymbols(@TempDir Path dir) throws IOException {
        Path huge = dir.resolve("huge");
        try (RandomAccessFile f = new RandomAccessFile(huge.toFile(), "rw")) {
            f.setLength(3L << 30); // sparse
        }
        try (TestServer s = TestServer.start(GuestPrograms.get("rewritten_sites"), List.of("map", huge.toString()),
                b -> b.ephemeral(true).threads(1).maxRequestTime(Duration.ofSeconds(20))
                        .allowRead(List.of(dir.toString())), new CapturedConsole())) {
            assertThat(s.get("/sites")).isEqualTo(GuestAnswers.onThisHost() ? "JJJMMJJMMJ ok" : "MMMMMMMMMM ok");
        }
    }

    /** Every call is traced: then every call is a {@code syscall} the host sees, none rewritten. */
    @Test
    void aTracedProgramKeepsItsSites() {
        try (TestServer s = start(GuestPrograms.Linking.STATIC, b -> b.trace(true))) {
            assertThat(s.get("/sites")).isEqualTo("MMMMMMMMMM ok");
        }
    }

    /**
     * What the program sees of a call through a rewritten site is what {@code syscall} leaves:
     * RCX the address after it, R11 the flags, DF kept, the 128 bytes below the stack pointer
     * untouched (a {@code call} into the entry would have written there), DF cleared for the
     * entry's own copies as {@code syscall} clears it; and a jump to the
     * {@code syscall} itself, with another number, makes that call.
     */
    @Test
    void registersFlagsAndTheRedZoneAreLinuxs() {
        String regs = "rcx=after r11=flags df_after=1 redzone=intact result=getpid";
        String direct = "site=getpid jump=getppid";
        try (TestServer s = start(GuestPrograms.Linking.STATIC, b -> b)) {
            assertThat(s.get("/regs")).isEqualTo(regs);
            assertThat(s.get("/direct")).isEqualTo(direct);
            assertThat(s.get("/regs")).isEqualTo(regs);
            assertThat(s.get("/df")).as("a copy answered in the guest, called with DF set").isEqualTo("result=0 same=1");
        }
        NativeServer.expectAnswer("rewritten_sites", "/regs", regs);
        NativeServer.expectAnswer("rewritten_sites", "/df", "result=0 same=1");
        NativeServer.expectAnswer("rewritten_sites", "/direct", direct);
    }

    /**
     * A program single-stepping itself (TF, a SIGTRAP handler) through a rewritten site: its steps
     * stop in its own code and the trampoline, never in the engine's pages, and the call is made.
     */
    @Test
    void aProgramSteppingThroughASiteNeverStopsInTheEngine() {
        String expected = "result=getpid traps=10 low=0";
        try (TestServer s = start(GuestPrograms.Linking.STATIC, b -> b)) {
            assertThat(s.get("/step")).isEqualTo(expected);
            assertThat(s.get("/sites")).isEqualTo(GuestAnswers.onThisHost() ? "JJJMMJJMMJ ok" : "MMMMMMMMMM ok");
        }
        NativeServer.expectAnswer("rewritten_sites", "/step", expected);
    }

    /**
     * A request that unmaps the trampolines breaks only itself: its next call through a rewritten
     * site faults and it dies of the SIGSEGV (its client gets no answer), and the next request
     * finds them again.
     */
    @Test
    void aRequestThatUnmapsTheTrampolinesBreaksOnlyItself() {
        try (TestServer s = start(GuestPrograms.Linking.STATIC, b -> b)) {
            String response = s.exchange("GET /unmap HTTP/1.1\r\n\r\n");
            if (GuestAnswers.onThisHost()) {
                assertThat(response).as("the request died").isEmpty();
                Eventually.reaches(() -> s.server().stats().failures(), 1L);
            } else {
                assertThat(response).endsWith("unmapped=0 returned");
            }
            assertThat(s.get("/sites")).isEqualTo(GuestAnswers.onThisHost() ? "JJJMMJJMMJ ok" : "MMMMMMMMMM ok");
            assertThat(s.get("/maps")).isEqualTo(GuestAnswers.onThisHost() ? "areas=1 r-xp" : "areas=0 none");
        }
        NativeServer.expectAnswer("rewritten_sites", "/unmap", "unmapped=0 returned");
    }

    /**
     * A request names sites where the entry records them (never_run's, which the template never
     * ran, and request_only's) and makes calls the host sees: nothing is rewritten, in that request
     * or any later one (a rewrite would reach the template's memory, every request's code).
     */
    @Test
    void sitesARequestNamesAreNeverRewritten() {
        try (TestServer s = start(GuestPrograms.Linking.STATIC, b -> b)) {
            for (int i = 0; i < 3; i++) {
                assertThat(s.get("/forge")).as("request " + i).isEqualTo("MM");
            }
            assertThat(s.get("/sites")).isEqualTo(GuestAnswers.onThisHost() ? "JJJMMJJMMJ ok" : "MMMMMMMMMM ok");
            assertThat(s.server().stats().failures()).isZero();
        }
    }
}
