package io.kvmserver.linux;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import io.kvmserver.kvm.LibC;
import io.kvmserver.sandbox.Access;
import io.kvmserver.sandbox.FileSystemPolicy;
import io.kvmserver.sandbox.Resolution;
import java.nio.charset.StandardCharsets;

/**
 * Files family: paths, fds and the I/O on them. Every path goes through the
 * {@link FileSystemPolicy} (which resolves {@code ..} and host symlinks and answers with the
 * errno Linux would give); every buffer through the address space's checks; every fd through the
 * VM's own fd table.
 */
final class FileSyscalls {

    private static final int IOV_MAX = 1024;
    private static final long MAX_RW = 0x7ffff000L; // Linux caps one read/write at this
    private static final int PATH_MAX = 4096;
    private static final int F_DUPFD = 0;
    private static final int F_GETFD = 1;
    private static final int F_SETFD = 2;
    private static final int F_GETFL = 3;
    private static final int F_SETFL = 4;
    private static final int F_GETLK = 5;
    private static final int F_SETLK = 6;
    private static final int F_SETLKW = 7;
    private static final int F_DUPFD_CLOEXEC = 1030;
    private static final int FD_CLOEXEC = 1;
    private static final long FIONBIO = 0x5421;
    private static final long FIOCLEX = 0x5451;
    private static final long FIONCLEX = 0x5450;
    private static final int STAT_SIZE = 144;
    private static final int S_IFMT = 0170000;
    private static final int S_IFREG = 0100000;
    private static final int S_IFDIR = 0040000;
    private static final int S_IFBLK = 0060000;
    private static final int S_IFIFO = 0010000;

    private FileSyscalls() {
    }

