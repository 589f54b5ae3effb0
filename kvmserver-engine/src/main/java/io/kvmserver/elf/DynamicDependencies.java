package io.kvmserver.elf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
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

    private DynamicDependencies() {
    }

    /** Host paths the program may read implicitly; both the names and their real paths. */
    public static Set<Path> of(ElfFile program) {
        Set<Path> files = new LinkedHashSet<>();
        if (program.interpreter() == null) {
            return files;
        }
        List<Path> home = homes(program);
        Path interpreter = Path.of(program.interpreter());
        if (isWhereLibrariesAre(interpreter, home)) {
            addWithRealPath(files, interpreter);
        }
        addWithRealPath(files, Path.of("/etc/ld.so.cache"));
        Deque<ElfFile> pending = new ArrayDeque<>();
        pending.add(program);
        Set<String> seen = new LinkedHashSet<>();
        while (!pending.isEmpty() && seen.size() < MAX_LIBRARIES) {
            ElfFile elf = pending.poll();
            for (String name : dynamicStrings(elf, DT_NEEDED, DT_NEEDED)) {
                if (!seen.add(name)) {
                    continue;
                }
                Path found = find(name, searchPath(elf));
                if (found == null || !isWhereLibrariesAre(found, home)) {
                    continue; // the loader will report it missing, in the program's own words
                }
                ElfFile library;
                try {
                    library = ElfFile.read(found);
                } catch (ElfException e) {
                    continue; // no ELF file: the loader would refuse it, and nothing of it is granted
                }
                if (!library.isPositionIndependent()) {
                    continue;
                }
                addWithRealPath(files, found);
                pending.add(library);
            }
        }
        return files;
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

    private static boolean isInLibraryDirectory(Path path, List<Path> homes) {
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
        Path real;
        try {
            real = program.path().toRealPath().getParent();
        } catch (IOException e) {
            real = null;
        }
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
                if (!dir.isEmpty()) {
                    dirs.add(dir.replace("$ORIGIN", origin).replace("${ORIGIN}", origin));
                }
            }
        }
        dirs.addAll(SYSTEM_DIRECTORIES);
        return dirs;
    }

    private static Path find(String name, List<String> dirs) {
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
        return null;
    }

    /** Strings of the dynamic section entries with tag {@code a} or {@code b}. */
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
        for (long p = dynamic.offset(); p + 16 <= dynamic.offset() + dynamic.fileSize() && p + 16 <= bytes.length;
                p += 16) {
            long tag = buf.getLong((int) p);
            long value = buf.getLong((int) p + 8);
            if (tag == DT_NULL) {
                break;
            }
            if (tag == DT_STRTAB) {
                strtab = fileOffset(elf, value);
            } else if (tag == a || tag == b) {
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
            while (end < bytes.length && bytes[end] != 0) {
                end++;
            }
            out.add(new String(bytes, (int) start, end - (int) start, StandardCharsets.UTF_8));
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
