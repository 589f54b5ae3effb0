package io.kvmserver.elf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The files a dynamic executable needs before its {@code main}: the dynamic loader, the loader's
 * cache, and the transitive closure of {@code DT_NEEDED} libraries found where the loader would
 * look for them. The engine lets a dynamic program read exactly these files (read-only) without
 * any {@code --allow-read}: enough to start, and nothing the program did not declare.
 *
 * <p>The program's headers are the program's, and a hostile program names what it likes there: a
 * {@code DT_NEEDED} of {@code /etc/shadow}, a {@code RUNPATH} of {@code /etc}, a loader of its own
 * that reads what it was granted. So a file is granted only if it is where libraries are (the
 * system library directories, or the program's own directory and below it, where an
 * {@code $ORIGIN} run path points, and the directory above it when a run path of the program's
 * climbs there, {@code $ORIGIN/../lib} as in a JDK's or a CMake install's {@code bin}), by its
 * name and by its real path, and only if it is an x86-64
 * shared object; anything else the program needs takes an explicit grant, and the loader reports
 * it missing until then, with the grant to add in the engine's denial.
 */
public final class DynamicDependencies {

    private static final long DT_NULL = 0;
    private static final long DT_NEEDED = 1;
    private static final long DT_STRTAB = 5;
    private static final long DT_RPATH = 15;
    private static final long DT_RUNPATH = 29;
    /** Where libraries are: the loader's default search path on x86-64 Debian, Fedora and Alpine. */
    public static final List<String> SYSTEM_DIRECTORIES = List.of("/lib/x86_64-linux-gnu",
            "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib");
    private static final int MAX_LIBRARIES = 512;
    private static final int MAX_DYNAMIC_STRINGS = 1024;
    private static final int MAX_RUN_PATH_DIRECTORIES = 128;
    private static final int PATH_MAX = 4096;

    private DynamicDependencies() {
    }

    /**
     * Host paths the program may read implicitly; both the names and their real paths.
     *
     * @param program the executable
     * @param interpreter its dynamic loader as read ({@link ElfFile#read}), or null for a static program
     */
    public static Set<Path> of(ElfFile program, ElfFile interpreter) {
        Set<Path> files = new LinkedHashSet<>();
        if (program.interpreter() == null || interpreter == null) {
            return files;
        }
        List<Path> home = homes(program);
        grantIfWhereLibrariesAre(files, interpreter, home);
        addWithRealPath(files, Path.of("/etc/ld.so.cache"));
        // Each file's names and search path, taken as it is read: its bytes are not kept while
        // the closure is walked (a hostile program's libraries may be large).
        Deque<Needs> pending = new ArrayDeque<>();
        pending.add(Needs.of(program));
        Set<String> seen = new LinkedHashSet<>();
        while (!pending.isEmpty()) {
            Needs needs = pending.poll();
            for (String name : needs.names()) {
                if (seen.size() >= MAX_LIBRARIES) {
                    return files;
                }
                if (!seen.add(name)) {
                    continue;
                }
                Path found = find(name, needs.searchPath());
                if (found == null || !isWhereLibrariesAre(found, home)) {
                    continue; // the loader will report it missing, in the program's own words
                }
                ElfFile library;
                try {
                    library = ElfFile.read(found);
                } catch (ElfException e) {
                    continue; // no ELF file: the loader would refuse it, and nothing of it is granted
                }
                if (library.isPositionIndependent() && grantIfWhereLibrariesAre(files, library, home)) {
                    pending.add(Needs.of(library));
                }
            }
        }
        return files;
    }

    /** A file's {@code DT_NEEDED} names and the directories the loader searches for them. */
    private record Needs(List<String> names, List<String> searchPath) {
        static Needs of(ElfFile elf) {
            return new Needs(dynamicStrings(elf, DT_NEEDED, DT_NEEDED), DynamicDependencies.searchPath(elf));
        }
    }

    /**
     * Grants {@code elf} by its name and by the real path of the file that was read, if that real
     * path is where libraries are too: the name was checked before the file was opened, and may
     * have been made a link to something else since.
     */
    private static boolean grantIfWhereLibrariesAre(Set<Path> files, ElfFile elf, List<Path> homes) {
        Path name = elf.path().toAbsolutePath().normalize();
        if (!isWhereLibrariesAre(name, homes) || !isInLibraryDirectory(elf.realPath(), homes)) {
            return false;
        }
        files.add(name);
        files.add(elf.realPath());
        return true;
    }

    /**
     * Whether {@code path}, by its name and by its real path, is in a system library directory or
     * in one of {@code homes} (see {@link #homes}) or below it. A path that does not exist is not.
     */
    public static boolean isWhereLibrariesAre(Path path, List<Path> homes) {
        if (!path.isAbsolute()) {
            return false;
        }
        Path real;
        try {
            real = path.toRealPath();
        } catch (IOException e) {
            return false;
        }
        return isInLibraryDirectory(path.normalize(), homes) && isInLibraryDirectory(real, homes);
    }

    /**
     * Whether {@code path}, a real path (no symlink in it: the real path of a file that was read),
     * is in a system library directory or in one of {@code homes} or below it.
     */
    public static boolean isInLibraryDirectory(Path path, List<Path> homes) {
        if (homes.stream().anyMatch(path::startsWith)) {
            return true;
        }
        return SYSTEM_DIRECTORIES.stream().anyMatch(d -> path.startsWith(d) || realStartsWith(path, d));
    }

