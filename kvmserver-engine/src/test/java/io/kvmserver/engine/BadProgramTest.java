package io.kvmserver.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.cli.KvmServerCli;
import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.elf.ElfException;
import io.kvmserver.linux.GuestConsole;
import io.kvmserver.server.Program;
import io.kvmserver.testing.GuestPrograms;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input is refused with a clear message by {@link Program#prepare}, before any VM (or even
 * {@code /dev/kvm}) is involved; the CLI turns it into one line on stderr and status 1.
 */
class BadProgramTest {

    @TempDir
    Path dir;

    private static final GuestConsole DISCARD = (stream, address, length) -> length;

    private static String prepareError(Path program) {
        KvmServerOptions options = KvmServerOptions.builder().program(program.toString()).args(List.of())
                .cwd(program.getParent().toString()).build();
        Throwable thrown = org.assertj.core.api.Assertions.catchThrowable(
                () -> Program.prepare(options, DISCARD, Map.of()));
        assertThat(thrown).as("Program.prepare(" + program + ")").isInstanceOf(ElfException.class);
        return thrown.getMessage();
    }

    private Path write(String name, byte[] bytes) throws IOException {
        Path p = Files.write(dir.resolve(name), bytes);
        p.toFile().setExecutable(true);
        return p;
    }

    private static byte[] validElf() throws IOException {
        return Files.readAllBytes(GuestPrograms.get("hello"));
    }

    @Test
    void missingFile() {
        assertThat(prepareError(dir.resolve("nothing-here"))).contains("nothing-here", "does not exist");
    }

    @Test
    void directory() {
        assertThat(prepareError(dir)).contains(dir.toString(), "is a directory");
    }

