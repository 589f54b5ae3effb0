package io.kvmserver.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvmserver.elf.ElfException;
import io.kvmserver.testing.GuestPrograms;
import io.kvmserver.testing.GuestRun;
import io.kvmserver.testing.HostTools;
import io.kvmserver.testing.RequiresKvm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A dynamic program is granted, without any grant of the operator's, the files its loader needs:
 * the loader, its cache and the libraries its headers name. The headers are the program's, and a
 * hostile program names there whatever it wants read ({@code hostile_needed.c} linked with a
 * library whose soname is a secret's path, a run path of the secret's directory, or a real library
 * outside the library directories), with a loader of its own that reads what was granted
 * ({@code hostile_loader.c}). Only libraries where libraries are may be granted.
 */
@RequiresKvm
class DynamicGrantsTest {

    private static final String SECRET = "SECRET CONTENT";

    @TempDir
    static Path root;
    static Path app;
    static Path secrets;
    static Path secret;
    static Path loader;

    @BeforeAll
    static void buildTheProgramsAndTheirLibraries() throws Exception {
        app = Files.createDirectories(root.resolve("app"));
        secrets = Files.createDirectories(root.resolve("secrets"));
        secret = Files.writeString(secrets.resolve("secret.txt"), SECRET);
        loader = app.resolve("loader");
        gcc("-nostdlib", "-static-pie", "-fPIE", "-o", loader.toString(), source("hostile_loader"));
        Files.copy(loader, secrets.resolve("loader"));
        // A real shared object outside the library directories: ELF, but nobody's library.
        gcc("-shared", "-fPIC", "-o", secrets.resolve("libsecret.so").toString(), source("hostile_needed_lib"),
                "-Wl,-soname," + secrets.resolve("libsecret.so"));
        library("libabsolute.so", secret.toString());
        library("librunpath.so", "secret.txt");
        library("libelf.so", secrets.resolve("libsecret.so").toString());
        library("libneeded.so", "libneeded.so");
        library("libbeside.so", app.resolve("private.env").toString());
        Files.writeString(app.resolve("private.env"), SECRET);
        program("absolute", "libabsolute.so", loader, List.of());
        program("runpath", "librunpath.so", loader, List.of("-Wl,-rpath," + secrets));
        program("elf", "libelf.so", loader, List.of());
        program("beside", "libbeside.so", loader, List.of());
        program("foreign-loader", "libneeded.so", secrets.resolve("loader"), List.of());
        program("origin", "libneeded.so", null, List.of("-Wl,-rpath,$ORIGIN"));
        // A JDK's or a CMake install's layout: bin/program, lib/library, RUNPATH $ORIGIN/../lib.
        Path installBin = Files.createDirectories(root.resolve("install/bin"));
        Path installLib = Files.createDirectories(root.resolve("install/lib"));
        Files.copy(app.resolve("libneeded.so"), installLib.resolve("libneeded.so"));
        gcc("-o", installBin.resolve("program").toString(), source("hostile_needed"), "-L" + app, "-l:libneeded.so",
                "-Wl,-rpath,$ORIGIN/../lib");
        // A deploy symlink: current -> app, the program started through it.
        Files.createSymbolicLink(root.resolve("current"), app);
    }

    @Test
    void aLibraryNamedByItsPathOutsideTheLibraryDirectoriesIsNotGranted() {
        assertThat(read("absolute", secret)).isEqualTo("open errno=02\n");
    }

    @Test
    void aRunPathOutsideTheLibraryDirectoriesGrantsNothing() {
        assertThat(read("runpath", secret)).isEqualTo("open errno=02\n");
    }

    @Test
    void aSharedObjectOutsideTheLibraryDirectoriesIsNotGranted() {
        assertThat(read("elf", secrets.resolve("libsecret.so"))).isEqualTo("open errno=02\n");
    }

    /** The program's directory holds its libraries, and maybe its secrets: only shared objects are granted. */
    @Test
    void aFileBesideTheProgramThatIsNoLibraryIsNotGranted() {
        assertThat(read("beside", app.resolve("private.env"))).isEqualTo("open errno=02\n");
    }

    /** The engine reads the loader into the guest: one the program names must be where loaders are. */
    @Test
    void aLoaderOutsideTheLibraryDirectoriesTakesTheOperatorsGrant() {
        Path program = app.resolve("foreign-loader");
        assertThatThrownBy(() -> GuestRun.run(program, List.of(secret.toString())))
                .isInstanceOf(ElfException.class)
                .hasMessageContaining("names " + secrets.resolve("loader") + " as its dynamic loader")
                .hasMessageEndingWith("allow it with --allow-read=" + secrets.resolve("loader"));
        GuestRun.Outcome granted = GuestRun.run(program, List.of(secret.toString()),
                b -> b.allowRead(List.of(secrets.toString())));
        assertThat(granted.stdout()).isEqualTo("read: " + SECRET + "\n");
    }

    /** What the grants are for: a library beside the program, found through $ORIGIN, loads. */
    @Test
    void aLibraryBesideTheProgramLoadsThroughItsOriginRunPath() {
        GuestRun.Outcome outcome = GuestRun.run(app.resolve("origin"), List.of());
        assertThat(outcome.status()).as(outcome.toString()).isEqualTo(42);
    }

    @Test
    void aLibraryInTheInstallsLibDirectoryLoadsThroughOriginDotDot() {
        GuestRun.Outcome outcome = GuestRun.run(root.resolve("install/bin/program"), List.of());
        assertThat(outcome.status()).as(outcome.toString()).isEqualTo(42);
    }

    @Test
    void aProgramStartedThroughADeploySymlinkFindsItsLibraryBesideIt() {
        GuestRun.Outcome outcome = GuestRun.run(root.resolve("current/origin"), List.of());
        assertThat(outcome.status()).as(outcome.toString()).isEqualTo(42);
    }

    private static String read(String program, Path file) {
        GuestRun.Outcome outcome = GuestRun.run(app.resolve(program), List.of(file.toString()));
        assertThat(outcome.stdout()).as(outcome.toString()).doesNotContain(SECRET);
        return outcome.stdout();
    }

    private static void library(String file, String soname) {
        gcc("-shared", "-fPIC", "-o", app.resolve(file).toString(), source("hostile_needed_lib"), "-Wl,-soname," + soname);
    }

    private static void program(String name, String library, Path programLoader, List<String> flags) {
        List<String> args = new ArrayList<>(List.of("-o", app.resolve(name).toString(), source("hostile_needed"),
                "-L" + app, "-l:" + library));
        if (programLoader != null) {
            args.add("-Wl,--dynamic-linker=" + programLoader);
        }
        args.addAll(flags);
        gcc(args.toArray(String[]::new));
    }

    private static String source(String name) {
        return GuestPrograms.sourceDirectory().resolve(name + ".c").toString();
    }

    private static void gcc(String... args) {
        List<String> command = new ArrayList<>(List.of("gcc", "-O2"));
        command.addAll(List.of(args));
        HostTools.run(command);
    }
}
