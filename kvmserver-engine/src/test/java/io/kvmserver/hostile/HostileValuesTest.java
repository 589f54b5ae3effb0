package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.HostTools;
import io.kvmserver.testing.RequiresKvm;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Values the engine once computed with as Java longs where Linux takes them otherwise, found by
 * the eighth review (2026-12-05, fourth session), reading the handlers for host exceptions
 * ({@code hostile_values.c}). The worst: two iovec lengths of a netlink {@code recvmsg} whose sum
 * overflowed made the engine's buffer one byte long, and the answer written into it overran the
 * JVM's native heap: one unprivileged call killed the server and every request VM in it. Each
 * line is Linux's answer, checked natively in the same run.
 */
@RequiresKvm
class HostileValuesTest {

    @Test
    void valuesPastWhatLinuxTakesAreAnsweredAsLinuxAnswersThem(@TempDir Path dir) {
        String expected = """
                netlink-recvmsg r=-1 errno=14
                netlink-sendmsg r=-1 errno=90
                netlink-recvfrom r>0=1 errno=0
                netlink-sendto r=-1 errno=90
                preadv r=-1 errno=22
                pwritev r=-1 errno=22
                offset=2 file=0123456789
                readlink r=2 errno=0 got=%s
                readlink-2^31 r=-1 errno=22
                """.formatted(dir.toString().substring(0, 2));
        assertAsNatively(dir, List.of(), expected);
    }

    /**
     * A name that is not UTF-8 is {@code EILSEQ}, where Linux's ext4 takes any bytes: the engine
     * decoded names leniently, every invalid byte becoming U+FFFD, so {@code a\xffb} was created
     * as the host file {@code a\xef\xbf\xbdb} and {@code a\xfeb} opened it (the eighth review).
     * Natively the first two are two files and the third does not exist.
     */
    @Test
    void aNameThatIsNotUtf8IsRefusedNotTakenForAnother(@TempDir Path dir) throws Exception {
        GuestRun.Outcome o = GuestRun.run(GuestPrograms.get("hostile_values"), List.of(dir.toString(), "names"),
                b -> b.allowWrite(List.of(dir.toString())));
        assertThat(o.stdout()).as(o.toString()).isEqualTo("""
                name0 fd>=0=0 errno=84
                name1 fd>=0=1 errno=0
                name2 fd>=0=0 errno=84
                """);
        try (var files = java.nio.file.Files.list(dir)) {
            assertThat(files).as("the one valid name's file (however the JVM's locale decodes it)").hasSize(1);
        }
    }

    /**
     * A host link whose target is not UTF-8 is {@code EILSEQ} too (the second wave of the eighth
     * review: the walk decoded the target leniently, and {@code L -> a\xffb} opened the file
     * {@code a\xef\xbf\xbdb}). The files and the link are made with python3 (names as bytes).
     */
    @Test
    void aHostLinkToANameThatIsNotUtf8IsRefusedNotTakenForAnother(@TempDir Path dir) {
        HostTools.run(List.of("python3", "-c", "import os, sys; d = os.fsencode(sys.argv[1]);"
                + " open(d + b'/a\\xffb', 'w').write('FF'); open(d + b'/a\\xef\\xbf\\xbdb', 'w').write('REPL');"
                + " os.symlink(b'a\\xffb', d + b'/L')", dir.toString()));
        GuestRun.Outcome o = GuestRun.run(GuestPrograms.get("hostile_values"), List.of(dir.toString(), "link"),
                b -> b.allowRead(List.of(dir.toString())));
        assertThat(o.stdout()).as(o.toString()).isEqualTo("open L fd>=0=0 errno=84 read=\n");
    }

    /**
     * A unix socket's file is 0777 less the program's umask, as Linux makes it: the host's bind
     * used the JVM's umask (the eighth review: a program's umask 077 left its socket 0777 for any
     * host user in a JVM of umask 0; here, in the JVM's usual 022, 0755 for both).
     */
    @Test
    void aUnixSocketsFileModeIsTheProgramsUmasks(@TempDir Path dir) {
        String expected = """
                umask 077 bind=0 mode=700
                umask 000 bind=0 mode=777
                """;
        assertAsNatively(dir, List.of("umask"), expected);
    }

    /**
     * The discarding advices on each kind of mapping: the engine zeroed every one (the eighth
     * review), so a program that dropped a shared mapping's pages or a read-only file mapping's
     * (to return memory, as a database does) read zeros where Linux keeps the data.
     */
    @Test
    void discardingAdvicesKeepWhatLinuxKeeps(@TempDir Path dir) {
        String expected = """
                private DONTNEED r=0 errno=0 byte=0
                private FREE r=0
                private REMOVE r=-1 errno=22 byte=42
                shared DONTNEED r=0 errno=0 byte=42
                shared FREE r=-1 errno=22 byte=42
                shared REMOVE r=0 errno=0 byte=0
                file DONTNEED r=0 errno=0 byte=48
                file FREE r=-1 errno=22 byte=48
                file REMOVE r=-1 errno=13 byte=48
                shared file DONTNEED r=0 errno=0 byte=48
                shared file REMOVE r=-1 errno=13 byte=48
                """;
        assertAsNatively(dir, List.of("madvise"), expected);
    }