    static void register(SyscallTable t) {
        t.register(SyscallNumbers.OPEN, c -> openat(c, OpenFlags.AT_FDCWD, c.arg(0), c.intArg(1), c.intArg(2)));
        t.register(SyscallNumbers.OPENAT, c -> openat(c, c.intArg(0), c.arg(1), c.intArg(2), c.intArg(3)));
        t.register(SyscallNumbers.CREAT, c -> openat(c, OpenFlags.AT_FDCWD, c.arg(0),
                OpenFlags.O_CREAT | OpenFlags.O_WRONLY | OpenFlags.O_TRUNC, c.intArg(1)));
        t.register(SyscallNumbers.CLOSE, FileSyscalls::close);
        t.register(SyscallNumbers.READ, FileSyscalls::read);
        t.register(SyscallNumbers.WRITE, FileSyscalls::write);
        t.register(SyscallNumbers.PREAD64, FileSyscalls::pread64);
        t.register(SyscallNumbers.PWRITE64, FileSyscalls::pwrite64);
        t.register(SyscallNumbers.READV, c -> vector(c, false, -1));
        t.register(SyscallNumbers.WRITEV, c -> vector(c, true, -1));
        t.register(SyscallNumbers.PREADV, c -> vector(c, false, c.arg(3)));
        t.register(SyscallNumbers.PWRITEV, c -> vector(c, true, c.arg(3)));
        t.register(SyscallNumbers.LSEEK, c -> c.files().get(c.intArg(0)).seek(c.arg(1), c.intArg(2)));
        t.register(SyscallNumbers.FSTAT, FileSyscalls::fstat);
        t.register(SyscallNumbers.STAT, c -> fstatat(c, OpenFlags.AT_FDCWD, c.arg(0), c.arg(1), 0));
        t.register(SyscallNumbers.LSTAT, c -> fstatat(c, OpenFlags.AT_FDCWD, c.arg(0), c.arg(1),
                OpenFlags.AT_SYMLINK_NOFOLLOW));
        t.register(SyscallNumbers.NEWFSTATAT, c -> fstatat(c, c.intArg(0), c.arg(1), c.arg(2), c.intArg(3)));
        t.register(SyscallNumbers.STATX, FileSyscalls::statx);
        t.register(SyscallNumbers.GETDENTS64, FileSyscalls::getdents64);
        t.register(SyscallNumbers.READLINK, c -> readlinkat(c, OpenFlags.AT_FDCWD, c.arg(0), c.arg(1), c.arg(2)));
        t.register(SyscallNumbers.READLINKAT, c -> readlinkat(c, c.intArg(0), c.arg(1), c.arg(2), c.arg(3)));
        t.register(SyscallNumbers.ACCESS, c -> faccessat(c, OpenFlags.AT_FDCWD, c.arg(0), c.intArg(1), 0));
        t.register(SyscallNumbers.FACCESSAT, c -> faccessat(c, c.intArg(0), c.arg(1), c.intArg(2), 0));
        t.register(SyscallNumbers.FACCESSAT2, c -> faccessat(c, c.intArg(0), c.arg(1), c.intArg(2), c.intArg(3)));
        t.register(SyscallNumbers.GETCWD, FileSyscalls::getcwd);
        t.register(SyscallNumbers.CHDIR, FileSyscalls::chdir);
        t.register(SyscallNumbers.FCHDIR, FileSyscalls::fchdir);
        t.register(SyscallNumbers.FCNTL, FileSyscalls::fcntl);
        t.register(SyscallNumbers.DUP, c -> c.files().duplicate(c.intArg(0), 0, false));
        t.register(SyscallNumbers.DUP2, FileSyscalls::dup2);
        t.register(SyscallNumbers.DUP3, FileSyscalls::dup3);
        t.register(SyscallNumbers.PIPE, c -> pipe2(c, c.arg(0), 0));
        t.register(SyscallNumbers.PIPE2, c -> pipe2(c, c.arg(0), c.intArg(1)));
        t.register(SyscallNumbers.IOCTL, FileSyscalls::ioctl);
        t.register(SyscallNumbers.UNLINK, c -> unlinkat(c, OpenFlags.AT_FDCWD, c.arg(0), 0));
        t.register(SyscallNumbers.RMDIR, c -> unlinkat(c, OpenFlags.AT_FDCWD, c.arg(0), OpenFlags.AT_REMOVEDIR));
        t.register(SyscallNumbers.UNLINKAT, c -> unlinkat(c, c.intArg(0), c.arg(1), c.intArg(2)));
        t.register(SyscallNumbers.MKDIR, c -> mkdirat(c, OpenFlags.AT_FDCWD, c.arg(0), c.intArg(1)));
        t.register(SyscallNumbers.MKDIRAT, c -> mkdirat(c, c.intArg(0), c.arg(1), c.intArg(2)));
        t.register(SyscallNumbers.RENAME, c -> renameat2(c, OpenFlags.AT_FDCWD, c.arg(0), OpenFlags.AT_FDCWD,
                c.arg(1), 0));
        t.register(SyscallNumbers.RENAMEAT, c -> renameat2(c, c.intArg(0), c.arg(1), c.intArg(2), c.arg(3), 0));
        t.register(SyscallNumbers.RENAMEAT2, c -> renameat2(c, c.intArg(0), c.arg(1), c.intArg(2), c.arg(3),
                c.intArg(4)));
        t.register(SyscallNumbers.FTRUNCATE, FileSyscalls::ftruncate);
        t.register(SyscallNumbers.FSYNC, c -> c.files().get(c.intArg(0)).sync());
        t.register(SyscallNumbers.FDATASYNC, c -> c.files().get(c.intArg(0)).sync());
        t.register(SyscallNumbers.UMASK, c -> {
            int old = c.process().umask();
            c.process().setUmask(c.intArg(0));
            return old;
        });
        t.register(SyscallNumbers.FLOCK, c -> {
            c.files().get(c.intArg(0));
            return 0; // each VM is the only process: advisory locks always succeed
        });
        t.register(SyscallNumbers.FADVISE64, c -> {
            c.files().get(c.intArg(0));
            return 0;
        });
        // Refused on purpose, with the EPERM of a file system that does not support links
        // (link(2), symlink(2)). A hard link of a readable file into a writable directory would
        // make the file writable through the new name; a symlink's target would be read in the
        // host's namespace, not the guest's (volumes), so it would not mean what the guest wrote.
        t.register(SyscallNumbers.LINK, c -> -Errno.EPERM);
        t.register(SyscallNumbers.LINKAT, c -> -Errno.EPERM);
        t.register(SyscallNumbers.SYMLINK, c -> -Errno.EPERM);
        t.register(SyscallNumbers.SYMLINKAT, c -> -Errno.EPERM);
    }

