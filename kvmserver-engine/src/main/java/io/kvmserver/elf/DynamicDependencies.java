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
 */
public final class DynamicDependencies {

    private static final long DT_NULL = 0;
    private static final long DT_NEEDED = 1;
    private static final long DT_STRTAB = 5;
    private static final long DT_RPATH = 15;
    private static final long DT_RUNPATH = 29;
    private static final List<String> SYSTEM_DIRECTORIES = List.of("/lib/x86_64-linux-gnu",
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
        addWithRealPath(files, Path.of(program.interpreter()));
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
                if (found == null) {
                    continue; // the loader will report it missing, in the program's own words
                }
                addWithRealPath(files, found);
                try {
                    pending.add(ElfFile.read(found));
                } catch (ElfException e) {
                    // not loadable: let the loader say so
                }
            }
        }
        return files;
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
