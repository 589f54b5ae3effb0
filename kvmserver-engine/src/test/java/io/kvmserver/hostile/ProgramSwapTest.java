package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.elf.DynamicDependencies;
import io.kvmserver.elf.ElfException;
import io.kvmserver.elf.ElfFile;
import io.kvmserver.linux.GuestConsole;
import io.kvmserver.sandbox.Access;
import io.kvmserver.sandbox.Resolution;
import io.kvmserver.server.Program;
import io.kvmserver.testing.GuestPrograms;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Whoever may write the program's directory swaps the program for a symlink to a secret while the
 * engine starts (found by the review of 2026-12-05, third round that day): the engine read the
 * program by its name, then resolved the name again for the grant of {@code /proc/self/exe}, so a
 * swap in between granted the secret, and the program read it through {@code /proc/self/exe}. The
 * grant must name the file that was read. A thread swaps the name back and forth as fast as it can
 * while the program is prepared again and again: no preparation may end with the secret readable.
 */
class ProgramSwapTest {

    private static final GuestConsole DISCARD = (stream, address, length) -> length;

    @TempDir
    Path dir;

    /**
     * The program's own directory, where its libraries may be, is the directory of the file read
     * (the second wave of that review: it was the directory of what the name resolved to later,
     * so a swap made a private directory's shared objects the program's own libraries).
     */
    @Test
    void theProgramsOwnDirectoryIsTheOneOfTheFileRead() throws Exception {
        Path app = Files.createDirectories(dir.resolve("app"));
        Path secrets = Files.createDirectories(dir.resolve("secrets"));
        Path program = Files.copy(GuestPrograms.get("hello"), app.resolve("program"));
        Files.writeString(secrets.resolve("libsecret.so"), "S");
        ElfFile read = ElfFile.read(program);
        Files.delete(program);
        Files.createSymbolicLink(program, secrets.resolve("libsecret.so"));
        assertThat(DynamicDependencies.homes(read)).contains(app.toRealPath()).doesNotContain(secrets.toRealPath());
    }

    @Test
    void aProgramSwappedForALinkToASecretWhileItIsPreparedNeverGrantsTheSecret() throws Exception {
        Path program = dir.resolve("program");
        Path elfCopy = dir.resolve("program.elf");
        Path link = dir.resolve("program.link");
        Path secret = Files.writeString(Files.createDirectories(dir.resolve("secrets")).resolve("secret.txt"), "S");
        Files.copy(GuestPrograms.get("hello"), elfCopy);
        elfCopy.toFile().setExecutable(true);
        Files.copy(elfCopy, program);
        KvmServerOptions options = KvmServerOptions.builder().program(program.toString()).args(List.of())
                .cwd(dir.toString()).build();
        AtomicBoolean running = new AtomicBoolean(true);
        Thread swapper = new Thread(() -> {
            try {
                while (running.get()) {
                    Files.createSymbolicLink(link, secret);
                    Files.move(link, program, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                    Files.copy(elfCopy, link.resolveSibling("program.next"), StandardCopyOption.REPLACE_EXISTING);
                    link.resolveSibling("program.next").toFile().setExecutable(true);
                    Files.move(link.resolveSibling("program.next"), program, StandardCopyOption.ATOMIC_MOVE,
                            StandardCopyOption.REPLACE_EXISTING);
                    Thread.sleep(0, 200_000); // the program in place most of the time, the link briefly
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        swapper.start();
        // Prepare until both sides of the race were seen often enough, not a fixed number of times:
        // how the swapper's steps interleave with a preparation depends on the machine's load.
        int prepared = 0;
        int refused = 0;
        long deadline = System.nanoTime() + 60_000_000_000L;
        try {
            for (int i = 0; (prepared < 100 || refused < 20) && System.nanoTime() < deadline; i++) {
                Program p;
                try {
                    p = Program.prepare(options, DISCARD, Map.of());
                } catch (ElfException e) {
                    refused++; // the secret is no ELF, or the file read was replaced while read: refused
                    continue;
                }
                try (p) {
                    prepared++;
                    Resolution exe = p.kernel().fileSystem().resolve("/", "/proc/self/exe", Access.READ);
                    assertThat(exe.hostPath()).as("preparation %d: /proc/self/exe", i).isNotEqualTo(secret.toString());
                    assertThat(p.kernel().fileSystem().resolve("/", secret.toString(), Access.READ).kind())
                            .as("preparation %d: the secret by its path", i).isEqualTo(Resolution.Kind.DENIED);
                }
            }
        } finally {
            running.set(false);
            swapper.join();
        }
        assertThat(prepared).as("preparations that read the program").isGreaterThanOrEqualTo(100);
        assertThat(refused).as("preparations that met the link and were refused").isGreaterThanOrEqualTo(20);
    }
}
