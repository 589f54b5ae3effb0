package io.kvmserver.sandbox;

import com.sun.jna.LastErrorException;
import io.kvmserver.host.LibC;
import io.kvmserver.host.OpenFlags;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The engine's own directory on the host, one for the whole JVM: the route sockets of every server
 * and the files the engine keeps on a client's behalf live in it. Only the JVM's user may enter it
 * ({@code 0700}), and {@link FileSystemPolicy} hides it from every guest path of every server,
 * whatever the guest may ({@code allow-all} included): request VMs run as the JVM's user, so the
 * host's permissions alone would not keep one server's program out of another server's route.
 *
 * <p>It is made at its first use, in {@code /dev/shm} when it is there (a memory file system: a
 * client's socket name bound there costs no disk metadata), else in the temporary directory, and
 * its path is short enough for unix socket paths two levels below it.
 */
public final class EngineDirectory {

    /**
     * The longest parent path chosen while a shorter one is writable: sun_path holds 107 bytes,
     * and a route client's socket is the parent, the engine directory's name (17 and 19 bytes), a
     * route directory's (20) and the client's (21), with their slashes.
     */
    private static final int SHORT_PARENT = 24;

    private static final FileAttribute<?> OWNER_ONLY =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));

    private static Path root;

    /** The name every engine directory begins with: no other file of the engine's does. */
    private static final String PREFIX = "kvmserver-engine-";

    private static final String[] PARENT_NAMES = {"/dev/shm", System.getProperty("java.io.tmpdir"), "/tmp"};

    /** Where engine directories are made, as named and as real paths. */
    private static final java.util.List<Path> PARENTS = parents();

    private static java.util.List<Path> parents() {
        java.util.List<Path> all = new java.util.ArrayList<>();
        for (String name : PARENT_NAMES) {
            Path parent = Path.of(name).toAbsolutePath().normalize();
            all.add(parent);
            try {
                all.add(parent.toRealPath());
            } catch (IOException e) {
                // not there: nothing is made in it
            }
        }
        return java.util.List.copyOf(new java.util.LinkedHashSet<>(all));
    }

    private EngineDirectory() {
    }

    /** The directory, made now if this is its first use; removed at the JVM's exit once empty. */
    public static synchronized Path root() {
        if (root == null) {
            root = create();
            root.toFile().deleteOnExit();
        }
        return root;
    }

    /** A new directory of the JVM's user alone inside {@link #root()}, named {@code prefix} and a random number. */
    public static Path newDirectory(String prefix) {
        try {
            return Files.createTempDirectory(root(), prefix, OWNER_ONLY);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a directory in the engine's directory " + root(), e);
        }
    }

    /**
     * A new empty file with no name, open for reading and writing: made with {@code O_TMPFILE} in
     * the temporary directory (on disk, where there is one), so that no path ever reaches it, and
     * gone when the channel closes. Where the file system cannot make one, it is made in the
     * engine's directory, which no guest sees, and unlinked at once.
     */
    public static FileChannel unnamedFile() throws IOException {
        String temporary = System.getProperty("java.io.tmpdir");
        int fd;
        try {
            fd = LibC.open((temporary + "\0").getBytes(StandardCharsets.UTF_8),
                    OpenFlags.O_TMPFILE | OpenFlags.O_RDWR | OpenFlags.O_CLOEXEC, 0600);
        } catch (LastErrorException e) {
            Path named = Files.createTempFile(root(), "f", "");
            try {
                return FileChannel.open(named, StandardOpenOption.READ, StandardOpenOption.WRITE);
            } finally {
                Files.delete(named);
            }
        }
        try {
            return FileChannel.open(Path.of("/proc/self/fd/" + fd), StandardOpenOption.READ, StandardOpenOption.WRITE);
        } finally {
            LibC.close(fd);
        }
    }

    /**
     * Whether {@code host} is in the engine's directory of this JVM or of any other, as named or
     * as its real path: every JVM of the same user makes one in the same places, and a guest of one
     * must not reach another's route sockets either (found by the review of 2026-12-05: a program
     * of another JVM allowed {@code /dev/shm} took this one's route socket over).
     */
    public static boolean isEngineDirectory(Path host) {
        for (Path parent : PARENTS) {
            if (host.getNameCount() > parent.getNameCount() && host.startsWith(parent)
                    && host.getName(parent.getNameCount()).toString().startsWith(PREFIX)) {
                return true;
            }
        }
        return false;
    }

    private static Path create() {
        String[] parents = PARENT_NAMES;
        IOException failure = null;
        for (boolean shortOnly : new boolean[] {true, false}) {
            for (String parent : parents) {
                Path base = Path.of(parent);
                if ((shortOnly && parent.length() > SHORT_PARENT) || !Files.isDirectory(base)
                        || !Files.isWritable(base)) {
                    continue;
                }
                try {
                    return Files.createTempDirectory(base, PREFIX, OWNER_ONLY);
                } catch (IOException e) {
                    failure = e;
                }
            }
        }
        throw new UncheckedIOException("cannot create the engine's private directory in /dev/shm, "
                + System.getProperty("java.io.tmpdir") + " or /tmp",
                failure != null ? failure : new IOException("none of them is a writable directory"));
    }
}