    /**
     * A FIFO, a device or a large file that is no program: refused at once, without opening the
     * FIFO (which blocked the start for good) or reading the whole file into the heap (an
     * {@code OutOfMemoryError} for {@code /dev/zero} or a sparse file of 1 GiB). Found by the
     * review of 2026-12-05 (later).
     */
    @Test
    void aFifoADeviceOrALargeFileThatIsNoProgram() throws Exception {
        Path fifo = dir.resolve("fifo");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).start();
        assertThat(mkfifo.waitFor()).isZero();
        assertThat(prepareError(fifo)).contains("fifo", "is not a regular file");
        assertThat(prepareError(Path.of("/dev/zero"))).contains("/dev/zero", "is not a regular file");
        Path sparse = dir.resolve("sparse");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(sparse.toFile(), "rw")) {
            f.setLength(1L << 30);
        }
        long allocatedBefore = allocatedByThisThread();
        assertThat(prepareError(sparse)).contains("sparse", "not an ELF");
        assertThat(allocatedByThisThread() - allocatedBefore).as("bytes the refusal allocated").isLessThan(16L << 20);
    }

    private static long allocatedByThisThread() {
        return ((com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean())
            .getThreadAllocatedBytes(Thread.currentThread().getId());
    }

    /**
     * A working directory that does not exist, or is a file (on the host, through the volume
     * that holds it), is refused at start, naming the setting: the program would see every
     * relative path fail. Found by the review of 2026-12-05 (later).
     */
    /**
     * Arguments and environment as {@code execve(2)} bounds them, E2BIG beyond (review of
     * 2026-12-05, third round: twelve 1 MiB variables were written below the stack, over the
     * program's memory, or the engine's own pages with a small address space).
     */
    @Test
    void argumentsAndEnvironmentLinuxWouldRefuseWithE2bigAreRefused() {
        String program = GuestPrograms.get("hello").toString();
        String longOne = "x".repeat(140_000);
        List<String> manyVariables = java.util.stream.IntStream.range(0, 24)
                .mapToObj(i -> "V" + i + "=" + "y".repeat(100_000)).toList();
        for (Object[] c : new Object[][] {
            {List.of(longOne), List.of(), "an argument of the program (args) is 140001 bytes long", "131072"},
            {List.of(), List.of("BIG=" + longOne), "an environment variable of the program (--env) is 140005 bytes", "131072"},
            {List.of(), manyVariables, "the program's arguments and environment take", "more than the 2 MiB Linux allows them (a quarter of the program's 8 MiB stack): shorten args or --env"}}) {
            @SuppressWarnings("unchecked")
            KvmServerOptions options = KvmServerOptions.builder().program(program).args((List<String>) c[0])
                .env((List<String>) c[1]).cwd(dir.toString()).build();
            Throwable thrown = org.assertj.core.api.Assertions.catchThrowable(
                    () -> Program.prepare(options, DISCARD, Map.of()));
            assertThat(thrown).isInstanceOf(io.kvmserver.config.InvalidOptionException.class)
                .hasMessageContaining((String) c[2]).hasMessageContaining((String) c[3]);
        }
        KvmServerOptions justUnder = KvmServerOptions.builder().program(program).args(List.of("z".repeat(131_071)))
            .env(manyVariables.subList(0, 15)).cwd(dir.toString()).build();
        Program.prepare(justUnder, DISCARD, Map.of()).close();
    }

    @Test
    void aWorkingDirectoryThatIsNoDirectory() throws IOException {
        Path program = GuestPrograms.get("hello");
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        for (String[] c : new String[][] {{dir.resolve("missing").toString(), "does not exist"},
            {file.toString(), "is not a directory"}, {"/data/missing", "does not exist (" + dir + "/missing on the host"}}) {
            KvmServerOptions options = KvmServerOptions.builder().program(program.toString()).args(List.of()).cwd(c[0])
                .volumes(List.of(new io.kvmserver.config.Volume(dir.toString(), "/data", false))).build();
            Throwable thrown = org.assertj.core.api.Assertions.catchThrowable(
                    () -> Program.prepare(options, DISCARD, Map.of()));
            assertThat(thrown).as(c[0]).isInstanceOf(io.kvmserver.config.InvalidOptionException.class)
                .hasMessageContaining("--cwd " + c[0] + " " + c[1]);
        }
        KvmServerOptions inVolume = KvmServerOptions.builder().program(program.toString()).args(List.of()).cwd("/data")
            .volumes(List.of(new io.kvmserver.config.Volume(dir.toString(), "/data", false))).build();
        Program.prepare(inVolume, DISCARD, Map.of()).close();
        // A volume at "/" (the second wave of that review: the separator was lost, "/sub" was looked
        // for as the host's DIRsub).
        Files.createDirectories(dir.resolve("root").resolve("sub"));
        KvmServerOptions underRoot = KvmServerOptions.builder().program(program.toString()).args(List.of()).cwd("/sub")
            .volumes(List.of(new io.kvmserver.config.Volume(dir.resolve("root").toString(), "/", false))).build();
        Program.prepare(underRoot, DISCARD, Map.of()).close();
    }

    @Test
    void textFile() throws IOException {
        Path p = write("script.txt", "#!/bin/sh\necho hi\n".getBytes(StandardCharsets.US_ASCII));
        assertThat(prepareError(p)).contains("script.txt", "not an ELF");
    }

    @Test
    void emptyFile() throws IOException {
        assertThat(prepareError(write("empty", new byte[0]))).contains("not an ELF");
    }

    @Test
    void thirtyTwoBitElf() throws IOException {
        // A minimal ELFCLASS32 i386 executable header (52 bytes), as gcc -m32 would start one.
        ByteBuffer b = ByteBuffer.allocate(52).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 1, 1, 1, 0}).put(new byte[8]);
        b.putShort((short) 2).putShort((short) 3).putInt(1).putInt(0x8049000).putInt(52).putInt(0).putInt(0)
                .putShort((short) 52).putShort((short) 32).putShort((short) 0).putShort((short) 40)
                .putShort((short) 0).putShort((short) 0);
        assertThat(prepareError(write("elf32", b.array()))).contains("32-bit");
    }

    @Test
    void wrongMachine() throws IOException {
        byte[] elf = validElf();
        elf[18] = (byte) 183; // EM_AARCH64
        elf[19] = 0;
        assertThat(prepareError(write("arm64", elf))).contains("machine 183", "not x86-64");
    }

    @Test
    void truncatedHeader() throws IOException {
        assertThat(prepareError(write("short", Arrays.copyOf(validElf(), 40)))).contains("truncated");
    }

    @Test
    void truncatedProgramHeaders() throws IOException {
        assertThat(prepareError(write("nophdrs", Arrays.copyOf(validElf(), 64)))).contains("truncated");
    }

    @Test
    void truncatedSegments() throws IOException {
        byte[] elf = validElf();
        assertThat(prepareError(write("half", Arrays.copyOf(elf, elf.length / 2)))).contains("truncated");
    }

    @Test
    void theCliReportsBadInputInOneLineWithStatusOne() throws IOException {
        Path text = write("notes.txt", "just text\n".getBytes(StandardCharsets.US_ASCII));
        PrintStream saved = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status;
        try {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            status = KvmServerCli.run(new String[] {text.toString()});
        } finally {
            System.setErr(saved);
        }
        assertThat(status).isEqualTo(1);
        assertThat(err.toString(StandardCharsets.UTF_8))
                .isEqualTo("kvmserver: program " + text + " is not an ELF executable (no ELF magic)\n");
    }

    @Test
    void theCliReportsAMissingProgramAsAUsageError() {
        PrintStream saved = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status;
        try {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            status = KvmServerCli.run(new String[] {dir.resolve("missing").toString()});
        } finally {
            System.setErr(saved);
        }
        assertThat(status).isNotZero();
        assertThat(err.toString(StandardCharsets.UTF_8)).contains(dir.resolve("missing").toString(), "does not exist");
    }

    @Test
    void validProgramPasses() {
        Path hello = GuestPrograms.get("hello");
        KvmServerOptions options = KvmServerOptions.builder().program(hello.toString()).args(List.of())
                .cwd(hello.getParent().toString()).build();
        assertThat(Program.prepare(options, DISCARD, Map.of())).isNotNull();
    }
}
