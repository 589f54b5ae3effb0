package io.kvmserver.sandbox;

import static io.kvmserver.sandbox.Access.READ;
import static io.kvmserver.sandbox.Access.WRITE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.config.Volume;
import io.kvmserver.host.Errno;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileSystemPolicyTest {

    @TempDir
    Path tmp;

    /** The real temp directory, with ro/, rw/, secret/, foo/ and foobar/ each holding a file. */
    private Path root;
    private Path program;

    @BeforeEach
    void setUp() throws IOException {
        root = tmp.toRealPath();
        for (String dir : List.of("ro", "rw", "secret", "foo", "foobar")) {
            Files.createDirectory(root.resolve(dir));
            Files.writeString(root.resolve(dir).resolve("file"), dir);
        }
        program = Files.writeString(root.resolve("program"), "ELF");
    }

    private FileSystemPolicy policy(UnaryOperator<KvmServerOptions.Builder> options, Set<Path> implicit) {
        KvmServerOptions built = options.apply(KvmServerOptions.builder().program(program.toString())).build();
        return new FileSystemPolicy(built, program, implicit);
    }

    /** Reads ro/ and foo/, writes rw/. */
    private FileSystemPolicy standard() {
        return policy(b -> b.allowRead(List.of(p("ro"), p("foo"))).allowWrite(List.of(p("rw"))), Set.of());
    }

    private String p(String relative) {
        return root.resolve(relative).toString();
    }

    private static Resolution.Kind kind(Resolution r) {
        return r.kind();
    }

    private static void assertAllowed(Resolution r, String hostPath) {
        assertThat(r.kind()).as("%s", r).isEqualTo(Resolution.Kind.ALLOWED);
        assertThat(r.hostPath()).isEqualTo(hostPath);
    }

    private static void assertVirtual(Resolution r, String name, String guestPath) {
        assertThat(r.kind()).as("%s", r).isEqualTo(Resolution.Kind.VIRTUAL);
        assertThat(r.virtualName()).isEqualTo(name);
        assertThat(r.guestPath()).isEqualTo(guestPath);
    }

    private static void assertDenied(Resolution r, int errno) {
        assertThat(r.kind()).as("%s", r).isEqualTo(Resolution.Kind.DENIED);
        assertThat(r.errno()).as("%s", r).isEqualTo(errno);
    }

    @Nested
    class LexicalRules {

        @Test
        void readsInsideAnAllowedTree() {
            Resolution r = standard().resolve("/", p("ro/file"), READ);

            assertAllowed(r, p("ro/file"));
            assertThat(r.guestPath()).isEqualTo(p("ro/file"));
        }

        @Test
        void resolvesRelativePathsAgainstTheGuestCwd() {
            assertAllowed(standard().resolve(p("ro"), "file", READ), p("ro/file"));
            assertAllowed(standard().resolve(p("ro"), "./file", READ), p("ro/file"));
            assertAllowed(standard().resolve(p("secret"), "../ro/file", READ), p("ro/file"));
        }

        @Test
        void dotDotCannotEscapeAnAllowedTree() {
            assertDenied(standard().resolve(p("ro"), "../secret/file", READ), Errno.ENOENT);
            assertDenied(standard().resolve("/", p("ro") + "/../secret/file", READ), Errno.ENOENT);
        }

        @Test
        void dotDotNeverGoesAboveRoot() {
            Resolution r = standard().resolve("/", "/../../.." + p("ro/file"), READ);

            assertAllowed(r, p("ro/file"));
            assertThat(r.guestPath()).isEqualTo(p("ro/file"));
            assertAllowed(standard().resolve("/", "../../../.." + p("ro/file"), READ), p("ro/file"));
        }

        @Test
        void collapsesDuplicateSlashes() {
            Resolution r = standard().resolve("/", "/" + p("ro").replace("/", "//") + "///file", READ);

            assertAllowed(r, p("ro/file"));
            assertThat(r.guestPath()).isEqualTo(p("ro/file"));
        }

        @Test
        void aTrailingSlashNamesADirectory() {
            assertDenied(standard().resolve("/", p("ro/file") + "/", READ), Errno.ENOTDIR);
            assertDenied(standard().resolve("/", p("ro/file") + "/.", READ), Errno.ENOTDIR);
            assertAllowed(standard().resolve("/", p("ro") + "//", READ), p("ro"));
            assertThat(standard().resolve("/", p("rw/new") + "/", WRITE).namesDirectory()).isTrue();
        }

        @Test
        void matchesTreesBySegmentNotByString() {
            assertAllowed(standard().resolve("/", p("foo/file"), READ), p("foo/file"));
            assertAllowed(standard().resolve("/", p("foo"), READ), p("foo"));
            assertDenied(standard().resolve("/", p("foobar/file"), READ), Errno.ENOENT);
            assertDenied(standard().resolve("/", p("foobar"), READ), Errno.ENOENT);
        }

        @Test
        void ancestorsOfGrantsAreNotReadable() {
            assertDenied(standard().resolve("/", p(""), READ), Errno.ENOENT);
            assertDenied(standard().resolve("/", "/", READ), Errno.ENOENT);
        }

        @Test
        void emptyPathIsENOENT() {
            assertDenied(standard().resolve("/", "", READ), Errno.ENOENT);
        }

        @Test
        void tooLongPathsAreENAMETOOLONG() {
            FileSystemPolicy policy = policy(b -> b.allowRead(List.of("/")), Set.of());
            String longest = "/" + "a/".repeat(2047);

            assertThat(longest).hasSize(4095);
            assertDenied(policy.resolve("/", longest, READ), Errno.ENOENT);
            assertDenied(policy.resolve("/", longest + "b", READ), Errno.ENAMETOOLONG);
            assertDenied(policy.resolve("/", p("ro") + "/" + "x".repeat(255), READ), Errno.ENOENT);
            assertDenied(policy.resolve("/", p("ro") + "/" + "x".repeat(256), READ), Errno.ENAMETOOLONG);
            assertDenied(policy.resolve("/", p("ro") + "/" + "é".repeat(128), READ), Errno.ENAMETOOLONG);
            assertDenied(policy.resolve("/", "x".repeat(256) + "/..", READ), Errno.ENAMETOOLONG);
        }

        @Test
        void rejectsARelativeGuestCwd() {
            assertThatThrownBy(() -> standard().resolve("relative", "file", READ))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Nested
    class ReadAndWrite {

        @Test
        void writeImpliesRead() {
            assertAllowed(standard().resolve("/", p("rw/file"), READ), p("rw/file"));
            assertAllowed(standard().resolve("/", p("rw/file"), WRITE), p("rw/file"));
        }

        @Test
        void writingAReadOnlyPathIsEACCES() {
            assertDenied(standard().resolve("/", p("ro/file"), WRITE), Errno.EACCES);
            assertDenied(standard().resolve("/", p("ro/new"), WRITE), Errno.EACCES);
        }

        @Test
        void writingOutsideEverythingIsENOENT() {
            assertDenied(standard().resolve("/", p("secret/file"), WRITE), Errno.ENOENT);
            assertDenied(standard().resolve("/", p("secret/new"), WRITE), Errno.ENOENT);
        }

        @Test
        void readingAMissingFileIsENOENT() {
            assertDenied(standard().resolve("/", p("ro/missing"), READ), Errno.ENOENT);
        }

        @Test
        void creatingChecksTheRealParent() {
            assertAllowed(standard().resolve(p("rw"), "new", WRITE), p("rw/new"));
        }

        @Test
        void creatingUnderAMissingDirectoryIsENOENT() {
            assertDenied(standard().resolve("/", p("rw/missing/new"), WRITE), Errno.ENOENT);
        }

        @Test
        void aFileUsedAsDirectoryIsENOTDIR() {
            assertDenied(standard().resolve("/", p("ro/file/x"), READ), Errno.ENOTDIR);
        }

        @Test
        void mayWriteAnswersForAFileByThePathItWasOpenedWith() {
            FileSystemPolicy policy = standard();

            assertThat(policy.mayWrite(p("ro/file"), root.resolve("ro/file"))).isFalse();
            assertThat(policy.mayWrite(p("rw/file"), root.resolve("rw/file"))).isTrue();
            assertThat(policy.mayWrite(p("secret/file"), root.resolve("secret/file"))).isFalse();
            assertThat(policy.mayWrite(p("foobar/file"), root.resolve("foobar/file"))).isFalse();
        }

        @Test
        void allowAllGrantsEverything() {
            FileSystemPolicy policy = policy(b -> b.allowAll(true), Set.of());

            assertAllowed(policy.resolve("/", p("secret/file"), READ), p("secret/file"));
            assertAllowed(policy.resolve("/", p("secret/new"), WRITE), p("secret/new"));
            assertAllowed(policy.resolve("/", "/proc/version", READ), "/proc/version");
        }
    }

    @Nested
    class Symlinks {

        @Test
        void followsALinkThatStaysInsideAndReturnsTheRealPath() throws IOException {
            Files.createSymbolicLink(root.resolve("ro/link"), Path.of("file"));

            Resolution r = standard().resolve("/", p("ro/link"), READ);

            assertAllowed(r, p("ro/file"));
            assertThat(r.guestPath()).isEqualTo(p("ro/link"));
        }

        @Test
        void anAbsoluteLinkOutsideIsENOENT() throws IOException {
            Files.createSymbolicLink(root.resolve("ro/abs"), root.resolve("secret/file"));

            assertDenied(standard().resolve("/", p("ro/abs"), READ), Errno.ENOENT);
        }

        @Test
        void aRelativeLinkOutsideIsENOENT() throws IOException {
            Files.createSymbolicLink(root.resolve("ro/rel"), Path.of("../secret/file"));

            assertDenied(standard().resolve("/", p("ro/rel"), READ), Errno.ENOENT);
        }

        @Test
        void aLinkToTheSegmentNeighbourIsENOENT() throws IOException {
            Files.createSymbolicLink(root.resolve("foo/neighbour"), Path.of("../foobar/file"));

            assertDenied(standard().resolve("/", p("foo/neighbour"), READ), Errno.ENOENT);
        }

        @Test
        void aLinkedParentDirectoryOutsideIsENOENT() throws IOException {
            Files.createSymbolicLink(root.resolve("ro/dir"), root.resolve("secret"));

            assertDenied(standard().resolve("/", p("ro/dir/file"), READ), Errno.ENOENT);
            assertDenied(standard().resolve(p("ro/dir"), "file", READ), Errno.ENOENT);
        }

        @Test
        void dotDotInALinkTargetIsPhysical() throws IOException {
            Files.createDirectories(root.resolve("secret/deep"));
            Files.createSymbolicLink(root.resolve("ro/deep"), root.resolve("secret/deep"));
            Files.createSymbolicLink(root.resolve("ro/up"), Path.of("deep/../file"));

            assertDenied(standard().resolve("/", p("ro/up"), READ), Errno.ENOENT);
        }

        @Test
        void aLinkLoopIsELOOP() throws IOException {
            Files.createSymbolicLink(root.resolve("ro/a"), Path.of("b"));
            Files.createSymbolicLink(root.resolve("ro/b"), Path.of("a"));
            Files.createSymbolicLink(root.resolve("ro/self"), Path.of("self/x"));

            assertDenied(standard().resolve("/", p("ro/a"), READ), Errno.ELOOP);
            assertDenied(standard().resolve("/", p("ro/self"), READ), Errno.ELOOP);
        }

        @Test
        void followsFortyLinksButNotFortyOne() throws IOException {
            Path target = root.resolve("ro/file");
            for (int i = 1; i <= 41; i++) {
                Files.createSymbolicLink(root.resolve("ro/l" + i), i == 1 ? target.getFileName() : Path.of("l" + (i - 1)));
            }

            assertAllowed(standard().resolve("/", p("ro/l40"), READ), p("ro/file"));
            assertDenied(standard().resolve("/", p("ro/l41"), READ), Errno.ELOOP);
        }

        @Test
        void aWritableLinkToAReadOnlyFileIsEACCESForWrites() throws IOException {
            Files.createSymbolicLink(root.resolve("rw/tro"), root.resolve("ro/file"));

            assertAllowed(standard().resolve("/", p("rw/tro"), READ), p("ro/file"));
            assertDenied(standard().resolve("/", p("rw/tro"), WRITE), Errno.EACCES);
        }

        @Test
        void aDanglingLinkCreatesItsTargetOnlyInsideTheWritableSet() throws IOException {
            Files.createSymbolicLink(root.resolve("rw/dangling"), Path.of("created"));
            Files.createSymbolicLink(root.resolve("rw/escape"), root.resolve("secret/created"));

            assertAllowed(standard().resolve("/", p("rw/dangling"), WRITE), p("rw/created"));
            assertDenied(standard().resolve("/", p("rw/dangling"), READ), Errno.ENOENT);
            assertDenied(standard().resolve("/", p("rw/escape"), WRITE), Errno.ENOENT);
        }

        @Test
        void noFollowReturnsTheLinkItself() throws IOException {
            Files.createSymbolicLink(root.resolve("rw/out"), root.resolve("secret/file"));

            assertAllowed(standard().resolveNoFollow("/", p("rw/out"), WRITE), p("rw/out"));
            assertDenied(standard().resolve("/", p("rw/out"), WRITE), Errno.ENOENT);
        }

        @Test
        void noFollowStillResolvesLinkedParents() throws IOException {
            Files.createSymbolicLink(root.resolve("rw/dir"), root.resolve("secret"));
            Files.createSymbolicLink(root.resolve("ro/rwdir"), root.resolve("rw"));

            assertDenied(standard().resolveNoFollow("/", p("rw/dir/file"), WRITE), Errno.ENOENT);
            assertAllowed(standard().resolveNoFollow("/", p("ro/rwdir/file"), READ), p("rw/file"));
        }

        @Test
        void aGrantedLinkIsResolvedAtConstruction() throws IOException {
            Files.createSymbolicLink(root.resolve("alias"), root.resolve("secret"));
            FileSystemPolicy policy = policy(b -> b.allowRead(List.of(p("alias"))).allowWrite(List.of(p("rw"))),
                    Set.of());
            Files.createSymbolicLink(root.resolve("rw/viaAlias"), root.resolve("alias/file"));

            assertAllowed(policy.resolve("/", p("alias/file"), READ), p("secret/file"));
            assertAllowed(policy.resolve("/", p("rw/viaAlias"), READ), p("secret/file"));
        }

        @Test
        void aWalkThroughAnUngrantedLinkIsRefusedEvenIfItLeadsBackInside() throws IOException {
            Files.createSymbolicLink(root.resolve("detour"), root.resolve("ro"));
            Files.createSymbolicLink(root.resolve("rw/viaDetour"), root.resolve("detour/file"));

            assertDenied(standard().resolve("/", p("rw/viaDetour"), READ), Errno.ENOENT);
        }
    }

    @Nested
    class Volumes {

        private Path volume;

        @BeforeEach
        void createVolume() throws IOException {
            volume = Files.createDirectory(root.resolve("vol"));
            Files.writeString(volume.resolve("file"), "vol");
        }

        private FileSystemPolicy withVolume(String guest, boolean writable) {
            return policy(b -> b.volumes(List.of(new Volume(volume.toString(), guest, writable))), Set.of());
        }

        @Test
        void mapsTheGuestPrefixToTheHostPath() {
            Resolution r = withVolume("/data", false).resolve("/data", "file", READ);

            assertAllowed(r, volume.resolve("file").toString());
            assertThat(r.guestPath()).isEqualTo("/data/file");
            assertAllowed(withVolume("/data", false).resolve("/", "/data", READ), volume.toString());
        }

        @Test
        void isReadOnlyUnlessWritable() {
            assertDenied(withVolume("/data", false).resolve("/", "/data/file", WRITE), Errno.EACCES);
            assertDenied(withVolume("/data", false).resolve("/", "/data/new", WRITE), Errno.EACCES);
            assertAllowed(withVolume("/data", true).resolve("/", "/data/new", WRITE), volume.resolve("new").toString());
        }

        @Test
        void matchesTheGuestPrefixBySegment() throws IOException {
            Files.createDirectory(root.resolve("xy"));
            Files.writeString(root.resolve("xy/file"), "xy");
            FileSystemPolicy policy = policy(b -> b.allowRead(List.of(p("")))
                    .volumes(List.of(new Volume(volume.toString(), p("x"), false))), Set.of());

            assertAllowed(policy.resolve("/", p("x/file"), READ), volume.resolve("file").toString());
            assertAllowed(policy.resolve("/", p("xy/file"), READ), p("xy/file"));
        }

        @Test
        void theHostLocationIsNotVisibleUnderItsOwnName() {
            assertDenied(withVolume("/data", true).resolve("/", volume.resolve("file").toString(), READ),
                    Errno.ENOENT);
        }

        @Test
        void dotDotLeavesTheVolumeLexically() {
            assertDenied(withVolume("/data", true).resolve("/data", "../data/../etc/passwd", READ), Errno.ENOENT);
            assertAllowed(withVolume("/data", true).resolve("/data", "../data/./file", READ),
                    volume.resolve("file").toString());
        }

        @Test
        void aLinkOutOfTheVolumeIsENOENT() throws IOException {
            Files.createSymbolicLink(volume.resolve("out"), Path.of("../secret/file"));

            assertDenied(withVolume("/data", true).resolve("/", "/data/out", READ), Errno.ENOENT);
        }

        @Test
        void theLongestGuestPrefixWins() throws IOException {
            Path inner = Files.createDirectory(root.resolve("inner"));
            Files.writeString(inner.resolve("file"), "inner");
            FileSystemPolicy policy = policy(b -> b.volumes(List.of(new Volume(volume.toString(), "/data", false),
                    new Volume(inner.toString(), "/data/inner", true))), Set.of());

            assertAllowed(policy.resolve("/", "/data/inner/file", WRITE), inner.resolve("file").toString());
            assertDenied(policy.resolve("/", "/data/file", WRITE), Errno.EACCES);
            assertThat(policy.mayWrite("/data/inner/file", inner.resolve("file"))).isTrue();
            assertThat(policy.mayWrite("/data/file", volume.resolve("file"))).isFalse();
        }

        @Test
        void aReadOnlyVolumeInsideAWritableOnesHostTreeIsReadOnlyAndCannotBeMoved() throws IOException {
            Path secrets = Files.createDirectories(volume.resolve("etc/secrets"));
            Files.writeString(secrets.resolve("key"), "key");
            FileSystemPolicy policy = policy(b -> b.volumes(List.of(new Volume(volume.toString(), "/app", true),
                    new Volume(secrets.toString(), "/app/etc/secrets", false))), Set.of());

            assertThat(policy.mayWrite("/app/etc/secrets/key", secrets.resolve("key"))).isFalse();
            assertThat(policy.mayWrite("/app/etc/other", volume.resolve("etc/other"))).isTrue();
            assertThat(policy.holdsMountPoint("/app/etc", volume.resolve("etc").toString())).isTrue();
            assertThat(policy.holdsMountPoint("/app", volume.toString())).isTrue();
            assertThat(policy.holdsMountPoint("/app/etc/other", volume.resolve("etc/other").toString())).isFalse();
            assertThat(policy.holdsMountPoint("/elsewhere", secrets.getParent().toString())).as("by its host path").isTrue();
        }

        @Test
        void programGuestPathIsSeenThroughTheVolume() throws IOException {
            Path inVolume = Files.writeString(volume.resolve("server"), "ELF");
            KvmServerOptions options = KvmServerOptions.builder().program(inVolume.toString())
                    .volumes(List.of(new Volume(volume.toString(), "/app", false))).build();

            FileSystemPolicy policy = new FileSystemPolicy(options, inVolume, Set.of());

            assertThat(policy.programGuestPath()).isEqualTo("/app/server");
            assertThat(standard().programGuestPath()).isEqualTo(program.toString());
        }
    }

    @Nested
    class AlwaysAllowed {

        @Test
        void theProgramIsReadableButNotWritable() {
            assertAllowed(standard().resolve("/", program.toString(), READ), program.toString());
            assertDenied(standard().resolve("/", program.toString(), WRITE), Errno.EACCES);
            assertDenied(standard().resolve("/", p("other"), READ), Errno.ENOENT);
        }

        @Test
        void theProgramMayBeALink() throws IOException {
            Path link = Files.createSymbolicLink(root.resolve("secret/python3"), program);
            KvmServerOptions options = KvmServerOptions.builder().program(link.toString()).build();

            FileSystemPolicy policy = new FileSystemPolicy(options, link, Set.of());

            assertAllowed(policy.resolve("/", link.toString(), READ), program.toString());
            assertAllowed(policy.resolve("/", "/proc/self/exe", READ), program.toString());
            assertDenied(policy.resolve("/", p("secret/file"), READ), Errno.ENOENT);
        }

        @Test
        void aMissingProgramIsRefused() {
            KvmServerOptions options = KvmServerOptions.builder().program("/missing").build();

            assertThatThrownBy(() -> new FileSystemPolicy(options, root.resolve("missing"), Set.of()))
                    .hasMessage("program " + root.resolve("missing") + " does not exist");
        }

        @Test
        void devicesForRandomnessAndNothing() {
            FileSystemPolicy policy = standard();

            for (String device : List.of("/dev/null", "/dev/zero")) {
                assertAllowed(policy.resolve("/", device, READ), device);
                assertAllowed(policy.resolve("/", device, WRITE), device);
            }
            for (String device : List.of("/dev/urandom", "/dev/random")) {
                assertAllowed(policy.resolve("/", device, READ), device);
                assertDenied(policy.resolve("/", device, WRITE), Errno.EACCES);
            }
        }

        @Test
        void otherDevicesProcAndSysStayHiddenFromBroadGrants() {
            assumeTrue(Files.exists(Path.of("/dev/full")) && Files.exists(Path.of("/proc/version")));
            FileSystemPolicy policy = policy(b -> b.allowRead(List.of("/")).allowWrite(List.of("/tmp")), Set.of());

            assertAllowed(policy.resolve("/", p("secret/file"), READ), p("secret/file"));
            assertDenied(policy.resolve("/", "/dev/full", READ), Errno.ENOENT);
            assertDenied(policy.resolve("/", "/dev", READ), Errno.ENOENT);
            assertDenied(policy.resolve("/", "/proc/version", READ), Errno.ENOENT);
            assertDenied(policy.resolve("/", "/proc/1/environ", READ), Errno.ENOENT);
            assertDenied(policy.resolve("/", "/sys", READ), Errno.ENOENT);
        }

        @Test
        void aGrantInsideAPseudoFileSystemReachesIt() {
            assumeTrue(Files.isDirectory(Path.of("/proc/sys")));
            FileSystemPolicy policy = policy(b -> b.allowRead(List.of("/proc/sys")), Set.of());

            assertAllowed(policy.resolve("/", "/proc/sys", READ), "/proc/sys");
            assertDenied(policy.resolve("/", "/proc/version", READ), Errno.ENOENT);
        }

        @Test
        void implicitlyReadableFilesAreReadableByTheirNameAndRealPathOnly() throws IOException {
            Path libDir = Files.createDirectories(root.resolve("secret/usr/lib"));
            Path loader = Files.writeString(libDir.resolve("ld.so.2"), "ELF");
            Files.writeString(libDir.resolve("other.so"), "ELF");
            Files.createSymbolicLink(root.resolve("secret/lib"), Path.of("usr/lib"));
            Files.createDirectory(root.resolve("secret/lib64"));
            Path loaderLink = Files.createSymbolicLink(root.resolve("secret/lib64/ld.so"), root.resolve("secret/lib/ld.so.2"));

            // As the engine passes them: each file's name and the real path of what it read.
            FileSystemPolicy policy = policy(b -> b, Set.of(loaderLink, loader));

            assertAllowed(policy.resolve("/", loaderLink.toString(), READ), loader.toString());
            assertDenied(policy.resolve("/", p("secret/lib/ld.so.2"), READ), Errno.ENOENT);
            assertAllowed(policy.resolve("/", loader.toString(), READ), loader.toString());
            assertDenied(policy.resolve("/", p("secret/lib/other.so"), READ), Errno.ENOENT);
            assertDenied(policy.resolve("/", libDir.resolve("other.so").toString(), READ), Errno.ENOENT);
            assertDenied(policy.resolve("/", loader.toString(), WRITE), Errno.EACCES);
        }

        @Test
        void aNameAloneDoesNotGrantWhatItLinksToNow() throws IOException {
            // The name was checked and read as a library; by the time the policy is built it may
            // be a link to anything (a swap while the engine started): only what was read is granted.
            Path secretFile = Files.writeString(root.resolve("secret/key"), "KEY");
            Path swapped = Files.createSymbolicLink(root.resolve("lib.so"), secretFile);

            FileSystemPolicy policy = policy(b -> b, Set.of(swapped));

            assertDenied(policy.resolve("/", swapped.toString(), READ), Errno.ENOENT);
            assertDenied(policy.resolve("/", secretFile.toString(), READ), Errno.ENOENT);
        }
    }

    @Nested
    class ProcSelf {

        @Test
        void exeOpensTheProgram() {
            Resolution r = standard().resolve("/", "/proc/self/exe", READ);

            assertAllowed(r, program.toString());
            assertThat(r.guestPath()).isEqualTo("/proc/self/exe");
            assertDenied(standard().resolve("/", "/proc/self/exe", WRITE), Errno.EACCES);
        }

        @Test
        void readlinkOfExeIsVirtual() {
            assertVirtual(standard().resolveNoFollow("/", "/proc/self/exe", READ), "exe", "/proc/self/exe");
        }

        @Test
        void otherSelfPathsAreVirtual() {
            assertVirtual(standard().resolve("/", "/proc/self/maps", READ), "maps", "/proc/self/maps");
            assertVirtual(standard().resolve("/proc", "self/fd/3", READ), "fd/3", "/proc/self/fd/3");
            assertVirtual(standard().resolve("/", "/proc/self", READ), "", "/proc/self");
            assertThat(kind(standard().resolve("/", "/proc/selfish", READ))).isEqualTo(Resolution.Kind.DENIED);
        }

        @Test
        void dotDotOutOfSelfIsNotVirtual() {
            assertDenied(standard().resolve("/", "/proc/self/../1/environ", READ), Errno.ENOENT);
            assertDenied(standard().resolve("/proc/self", "../1/maps", READ), Errno.ENOENT);
        }

        @Test
        void theJvmsOwnProcIsOutOfReachEvenWithAllowAll() {
            // Its mem is the engine's memory and every VM's; reached by pid, by a thread's id,
            // or through the host's thread-self link.
            FileSystemPolicy policy = policy(b -> b.allowAll(true), Set.of());
            long pid = ProcessHandle.current().pid();
            long thread = Long.parseLong(readThreadSelf());
            assertDenied(policy.resolve("/", "/proc/" + pid + "/mem", WRITE), Errno.ENOENT);
            assertDenied(policy.resolve("/", "/proc/" + pid + "/environ", READ), Errno.ENOENT);
            assertDenied(policy.resolve("/", "/proc/" + thread + "/mem", WRITE), Errno.ENOENT);
            assertDenied(policy.resolve("/", "/proc/thread-self/maps", READ), Errno.ENOENT);
            assertDenied(policy.resolve("/", "/proc/" + pid + "/task/" + thread + "/mem", READ), Errno.ENOENT);
            assertAllowed(policy.resolve("/", "/proc/1/status", READ), "/proc/1/status");
        }

        private static String readThreadSelf() {
            try {
                return Files.readSymbolicLink(Path.of("/proc/thread-self")).getFileName().toString();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        @Test
        void staysVirtualWithAllowAll() {
            FileSystemPolicy policy = policy(b -> b.allowAll(true), Set.of());

            Resolution maps = policy.resolve("/", "/proc/self/maps", READ);
            assertThat(maps.kind()).isEqualTo(Resolution.Kind.VIRTUAL);
            assertThat(maps.virtualName()).isEqualTo("maps");
            assertThat(maps.guestPath()).isEqualTo("/proc/self/maps");
            assertAllowed(policy.resolve("/", "/proc/self/exe", READ), program.toString());
        }
    }
}
