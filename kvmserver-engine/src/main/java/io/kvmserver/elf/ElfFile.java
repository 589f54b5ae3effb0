package io.kvmserver.elf;

import com.sun.jna.LastErrorException;
import io.kvmserver.host.Errno;
import io.kvmserver.host.LibC;
import io.kvmserver.host.OpenFlags;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A parsed, validated x86-64 ELF executable (or shared object, for the dynamic loader).
 *
 * <p>All validation happens here, before any VM exists, so that a bad program gets one clear
 * message: missing file, not ELF, 32-bit, wrong machine, truncated headers, segments that lie
 * outside the file or the address space.
 */
public final class ElfFile {

    public static final int ET_EXEC = 2;
    public static final int ET_DYN = 3;
    public static final int PT_LOAD = 1;
    public static final int PT_DYNAMIC = 2;
    public static final int PT_INTERP = 3;
    public static final int PT_PHDR = 6;
    public static final int PT_GNU_STACK = 0x6474e551;
    public static final int PF_X = 1;
    public static final int PF_W = 2;
    public static final int PF_R = 4;
    private static final int EM_X86_64 = 62;
    private static final int EHDR_SIZE = 64;
    private static final int PHDR_SIZE = 56;
    private static final int MAX_PHDRS = 512;
    private static final int PATH_MAX = 4096;
    /** The largest executable read: a Java array's size (the largest runtimes are a few hundred MiB). */
    private static final long MAX_FILE_SIZE = Integer.MAX_VALUE - 64;

    /** One program header. */
    public record Segment(int type, int flags, long offset, long vaddr, long fileSize, long memSize, long align) {
    }

    private final Path path;
    private final Path realPath;
    private final byte[] bytes;
    private final int type;
    private final long entry;
    private final long phoff;
    private final int phnum;
    private final List<Segment> segments;
    private final String interpreter;

    private ElfFile(Path path, Path realPath, byte[] bytes) {
        this.path = path;
        this.realPath = realPath;
        this.bytes = bytes;
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        checkHeader(path, bytes, bytes.length);
        this.type = b.getShort(16) & 0xffff;
        this.entry = b.getLong(24);
        this.phoff = b.getLong(32);
        int phentsize = b.getShort(54) & 0xffff;
        this.phnum = b.getShort(56) & 0xffff;
        if (phnum == 0 || phnum > MAX_PHDRS || phentsize != PHDR_SIZE) {
            throw fail("has an invalid program header table (" + phnum + " entries of " + phentsize + " bytes)");
        }
        if (phoff < 0 || phoff > bytes.length || (long) phnum * PHDR_SIZE > bytes.length - phoff) {
            throw fail("is truncated: its program headers end past the end of the file");
        }
        List<Segment> list = new ArrayList<>(phnum);
        String interp = null;
        for (int i = 0; i < phnum; i++) {
            int p = (int) (phoff + (long) i * PHDR_SIZE);
            Segment s = new Segment(b.getInt(p), b.getInt(p + 4), b.getLong(p + 8), b.getLong(p + 16),
                    b.getLong(p + 32), b.getLong(p + 40), b.getLong(p + 48));
            // Only the first PT_INTERP counts, as in execve(2): later ones are never looked at.
            boolean interpreterHeader = s.type() == PT_INTERP && interp == null;
            if (s.type() == PT_LOAD || interpreterHeader) {
                if (s.offset() < 0 || s.fileSize() < 0 || s.offset() > bytes.length
                        || s.fileSize() > bytes.length - s.offset()) {
                    throw fail("is truncated: segment " + i + " lies past the end of the file");
                }
            }
            if (s.type() == PT_LOAD) {
                if (s.memSize() < s.fileSize() || s.vaddr() < 0 || s.memSize() < 0
                        || s.vaddr() > Long.MAX_VALUE - s.memSize()) {
                    throw fail("has an invalid loadable segment " + i);
                }
                if (s.align() > 1 && (s.vaddr() - s.offset()) % 4096 != 0) {
                    throw fail("has a loadable segment " + i + " whose address and offset disagree modulo the page size");
                }
            }
            if (interpreterHeader) {
                // As execve(2): a NUL-terminated path of 2 to PATH_MAX bytes, or ENOEXEC; the
                // loader named is the string up to its first NUL.
                int start = (int) s.offset();
                int last = (int) (s.offset() + s.fileSize()) - 1;
                if (s.fileSize() < 2 || s.fileSize() > PATH_MAX || bytes[last] != 0 || bytes[start] == 0) {
                    throw fail("has an invalid PT_INTERP (the dynamic loader's path): it must be a"
                            + " NUL-terminated path of 1 to " + (PATH_MAX - 1) + " bytes");
                }
                int end = start;
                while (bytes[end] != 0) {
                    end++;
                }
                interp = new String(bytes, start, end - start, StandardCharsets.UTF_8);
            }
            list.add(s);
        }
        if (list.stream().noneMatch(s -> s.type() == PT_LOAD && s.memSize() > 0)) {
            throw fail("has no loadable segment");
        }
        // Segments may share a page of the file (text and data do), not load it over and over:
        // 512 segments of one 64 MiB region made the start copy 32 GiB (Linux maps, and copies none).
        long loaded = list.stream().filter(s -> s.type() == PT_LOAD).mapToLong(Segment::fileSize).sum();
        if (loaded > 2L * bytes.length + (long) phnum * 2 * 4096) {
            throw fail("loads " + loaded + " bytes from a file of " + bytes.length + ": its loadable segments"
                    + " overlap in the file far beyond the pages they may share");
        }
        this.segments = List.copyOf(list);
        this.interpreter = interp;
    }