    /**
     * What mmap takes, and the checks of msync, mlock and mincore, which answered 0 to anything
     * (or ENOSYS): a pipe or a device but {@code /dev/zero} is {@code ENODEV}, an unmapped range
     * {@code ENOMEM}, unknown flags {@code EINVAL}; a write-only page may be read, as x86 reads it
     * (the eighth review, checked natively here).
     */
    @Test
    void memoryCallsCheckWhatLinuxChecks(@TempDir Path dir) {
        String expected = """
                mmap pipe r=-1 errno=19
                mmap /dev/null r=-1 errno=19
                msync flags r=-1 errno=22
                msync sync|async r=-1 errno=22
                msync unmapped r=-1 errno=12
                msync r=0 errno=0
                mlock unmapped r=-1 errno=12
                mlock r=0 errno=0
                munlock r=0 errno=0
                mlockall 0 r=-1 errno=22
                mlockall 99 r=-1 errno=22
                mincore r=0 vec=1,1
                mincore unaligned r=-1 errno=22
                mincore unmapped r=-1 errno=12
                write from a PROT_WRITE page r=1 errno=0
                """;
        assertAsNatively(dir, List.of("memory"), expected);
    }

    /**
     * A {@code PROT_NONE} mapping of a file counts against the memory limit: mmap reads the file in
     * at once (Linux allocates nothing until a page is touched), and a program that mapped a 2 GiB
     * sparse file {@code PROT_NONE} again and again filled gigabytes of host memory past
     * {@code max-main-memory} (the eighth review). With a 384 MiB limit the second 256 MiB one is
     * {@code ENOMEM}.
     */
    @Test
    void fileMappingsCountAgainstTheMemoryLimitWhateverTheirProtection(@TempDir Path dir) {
        GuestRun.Outcome o = GuestRun.run(GuestPrograms.get("hostile_values"), List.of(dir.toString(), "prot-none"),
                b -> b.allowWrite(List.of(dir.toString())).maxMainMemory(384L << 20));
        assertThat(o.stdout()).as(o.toString()).isEqualTo("""
                mmap PROT_NONE of 256 MiB r=0 errno=0
                mmap PROT_NONE of 256 MiB r=-1 errno=12
                """);
    }

    /**
     * Arguments Linux takes as an int or an unsigned int, a size_t, and the futex operations it
     * refuses or looks up: the engine took dup2's new fd as 64 bits ({@code EBADF} for
     * {@code 2^32 + 7}), answered {@code getgroups(-1)} and any {@code fadvise} with 0,
     * {@code getcwd} of {@code (size_t) -1} with {@code ERANGE}, and a shared
     * {@code FUTEX_WAKE} of no memory with 0 (the eighth review, checked natively here).
     */
    @Test
    void numbersAreTakenAtLinuxsWidths(@TempDir Path dir) {
        String expected = """
                dup2 to 2^32 + 7 r=7 errno=0
                getgroups -1 r=-1 errno=22
                getcwd size -1 r>0=1
                fadvise advice 99 r=-1 errno=22
                fadvise length -1 r=-1 errno=22
                fadvise r=0 errno=0
                fadvise pipe r=-1 errno=29
                fadvise O_PATH r=-1 errno=9
                getcwd size 0 r=-1 errno=34
                futex WAIT|CLOCK_REALTIME r=-1 errno=38
                shared futex WAKE of NULL r=-1 errno=14
                private futex WAKE of NULL r=0 errno=0
                """;
        assertAsNatively(dir, List.of("numbers"), expected);
    }

    /**
     * Runs {@code hostile_values} with {@code args} natively, then in the engine, each in a
     * directory of its own that it may write: both print {@code expected}.
     */
    private static void assertAsNatively(Path dir, List<String> args, String expected) {
        Path program = GuestPrograms.get("hostile_values");
        Path natively = dir.resolve("native");
        Path engine = dir.resolve("engine");
        assertThat(natively.toFile().mkdir() && engine.toFile().mkdir()).isTrue();
        List<String> nativeCommand = new java.util.ArrayList<>(List.of(program.toString(), natively.toString()));
        nativeCommand.addAll(args);
        assertThat(HostTools.run(nativeCommand)).as("natively").isEqualTo(expected);
        List<String> engineArgs = new java.util.ArrayList<>(List.of(engine.toString()));
        engineArgs.addAll(args);
        GuestRun.Outcome o = GuestRun.run(program, engineArgs, b -> b.allowWrite(List.of(engine.toString())));
        assertThat(o.stdout()).as(o.toString()).isEqualTo(expected);
    }
}