    // ---- paths ----

    /** Where a path argument leads: resolved through the policy, relative to cwd or a dirfd. */
    static Resolution resolve(Syscall c, int dirfd, long pathAddress, Access access,
            boolean allowEmpty) {
        return resolve(c, dirfd, pathAddress, access, allowEmpty, true);
    }

    /**
     * As {@link #resolve(Syscall, int, long, Access, boolean)}; with {@code follow} false the last
     * component is not followed if it is a symlink, for calls that act on the link itself
     * (unlink, rename, lstat, readlink): otherwise unlinking a link would delete its target.
     */
    static Resolution resolve(Syscall c, int dirfd, long pathAddress, Access access,
            boolean allowEmpty, boolean follow) {
        String path = c.memory().readPath(pathAddress);
        String base = c.process().cwd();
        if (path.isEmpty()) {
            if (!allowEmpty) {
                throw new SyscallError(Errno.ENOENT);
            }
            FileDescription dir = c.files().get(dirfd);
            path = dir.path() == null ? "" : dir.path();
            if (path.isEmpty()) {
                throw new SyscallError(Errno.ENOENT);
            }
        } else if (!path.startsWith("/") && dirfd != OpenFlags.AT_FDCWD) {
            FileDescription dir = c.files().get(dirfd);
            if (!dir.isDirectory() || dir.path() == null) {
                throw new SyscallError(Errno.ENOTDIR);
            }
            base = dir.path();
        }
        Resolution r = follow ? c.kernel().fileSystem().resolve(base, path, access)
                : c.kernel().fileSystem().resolveNoFollow(base, path, access);
        if (r.errno() != 0) {
            c.kernel().denials().record(access == Access.WRITE ? Denials.Kind.WRITE : Denials.Kind.READ, path);
            throw new SyscallError(r.errno());
        }
        return r;
    }

    static boolean isVirtual(Resolution r) {
        return r.kind() == Resolution.Kind.VIRTUAL;
    }

    static byte[] hostPath(Resolution r) {
        return (r.hostPath() + "\0").getBytes(StandardCharsets.UTF_8);
    }

    static long openat(Syscall c, int dirfd, long pathAddress, int flags, int mode) {
        boolean writes = (flags & OpenFlags.O_ACCMODE) != OpenFlags.O_RDONLY
                || (flags & (OpenFlags.O_CREAT | OpenFlags.O_TRUNC)) != 0;
        if ((flags & OpenFlags.O_TMPFILE) == OpenFlags.O_TMPFILE || (flags & OpenFlags.O_ACCMODE) == 3) {
            return -Errno.EINVAL;
        }
        Resolution r = resolve(c, dirfd, pathAddress,
                writes ? Access.WRITE : Access.READ, false);
        boolean cloexec = (flags & OpenFlags.O_CLOEXEC) != 0;
        if (isVirtual(r)) {
            if (writes) {
                return -Errno.EACCES;
            }
            byte[] content = virtualContent(c, r.virtualName());
            if (content == null) {
                return -Errno.ENOENT;
            }
            return c.files().install(new MemoryFile(content, r.guestPath()), 0, cloexec);
        }
        int hostFlags = (flags & OpenFlags.PASSED_TO_HOST) | OpenFlags.O_NOFOLLOW | OpenFlags.O_CLOEXEC;
        if ((flags & OpenFlags.O_PATH) != 0) {
            hostFlags = OpenFlags.O_RDONLY | OpenFlags.O_NOFOLLOW | OpenFlags.O_CLOEXEC
                    | (flags & OpenFlags.O_DIRECTORY);
        }
        int fd;
        try {
            fd = LibC.open(hostPath(r), hostFlags, mode & ~c.process().umask() & 07777);
        } catch (LastErrorException e) {
            return -e.getErrorCode();
        }
        return c.files().install(hostFile(fd, true, flags, r.guestPath()), 0, cloexec);
    }