    /** Merged-/usr systems make /lib a link to /usr/lib: a library's real path is then under the latter. */
    private static boolean realStartsWith(Path path, String directory) {
        try {
            return path.startsWith(Path.of(directory).toRealPath());
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Where the program's own libraries may be: its directory as named and as its real path (a
     * deploy symlink such as {@code current -> releases/42}), and the directory above each when
     * one of its run paths climbs there ({@code $ORIGIN/..}). A directory with fewer than two
     * components ({@code /}, {@code /tmp}, {@code /home}) is none: every library of the host, or
     * of every user, would be the program's.
     */
    public static List<Path> homes(ElfFile program) {
        List<Path> dirs = new ArrayList<>();
        Path named = program.path().toAbsolutePath().normalize().getParent();
        // The directory of the file that was read, not of what the name is now (see ElfFile#realPath).
        Path real = program.realPath().getParent();
        boolean climbs = dynamicStrings(program, DT_RUNPATH, DT_RPATH).stream()
                .flatMap(runpath -> java.util.Arrays.stream(runpath.split(":")))
                .anyMatch(dir -> dir.startsWith("$ORIGIN/..") || dir.startsWith("${ORIGIN}/.."));
        for (Path dir : new Path[] {named, real}) {
            if (dir == null) {
                continue;
            }
            addHome(dirs, dir);
            if (climbs) {
                addHome(dirs, dir.getParent());
            }
        }
        return dirs;
    }

    private static void addHome(List<Path> homes, Path dir) {
        if (dir != null && dir.getNameCount() >= 2 && !homes.contains(dir)) {
            homes.add(dir);
        }
    }

    private static void addWithRealPath(Set<Path> files, Path path) {
        files.add(path);
        try {
            files.add(path.toRealPath());
        } catch (IOException e) {
            // missing: nothing to allow
        }
    }

    private static List<String> searchPath(ElfFile elf) {
        List<String> dirs = new ArrayList<>();
        String origin = elf.path().toAbsolutePath().getParent() == null ? "/"
                : elf.path().toAbsolutePath().getParent().toString();
        for (String runpath : dynamicStrings(elf, DT_RUNPATH, DT_RPATH)) {
            for (String dir : runpath.split(":")) {
                if (!dir.isEmpty() && dirs.size() < MAX_RUN_PATH_DIRECTORIES) {
                    dirs.add(dir.replace("$ORIGIN", origin).replace("${ORIGIN}", origin));
                }
            }
        }
        dirs.addAll(SYSTEM_DIRECTORIES);
        return dirs;
    }

    private static Path find(String name, List<String> dirs) {
        try {
            if (name.contains("/")) {
                Path p = Path.of(name);
                return Files.isRegularFile(p) ? p : null;
            }
            for (String dir : dirs) {
                Path p = Path.of(dir, name);
                if (Files.isRegularFile(p)) {
                    return p;
                }
            }
        } catch (InvalidPathException e) {
            // bytes this JVM cannot name a file with (its file name encoding is not UTF-8): not granted
        }
        return null;
    }

    /**
     * Strings of the dynamic section entries with tag {@code a} or {@code b}: at most
     * {@value #MAX_DYNAMIC_STRINGS}, each at most {@value #PATH_MAX} bytes (a longer one names no
     * file Linux can open, and is left out), so that a small file of many long entries cannot make
     * the host build gigabytes of strings.
     */
    private static List<String> dynamicStrings(ElfFile elf, long a, long b) {
        List<String> out = new ArrayList<>();
        ElfFile.Segment dynamic = elf.segments().stream().filter(s -> s.type() == ElfFile.PT_DYNAMIC).findFirst()
                .orElse(null);
        if (dynamic == null) {
            return out;
        }
        byte[] bytes = elf.bytes();
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long strtab = -1;
        List<Long> offsets = new ArrayList<>();
        if (dynamic.offset() < 0 || dynamic.fileSize() < 0 || dynamic.offset() > bytes.length) {
            return out; // a dynamic section outside the file: the loader finds no libraries in it either
        }
        long sectionEnd = dynamic.offset() + Math.min(dynamic.fileSize(), bytes.length - dynamic.offset());
        for (long p = dynamic.offset(); p + 16 <= sectionEnd;
                p += 16) {
            long tag = buf.getLong((int) p);
            long value = buf.getLong((int) p + 8);
            if (tag == DT_NULL) {
                break;
            }
            if (tag == DT_STRTAB) {
                strtab = fileOffset(elf, value);
            } else if ((tag == a || tag == b) && offsets.size() < MAX_DYNAMIC_STRINGS) {
                offsets.add(value);
            }
        }
        if (strtab < 0) {
            return out;
        }
        for (long off : offsets) {
            long start = strtab + off;
            if (start < 0 || start >= bytes.length) {
                continue;
            }
            int end = (int) start;
            int limit = (int) Math.min(bytes.length, start + PATH_MAX);
            while (end < limit && bytes[end] != 0) {
                end++;
            }
            if (end < bytes.length && bytes[end] == 0) {
                out.add(new String(bytes, (int) start, end - (int) start, StandardCharsets.UTF_8));
            }
        }
        return out;
    }

    private static long fileOffset(ElfFile elf, long vaddr) {
        for (ElfFile.Segment s : elf.segments()) {
            if (s.type() == ElfFile.PT_LOAD && vaddr >= s.vaddr() && vaddr < s.vaddr() + s.fileSize()) {
                return s.offset() + (vaddr - s.vaddr());
            }
        }
        return -1;
    }
}
