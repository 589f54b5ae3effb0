package io.kvmserver.linux;

import io.kvmserver.host.OpenFlags;

import io.kvmserver.host.SyscallNumbers;

import io.kvmserver.host.Errno;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import io.kvmserver.host.LibC;
import io.kvmserver.sandbox.FileSystemPolicy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A regular file, directory or block device opened on the host. The guest's file offset is kept
 * here, not in the host fd, and regular files are read with {@code pread}: a description forked
 * into a request VM shares the host fd but never the offset, and a reset restores the offset with
 * the rest of the state.
 *
 * <p>What a host fd carries beyond its offset is shared by everyone who holds it: a directory's
 * read position and the file's locks (open file description locks belong to the description). A
 * forked copy therefore takes a private host fd of its own, opened again from the shared one, the
 * first time it lists the directory or takes a lock.
 */
public final class HostFile extends FileDescription {

    private static final int SYS_GETDENTS64 = SyscallNumbers.GETDENTS64;
    private static final int SYS_FSTAT = SyscallNumbers.FSTAT;
    private static final int SYS_FTRUNCATE = SyscallNumbers.FTRUNCATE;
    private static final int SYS_FSYNC = SyscallNumbers.FSYNC;
    private static final int STAT_SIZE = 144;
    private static final int ST_MODE = 24;
    private static final int ST_SIZE = 48;

    private final int fd;
    private final boolean owner;
    private final boolean directory;
    private final boolean pathOnly;
    private final String path;
    private final String hostPath;
    private long offset;
    /** A host fd of this description's own, for directory listing and locks; -1 until needed. */
    private int privateFd = -1;

    private HostFile(int fd, boolean owner, int statusFlags, boolean directory, boolean pathOnly, String path,
            String hostPath) {
        super(statusFlags);
        this.fd = fd;
        this.owner = owner;
        this.directory = directory;
        this.pathOnly = pathOnly;
        this.path = path;
        this.hostPath = hostPath;
    }

    /**
     * Wraps a host fd the guest just opened: a {@link HostFile} for what has an offset (regular
     * files, directories, block devices), a {@link StreamFile} for the rest (FIFOs, character
     * devices), whose blocking the engine emulates so that a time limit can end it.
     */
    public static FileDescription opened(int fd, int guestFlags, String guestPath, String hostPath) {
        int type;
        try (Memory st = new Memory(STAT_SIZE)) {
            LibC.syscall(SYS_FSTAT, fd, com.sun.jna.Pointer.nativeValue(st), 0, 0, 0, 0);
            type = st.getInt(24) & PathSyscalls.S_IFMT;
        } catch (LastErrorException e) {
            type = 0;
        }
        boolean pathOnly = (guestFlags & OpenFlags.O_PATH) != 0;
        int status = pathOnly ? OpenFlags.O_PATH : guestFlags & (OpenFlags.O_ACCMODE | OpenFlags.SETTABLE_STATUS);
        if (type == PathSyscalls.S_IFREG || type == PathSyscalls.S_IFDIR || type == PathSyscalls.S_IFBLK || pathOnly) {
            return new HostFile(fd, true, status, type == PathSyscalls.S_IFDIR, pathOnly, guestPath, hostPath);
        }
        return new StreamFile(fd, true, status, guestPath, type);
    }

    /** Runs a host call that returns a count or -1 with errno, as the guest expects: {@code -errno}. */
    static long call(HostCall call) {
        try {
            return call.run();
        } catch (LastErrorException e) {
            return -e.getErrorCode();
        }
    }

    @FunctionalInterface
    interface HostCall {
        long run() throws LastErrorException;
    }

    private boolean appending() {
        return (statusFlags & OpenFlags.O_APPEND) != 0;
    }

    @Override
    public long read(HostWaiter waiter, long hostBuffer, long count) {
        if (directory) {
            return -Errno.EISDIR;
        }
        if (pathOnly) {
            return -Errno.EBADF;
        }
        long n = call(() -> LibC.pread(fd, hostBuffer, count, offset));
        if (n > 0) {
            offset += n;
        }
        return n;
    }

    @Override
    public long write(HostWaiter waiter, long hostBuffer, long count) {
        if (pathOnly) {
            return -Errno.EBADF;
        }
        if (appending()) {
            long n = call(() -> LibC.write(fd, hostBuffer, count));
            if (n >= 0) {
                long size = size();
                offset = size >= 0 ? size : offset + n; // the host fd's own offset is shared: ask the file
            }
            return n;
        }
        long n = call(() -> LibC.pwrite(fd, hostBuffer, count, offset));
        if (n > 0) {
            offset += n;
        }
        return n;
    }

    @Override
    public byte[] readRegular(long maxBytes) {
        long size;
        try (Memory st = new Memory(STAT_SIZE)) {
            if (pathOnly || stat(com.sun.jna.Pointer.nativeValue(st)) < 0
                    || (st.getInt(ST_MODE) & PathSyscalls.S_IFMT) != PathSyscalls.S_IFREG) {
                return null;
            }
            size = st.getLong(ST_SIZE);
        }
        if (size <= 0 || size > maxBytes) {
            return null;
        }
        try (Memory buffer = new Memory(size)) {
            long got = 0;
            while (got < size) { // a file that shrank meanwhile ends early: it is checked as it is
                long n = pread(com.sun.jna.Pointer.nativeValue(buffer) + got, size - got, got);
                if (n <= 0) {
                    break;
                }
                got += n;
            }
            return buffer.getByteArray(0, (int) got);
        }
    }