    /** Wraps an open host fd, finding out from the host whether it is seekable or a directory. */
    static HostFile hostFile(int fd, boolean owner, int flags, String guestPath) {
        int type;
        try (Memory st = new Memory(STAT_SIZE)) {
            LibC.syscall(SyscallNumbers.FSTAT, fd, com.sun.jna.Pointer.nativeValue(st), 0, 0,
                    0, 0);
            type = st.getInt(24) & S_IFMT;
        } catch (LastErrorException e) {
            type = 0;
        }
        boolean seekable = type == S_IFREG || type == S_IFDIR || type == S_IFBLK;
        int status = flags & (OpenFlags.O_ACCMODE | OpenFlags.SETTABLE_STATUS);
        return new HostFile(fd, owner, status, seekable, type == S_IFDIR, guestPath);
    }

    private static byte[] virtualContent(Syscall c, String name) {
        return switch (name) {
            case "maps" -> c.memory().maps().getBytes(StandardCharsets.US_ASCII);
            case "cmdline", "environ", "status", "auxv" -> new byte[0];
            default -> null;
        };
    }

    // ---- fds and I/O ----

    static long close(Syscall c) {
        c.files().close(c.intArg(0));
        return 0;
    }

    static long read(Syscall c) {
        FileDescription f = c.files().get(c.intArg(0));
        long count = Math.min(c.arg(2), MAX_RW);
        if (c.arg(2) < 0) {
            return -Errno.EINVAL;
        }
        return f.read(c.memory().writable(c.arg(1), count), count);
    }

    static long write(Syscall c) {
        FileDescription f = c.files().get(c.intArg(0));
        long count = Math.min(c.arg(2), MAX_RW);
        if (c.arg(2) < 0) {
            return -Errno.EINVAL;
        }
        return f.write(c.memory().readable(c.arg(1), count), count);
    }

    static long pread64(Syscall c) {
        FileDescription f = c.files().get(c.intArg(0));
        long count = Math.min(c.arg(2), MAX_RW);
        if (c.arg(2) < 0 || c.arg(3) < 0) {
            return -Errno.EINVAL;
        }
        return f.pread(c.memory().writable(c.arg(1), count), count, c.arg(3));
    }

    static long pwrite64(Syscall c) {
        FileDescription f = c.files().get(c.intArg(0));
        long count = Math.min(c.arg(2), MAX_RW);
        if (c.arg(2) < 0 || c.arg(3) < 0) {
            return -Errno.EINVAL;
        }
        return f.pwrite(c.memory().readable(c.arg(1), count), count, c.arg(3));
    }

    /** readv, writev, preadv, pwritev: one buffer at a time, stopping at a short transfer. */
    static long vector(Syscall c, boolean writing, long position) {
        FileDescription f = c.files().get(c.intArg(0));
        long iov = c.arg(1);
        long count = c.arg(2);
        if (count < 0 || count > IOV_MAX) {
            return -Errno.EINVAL;
        }
        AddressSpace m = c.memory();
        m.check(iov, count * 16, AddressSpace.PROT_READ);
        long total = 0;
        for (int i = 0; i < count; i++) {
            long base = m.readLong(iov + i * 16L);
            long len = m.readLong(iov + i * 16L + 8);
            if (len < 0 || total + len < 0) {
                return -Errno.EINVAL;
            }
            if (len == 0) {
                continue;
            }
            long host;
            try {
                host = writing ? m.readable(base, len) : m.writable(base, len);
            } catch (SyscallError e) {
                return total > 0 ? total : -e.errno();
            }
            long n;
            if (position >= 0) {
                n = writing ? f.pwrite(host, len, position + total) : f.pread(host, len, position + total);
            } else {
                n = writing ? f.write(host, len) : f.read(host, len);
            }
            if (n < 0) {
                return total > 0 ? total : n;
            }
            total += n;
            if (n < len) {
                break;
            }
        }
        return total;
    }

    static long fstat(Syscall c) {
        FileDescription f = c.files().get(c.intArg(0));
        return f.stat(c.memory().writable(c.arg(1), STAT_SIZE));
    }

