package io.kvmserver.linux;

import com.sun.jna.LastErrorException;
import io.kvmserver.kvm.LibC;

/**
 * A file, directory, device or pipe opened on the host. The guest's file offset is kept here,
 * not in the host fd, and regular files are read with {@code pread}: that way a description
 * forked into a request VM shares the host fd but never the offset, and a reset restores the
 * offset with the rest of the state.
 */
public final class HostFile extends FileDescription {

    private static final int SYS_GETDENTS64 = SyscallNumbers.GETDENTS64;
    private static final int SYS_FSTAT = SyscallNumbers.FSTAT;
    private static final int SYS_FTRUNCATE = SyscallNumbers.FTRUNCATE;
    private static final int SYS_FSYNC = SyscallNumbers.FSYNC;

    private final int fd;
    private final boolean owner;
    private final boolean seekable;
    private final boolean directory;
    private final String path;
    private long offset;

    public HostFile(int fd, boolean owner, int statusFlags, boolean seekable, boolean directory, String path) {
        super(statusFlags);
        this.fd = fd;
        this.owner = owner;
        this.seekable = seekable;
        this.directory = directory;
        this.path = path;
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
    public long read(long hostBuffer, long count) {
        if (directory) {
            return -Errno.EISDIR;
        }
        if (!seekable) {
            return call(() -> LibC.read(fd, hostBuffer, count));
        }
        long n = call(() -> LibC.pread(fd, hostBuffer, count, offset));
        if (n > 0) {
            offset += n;
        }
        return n;
    }

    @Override
    public long write(long hostBuffer, long count) {
        if (!seekable) {
            return call(() -> LibC.write(fd, hostBuffer, count));
        }
        if (appending()) {
            long n = call(() -> LibC.write(fd, hostBuffer, count));
            if (n >= 0) {
                offset = call(() -> LibC.lseek(fd, 0, 1));
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
    public long pread(long hostBuffer, long count, long position) {
        if (!seekable) {
            return -Errno.ESPIPE;
        }
        if (directory) {
            return -Errno.EISDIR;
        }
        return call(() -> LibC.pread(fd, hostBuffer, count, position));
    }

    @Override
    public long pwrite(long hostBuffer, long count, long position) {
        if (!seekable) {
            return -Errno.ESPIPE;
        }
        return call(() -> LibC.pwrite(fd, hostBuffer, count, position));
    }

    @Override
    public long seek(long requested, int whence) {
        if (!seekable) {
            return -Errno.ESPIPE;
        }
        long base;
        switch (whence) {
            case 0 -> base = 0;
            case 1 -> base = offset;
            case 2 -> {
                long end = call(() -> LibC.lseek(fd, 0, 2));
                if (end < 0) {
                    return end;
                }
                base = end;
            }
            case 3, 4 -> { // SEEK_DATA, SEEK_HOLE: ask the host
                return call(() -> LibC.lseek(fd, requested, whence));
            }
            default -> {
                return -Errno.EINVAL;
            }
        }
        if (directory) {
            // Directory offsets are cookies of the host file system: let the host validate them.
            long r = call(() -> LibC.lseek(fd, requested, whence == 1 ? 0 : whence));
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
        if (!directory) {
            return -Errno.ENOTDIR;
        }
        long at = call(() -> LibC.lseek(fd, offset, 0));
        if (at < 0) {
            return at;
        }
        long n = call(() -> LibC.syscall(SYS_GETDENTS64, fd, hostBuffer, count, 0, 0, 0));
        if (n >= 0) {
            offset = call(() -> LibC.lseek(fd, 0, 1));
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

    @Override
    public int hostFd() {
        return fd;
    }

    @Override
    public String path() {
        return path;
    }

    @Override
    public boolean isDirectory() {
        return directory;
    }

    @Override
    public FileDescription fork() {
        HostFile copy = new HostFile(fd, false, statusFlags, seekable, directory, path);
        copy.offset = offset;
        return copy;
    }

    @Override
    protected void closeHost() {
        if (owner) {
            try {
                LibC.close(fd);
            } catch (LastErrorException ignored) {
                // close(2) releases the fd even when it reports an error
            }
        }
    }
}