    private long size() {
        try (Memory st = new Memory(STAT_SIZE)) {
            long rc = stat(com.sun.jna.Pointer.nativeValue(st));
            return rc < 0 ? rc : st.getLong(ST_SIZE);
        }
    }

    @Override
    public long pread(long hostBuffer, long count, long position) {
        if (pathOnly) {
            return -Errno.EBADF;
        }
        if (directory) {
            return -Errno.EISDIR;
        }
        return call(() -> LibC.pread(fd, hostBuffer, count, position));
    }

    @Override
    public long pwrite(long hostBuffer, long count, long position) {
        if (pathOnly) {
            return -Errno.EBADF;
        }
        return call(() -> LibC.pwrite(fd, hostBuffer, count, position));
    }

    @Override
    public long seek(long requested, int whence) {
        if (pathOnly) {
            return -Errno.EBADF;
        }
        long base;
        switch (whence) {
            case 0 -> base = 0;
            case 1 -> base = offset;
            case 2 -> {
                long end = directory ? 0 : size();
                if (end < 0) {
                    return end;
                }
                base = end;
            }
            case 3, 4 -> { // SEEK_DATA, SEEK_HOLE: answered by the file, without moving a shared offset
                return directory ? -Errno.EINVAL : call(() -> LibC.lseek(listingFd(), requested, whence));
            }
            default -> {
                return -Errno.EINVAL;
            }
        }
        if (directory) {
            // Directory offsets are cookies of the host file system: let the host validate them,
            // on this description's own fd.
            long r = call(() -> LibC.lseek(listingFd(), requested, whence == 1 ? 0 : whence));
            if (r >= 0) {
                offset = r;
            }
            return r;
        }
        long target = base + requested;
        if ((requested > 0 && target < base) || target < 0) {
            return -Errno.EINVAL;
        }
        offset = target;
        return offset;
    }

    @Override
    public long stat(long hostStatBuffer) {
        return call(() -> LibC.syscall(SYS_FSTAT, fd, hostStatBuffer, 0, 0, 0, 0));
    }

    @Override
    public long getdents64(long hostBuffer, long count) {
        if (pathOnly) {
            return -Errno.EBADF;
        }
        if (!directory) {
            return -Errno.ENOTDIR;
        }
        int listing = listingFd();
        long at = call(() -> LibC.lseek(listing, offset, 0));
        if (at < 0) {
            return at;
        }
        long n = call(() -> LibC.syscall(SYS_GETDENTS64, listing, hostBuffer, count, 0, 0, 0));
        if (n >= 0) {
            offset = call(() -> LibC.lseek(listing, 0, 1));
        }
        return n;
    }

    @Override
    public long truncate(long length) {
        if (directory) {
            return -Errno.EISDIR;
        }
        return call(() -> LibC.syscall(SYS_FTRUNCATE, fd, length, 0, 0, 0, 0));
    }

    @Override
    public long sync() {
        return call(() -> LibC.syscall(SYS_FSYNC, fd, 0, 0, 0, 0, 0));
    }

    /**
     * The host fd whose shared state this description may change: its own one, or for a copy of
     * the template's, a private one opened again through {@code /proc/self/fd} (the engine's own
     * descriptor, so the magic link names exactly this file) the first time it is needed.
     */
    int privateHostFd() {
        if (owner) {
            return fd;
        }
        if (privateFd < 0) {
            int access = directory ? OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY : statusFlags & OpenFlags.O_ACCMODE;
            privateFd = (int) call(() -> LibC.open(PathSyscalls.procSelfFd(fd),
                    access | OpenFlags.O_CLOEXEC | OpenFlags.O_NONBLOCK, 0));
        }
        return privateFd;
    }

    private int listingFd() {
        int own = privateHostFd();
        return own < 0 ? fd : own;
    }

    @Override
    public int hostFd() {
        return pathOnly ? -1 : fd;
    }

    @Override
    public String path() {
        return path;
    }

    @Override
    public String currentGuestPath(FileSystemPolicy policy) {
        try (Memory buffer = new Memory(4096)) {
            long n = LibC.syscall(SyscallNumbers.READLINKAT, OpenFlags.AT_FDCWD, PathSyscalls.procSelfFd(fd),
                    com.sun.jna.Pointer.nativeValue(buffer), 4096, 0, 0);
            String now = new String(buffer.getByteArray(0, (int) n), StandardCharsets.UTF_8);
            return policy.currentGuestPath(path, hostPath, now);
        } catch (LastErrorException e) {
            return null;
        }
    }

    @Override
    public boolean mayChangeAttributes(FileSystemPolicy policy) {
        return !pathOnly && policy.mayWrite(Path.of(hostPath));
    }

    @Override
    public boolean isDirectory() {
        return directory;
    }

    @Override
    public FileDescription fork(ForkContext context) {
        HostFile copy = new HostFile(fd, false, statusFlags, directory, pathOnly, path, hostPath);
        copy.offset = offset;
        return copy;
    }

    @Override
    protected void closeHost() {
        if (privateFd >= 0) {
            LibC.close(privateFd);
            privateFd = -1;
        }
        if (owner) {
            try {
                LibC.close(fd);
            } catch (LastErrorException ignored) {
                // close(2) releases the fd even when it reports an error
            }
        }
    }
}