    static long fstatat(Syscall c, int dirfd, long pathAddress, long statAddress, int flags) {
        if ((flags & ~(OpenFlags.AT_SYMLINK_NOFOLLOW | OpenFlags.AT_EMPTY_PATH | 0x800)) != 0) {
            return -Errno.EINVAL;
        }
        long host = c.memory().writable(statAddress, STAT_SIZE);
        if ((flags & OpenFlags.AT_EMPTY_PATH) != 0 && c.memory().readCString(pathAddress, PATH_MAX).length == 0) {
            return c.files().get(dirfd).stat(host);
        }
        Resolution r = resolve(c, dirfd, pathAddress, Access.READ, false,
                (flags & OpenFlags.AT_SYMLINK_NOFOLLOW) == 0);
        if (isVirtual(r)) {
            return new MemoryFile(new byte[0], r.guestPath()).stat(host);
        }
        return HostFile.call(() -> LibC.syscall(SyscallNumbers.NEWFSTATAT, OpenFlags.AT_FDCWD, hostPath(r), host,
                OpenFlags.AT_SYMLINK_NOFOLLOW, 0, 0));
    }

    static long statx(Syscall c) {
        int dirfd = c.intArg(0);
        long pathAddress = c.arg(1);
        int flags = c.intArg(2);
        int mask = c.intArg(3);
        long host = c.memory().writable(c.arg(4), 256);
        if ((flags & OpenFlags.AT_EMPTY_PATH) != 0 && c.memory().readCString(pathAddress, PATH_MAX).length == 0) {
            int hostFd = c.files().get(dirfd).hostFd();
            if (hostFd < 0) {
                return -Errno.ENOSYS; // callers fall back to fstat
            }
            return HostFile.call(() -> LibC.syscall(SyscallNumbers.STATX, hostFd, new byte[] {0}, OpenFlags.AT_EMPTY_PATH,
                    mask, host, 0));
        }
        Resolution r = resolve(c, dirfd, pathAddress, Access.READ, false);
        if (isVirtual(r)) {
            return -Errno.ENOSYS;
        }
        return HostFile.call(() -> LibC.syscall(SyscallNumbers.STATX, OpenFlags.AT_FDCWD, hostPath(r),
                OpenFlags.AT_SYMLINK_NOFOLLOW | (flags & 0x6000), mask, host, 0));
    }

    static long getdents64(Syscall c) {
        FileDescription f = c.files().get(c.intArg(0));
        long count = Math.min(c.arg(2) & 0xffffffffL, MAX_RW);
        return f.getdents64(c.memory().writable(c.arg(1), count), count);
    }

    /**
     * The policy resolves symlinks on the host, so the guest sees a tree without them: only the
     * engine's own links ({@code /proc/self/exe}, {@code /proc/self/fd/N}) are links.
     */
    static long readlinkat(Syscall c, int dirfd, long pathAddress, long buffer, long size) {
        if (size <= 0) {
            return -Errno.EINVAL;
        }
        String path = c.memory().readPath(pathAddress);
        String target = null;
        if (path.equals("/proc/self/exe")) {
            target = c.kernel().programHostPath();
        } else if (path.startsWith("/proc/self/fd/")) {
            try {
                FileDescription f = c.files().get(Integer.parseInt(path.substring("/proc/self/fd/".length())));
                target = f.path();
            } catch (NumberFormatException e) {
                return -Errno.ENOENT;
            }
        }
        if (target == null) {
            resolve(c, dirfd, pathAddress, Access.READ, false);
            return -Errno.EINVAL;
        }
        byte[] bytes = target.getBytes(StandardCharsets.UTF_8);
        int n = (int) Math.min(bytes.length, size);
        c.memory().writeBytes(buffer, bytes, 0, n);
        return n;
    }

    static long faccessat(Syscall c, int dirfd, long pathAddress, int mode, int flags) {
        if ((mode & ~7) != 0) {
            return -Errno.EINVAL;
        }
        boolean write = (mode & 2) != 0;
        Resolution r = resolve(c, dirfd, pathAddress,
                write ? Access.WRITE : Access.READ, false);
        if (isVirtual(r)) {
            return write ? -Errno.EACCES : 0;
        }
        return HostFile.call(() -> LibC.syscall(SyscallNumbers.FACCESSAT, OpenFlags.AT_FDCWD, hostPath(r), mode,
                0, 0, 0));
    }