    /**
     * Reads and validates {@code path}; every failure is an {@link ElfException} naming it. The
     * file is opened once and everything about it is learnt through that open file: whether it is
     * a regular file (a FIFO would block the start, a device never end), its bytes, and its real
     * path ({@link #realPath()}), which is what the program's grants name. A name looked up again
     * after the check could meanwhile be a symlink to anything: a program or library swapped for a
     * link to a secret while the engine started got the secret granted. Its ELF header is checked
     * before the rest is read: a large file that is no program is never read whole into the heap.
     */
    public static ElfFile read(Path path) {
        int fd;
        try {
            // O_PATH: opening what the name is now has no effect of its own (a FIFO swapped in
            // does not wait for a writer, a device is not opened); the file is opened for reading
            // through this descriptor once it is known to be a regular file.
            fd = LibC.open(nulTerminated(path), OpenFlags.O_PATH | OpenFlags.O_CLOEXEC, 0);
        } catch (LastErrorException e) {
            throw switch (e.getErrorCode()) {
                case Errno.ENOENT, Errno.ENOTDIR -> new ElfException("program " + path + " does not exist");
                case Errno.EACCES, Errno.EPERM -> new ElfException("program " + path
                        + " cannot be read: permission denied");
                default -> new ElfException("program " + path + " cannot be opened: " + Errno.name(e.getErrorCode()));
            };
        }
        try {
            Path open = Path.of("/proc/self/fd/" + fd);
            if (Files.isDirectory(open)) {
                throw new ElfException("program " + path + " is a directory, not an executable file");
            }
            if (!Files.isRegularFile(open)) {
                throw new ElfException("program " + path + " is not a regular file (a device, a FIFO or a socket),"
                        + " not an executable file");
            }
            Path real = Files.readSymbolicLink(open);
            if (!real.isAbsolute() || real.toString().endsWith(" (deleted)")) {
                throw new ElfException("program " + path + " was removed while it was read");
            }
            long size = Files.size(open);
            if (size > MAX_FILE_SIZE) {
                throw new ElfException("program " + path + " is " + size + " bytes, more than the "
                        + (MAX_FILE_SIZE >> 20) + " MiB an executable file may be");
            }
            byte[] bytes;
            try (java.io.InputStream in = Files.newInputStream(open)) {
                byte[] head = in.readNBytes(EHDR_SIZE);
                checkHeader(path, head, size);
                bytes = java.util.Arrays.copyOf(head, (int) size);
                int n = head.length + in.readNBytes(bytes, head.length, bytes.length - head.length);
                if (n < bytes.length) {
                    bytes = java.util.Arrays.copyOf(bytes, n); // it shrank while read: the checks see what is there
                }
            }
            return new ElfFile(path, real, bytes);
        } catch (AccessDeniedException e) {
            throw new ElfException("program " + path + " cannot be read: permission denied");
        } catch (IOException e) {
            throw new ElfException("program " + path + " cannot be read: " + e.getMessage());
        } finally {
            LibC.close(fd);
        }
    }