    static long getcwd(Syscall c) {
        byte[] cwd = (c.process().cwd() + "\0").getBytes(StandardCharsets.UTF_8);
        long size = c.arg(1);
        if (size < cwd.length) {
            return size == 0 && c.arg(0) != 0 ? -Errno.EINVAL : -Errno.ERANGE;
        }
        c.memory().writeBytes(c.arg(0), cwd);
        return cwd.length;
    }

    static long chdir(Syscall c) {
        Resolution r = resolve(c, OpenFlags.AT_FDCWD, c.arg(0), Access.READ, false);
        return changeDirectory(c, r);
    }

    private static long changeDirectory(Syscall c, Resolution r) {
        if (isVirtual(r)) {
            return -Errno.ENOTDIR;
        }
        try (Memory st = new Memory(STAT_SIZE)) {
            long rc = HostFile.call(() -> LibC.syscall(SyscallNumbers.NEWFSTATAT, OpenFlags.AT_FDCWD, hostPath(r),
                    com.sun.jna.Pointer.nativeValue(st), 0, 0, 0));
            if (rc < 0) {
                return rc;
            }
            if ((st.getInt(24) & S_IFMT) != S_IFDIR) {
                return -Errno.ENOTDIR;
            }
        }
        c.process().setCwd(r.guestPath());
        return 0;
    }

    static long fchdir(Syscall c) {
        FileDescription f = c.files().get(c.intArg(0));
        if (!f.isDirectory() || f.path() == null) {
            return -Errno.ENOTDIR;
        }
        c.process().setCwd(f.path());
        return 0;
    }

    static long fcntl(Syscall c) {
        int fd = c.intArg(0);
        int cmd = c.intArg(1);
        long arg = c.arg(2);
        FdTable files = c.files();
        FileDescription f = files.get(fd);
        switch (cmd) {
            case F_DUPFD:
                return files.duplicate(fd, (int) Math.min(Math.max(arg, -1), Integer.MAX_VALUE), false);
            case F_DUPFD_CLOEXEC:
                return files.duplicate(fd, (int) Math.min(Math.max(arg, -1), Integer.MAX_VALUE), true);
            case F_GETFD:
                return files.closeOnExec(fd) ? FD_CLOEXEC : 0;
            case F_SETFD:
                files.setCloseOnExec(fd, (arg & FD_CLOEXEC) != 0);
                return 0;
            case F_GETFL:
                return f.statusFlags();
            case F_SETFL:
                f.setStatusFlags((f.statusFlags() & ~OpenFlags.SETTABLE_STATUS) | ((int) arg & OpenFlags.SETTABLE_STATUS));
                return 0;
            case F_GETLK:
                // struct flock: l_type F_UNLCK (2): nothing else holds a lock in this VM.
                c.memory().check(arg, 32, AddressSpace.PROT_READ | AddressSpace.PROT_WRITE);
                c.memory().memory().putShort(arg, (short) 2);
                return 0;
            case F_SETLK:
            case F_SETLKW:
                c.memory().check(arg, 32, AddressSpace.PROT_READ);
                return 0;
            default:
                return -Errno.EINVAL;
        }
    }

    static long dup2(Syscall c) {
        int oldFd = c.intArg(0);
        long newFd = c.arg(1);
        c.files().get(oldFd);
        if (oldFd == newFd) {
            return newFd;
        }
        return c.files().duplicateTo(oldFd, newFd, false);
    }

    static long dup3(Syscall c) {
        int oldFd = c.intArg(0);
        long newFd = c.arg(1);
        int flags = c.intArg(2);
        if ((flags & ~OpenFlags.O_CLOEXEC) != 0 || oldFd == newFd) {
            return -Errno.EINVAL;
        }
        return c.files().duplicateTo(oldFd, newFd, flags != 0);
    }

    static long pipe2(Syscall c, long fdsAddress, int flags) {
        if ((flags & ~(OpenFlags.O_CLOEXEC | OpenFlags.O_NONBLOCK | OpenFlags.O_DIRECTORY)) != 0) {
            return -Errno.EINVAL;
        }
        c.memory().check(fdsAddress, 8, AddressSpace.PROT_WRITE);
        FdTable files = c.files();
        if (files.openCount() + 2 > FdTable.LIMIT) {
            return -Errno.EMFILE;
        }
        long[] fds = new long[1];
        try (Memory pair = new Memory(8)) {
            long rc = HostFile.call(() -> LibC.syscall(SyscallNumbers.PIPE2, com.sun.jna.Pointer.nativeValue(pair),
                    OpenFlags.O_CLOEXEC | OpenFlags.O_NONBLOCK, 0, 0, 0, 0));
            if (rc < 0) {
                return rc;
            }
            fds[0] = pair.getLong(0);
        }
        int readHost = (int) fds[0];
        int writeHost = (int) (fds[0] >>> 32);
        boolean cloexec = (flags & OpenFlags.O_CLOEXEC) != 0;
        int status = flags & OpenFlags.O_NONBLOCK;
        int r = files.install(new StreamFile(readHost, true, OpenFlags.O_RDONLY | status, "pipe:", S_IFIFO), 0,
                cloexec);
        int w = files.install(new StreamFile(writeHost, true, OpenFlags.O_WRONLY | status, "pipe:", S_IFIFO), 0,
                cloexec);
        c.memory().writeInt(fdsAddress, r);
        c.memory().writeInt(fdsAddress + 4, w);
        return 0;
    }

    static long ioctl(Syscall c) {
        int fd = c.intArg(0);
        long request = c.arg(1) & 0xffffffffL;
        long arg = c.arg(2);
        FileDescription f = c.files().get(fd);
        if (request == FIONBIO) {
            int on = c.memory().readInt(arg);
            int flags = f.statusFlags();
            f.setStatusFlags(on != 0 ? flags | OpenFlags.O_NONBLOCK : flags & ~OpenFlags.O_NONBLOCK);
            return 0;
        }
        if (request == FIOCLEX || request == FIONCLEX) {
            c.files().setCloseOnExec(fd, request == FIOCLEX);
            return 0;
        }
        return f.ioctl(request, arg, c.memory());
    }

    static long unlinkat(Syscall c, int dirfd, long pathAddress, int flags) {
        if ((flags & ~OpenFlags.AT_REMOVEDIR) != 0) {
            return -Errno.EINVAL;
        }
        Resolution r = resolve(c, dirfd, pathAddress, Access.WRITE, false, false);
        if (isVirtual(r)) {
            return -Errno.EACCES;
        }
        return HostFile.call(() -> LibC.syscall(SyscallNumbers.UNLINKAT, OpenFlags.AT_FDCWD, hostPath(r), flags, 0, 0, 0));
    }

    static long mkdirat(Syscall c, int dirfd, long pathAddress, int mode) {
        Resolution r = resolve(c, dirfd, pathAddress, Access.WRITE, false);
        if (isVirtual(r)) {
            return -Errno.EEXIST;
        }
        int effective = mode & ~c.process().umask() & 07777;
        return HostFile.call(() -> LibC.syscall(SyscallNumbers.MKDIRAT, OpenFlags.AT_FDCWD, hostPath(r), effective, 0, 0, 0));
    }

    static long renameat2(Syscall c, int oldDirfd, long oldPath, int newDirfd, long newPath, int flags) {
        if ((flags & ~7) != 0) {
            return -Errno.EINVAL;
        }
        Resolution from = resolve(c, oldDirfd, oldPath, Access.WRITE, false, false);
        Resolution to = resolve(c, newDirfd, newPath, Access.WRITE, false, false);
        if (isVirtual(from) || isVirtual(to)) {
            return -Errno.EACCES;
        }
        return HostFile.call(() -> LibC.syscall(SyscallNumbers.RENAMEAT2, OpenFlags.AT_FDCWD, hostPath(from),
                OpenFlags.AT_FDCWD, hostPath(to), flags, 0));
    }

    static long ftruncate(Syscall c) {
        FileDescription f = c.files().get(c.intArg(0));
        if (c.arg(1) < 0) {
            return -Errno.EINVAL;
        }
        if ((f.statusFlags() & OpenFlags.O_ACCMODE) == OpenFlags.O_RDONLY) {
            return -Errno.EINVAL;
        }
        return f.truncate(c.arg(1));
    }
}