    private static byte[] nulTerminated(Path path) {
        byte[] name = path.toString().getBytes(StandardCharsets.UTF_8);
        return java.util.Arrays.copyOf(name, name.length + 1);
    }

    /**
     * The ELF file {@code bytes}, read elsewhere (a library a program maps, through its fd), named
     * {@code path} in messages; an {@link ElfException} when it is no valid ELF file.
     */
    public static ElfFile of(Path path, byte[] bytes) {
        return new ElfFile(path, path, bytes);
    }

    private ElfException fail(String what) {
        return fail(path, what);
    }

    private static ElfException fail(Path path, String what) {
        return new ElfException("program " + path + " " + what);
    }

    /**
     * Checks the ELF header at the start of {@code head}, of a file {@code length} bytes long: an
     * x86-64 executable or shared object, little-endian, 64-bit.
     */
    private static void checkHeader(Path path, byte[] head, long length) {
        ByteBuffer b = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN);
        if (head.length < 4 || b.getInt(0) != 0x464c457f) {
            throw fail(path, "is not an ELF executable (no ELF magic)");
        }
        // The class comes before the size check: a 32-bit ELF header is only 52 bytes long, and
        // "32-bit" is the useful answer for it, not "truncated".
        if (head.length > 4 && head[4] == 1) {
            throw fail(path, "is a 32-bit ELF file; only x86-64 (ELFCLASS64) programs can run");
        }
        if (head.length < EHDR_SIZE) {
            throw fail(path, "is truncated: " + length + " bytes, shorter than an ELF header");
        }
        if (head[4] != 2) {
            throw fail(path, "has an invalid ELF class " + head[4] + "; only x86-64 (ELFCLASS64) programs can run");
        }
        if (head[5] != 1) {
            throw fail(path, "is a big-endian ELF file; only little-endian x86-64 programs can run");
        }
        int machine = b.getShort(18) & 0xffff;
        if (machine != EM_X86_64) {
            throw fail(path, "is built for ELF machine " + machine + ", not x86-64 (62)");
        }
        int type = b.getShort(16) & 0xffff;
        if (type != ET_EXEC && type != ET_DYN) {
            throw fail(path, "is not an executable (ELF type " + type + ")");
        }
    }

    public Path path() {
        return path;
    }

    /**
     * The real path of the file that was read (no symlink in it), as the kernel named the open
     * file: what a grant of this file must name.
     */
    public Path realPath() {
        return realPath;
    }

    public byte[] bytes() {
        return bytes;
    }

    /** Position-independent: loaded at a base address the engine chooses. */
    public boolean isPositionIndependent() {
        return type == ET_DYN;
    }

    public long entry() {
        return entry;
    }

    public long programHeaderOffset() {
        return phoff;
    }

    public int programHeaderCount() {
        return phnum;
    }

    public List<Segment> segments() {
        return segments;
    }

    /** The {@code PT_INTERP} path of a dynamic executable, or null for a static one. */
    public String interpreter() {
        return interpreter;
    }

    /** Lowest page-aligned address of the loadable segments (before relocation). */
    public long lowAddress() {
        return segments.stream().filter(s -> s.type() == PT_LOAD).mapToLong(Segment::vaddr).min().orElseThrow()
                & ~0xfffL;
    }

    /** One past the highest address of the loadable segments (before relocation). */
    public long highAddress() {
        return segments.stream().filter(s -> s.type() == PT_LOAD).mapToLong(s -> s.vaddr() + s.memSize()).max()
                .orElseThrow();
    }

    /** Whether a {@code PT_GNU_STACK} header asks for an executable stack. */
    public boolean wantsExecutableStack() {
        return segments.stream().anyMatch(s -> s.type() == PT_GNU_STACK && (s.flags() & PF_X) != 0);
    }
}
