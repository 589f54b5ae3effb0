package io.kvmserver.linux;

import io.kvmserver.host.StructStat;
import io.kvmserver.host.OpenFlags;

import io.kvmserver.host.SyscallNumbers;

import io.kvmserver.host.Errno;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;
import io.kvmserver.sandbox.Access;
import io.kvmserver.sandbox.FileSystemPolicy;
import io.kvmserver.sandbox.Resolution;
import java.nio.charset.StandardCharsets;

/**
 * The system calls that take a path: open, stat, access, readlink, mkdir, unlink, rename,
 * chdir, truncate, utimensat, statfs, chmod.
 *
 * <p>Each path goes through the {@link FileSystemPolicy}, which resolves it on the host one
 * component at a time and answers with the directory it found, held open. The handler then acts
 * with an {@code *at} call on that directory and a single name, never following a symlink there,
 * and never with an absolute host path: another request VM renaming things in a shared volume
 * can make a call fail, not reach outside the grants. Relative paths start at the current
 * directory or at the directory a dirfd refers to now (see {@link #resolve}).
 */
final class PathSyscalls {

    private static final int O_NOFOLLOW_HOST = OpenFlags.O_NOFOLLOW | OpenFlags.O_CLOEXEC | OpenFlags.O_NONBLOCK;
    private static final int STATX_SIZE = 256;
    private static final int STATFS_SIZE = 120;
    static final int S_IFMT = 0170000;
    static final int S_IFREG = 0100000;
    static final int S_IFDIR = 0040000;
    static final int S_IFLNK = 0120000;
    static final int S_IFIFO = 0010000;
    static final int S_IFBLK = 0060000;
    /**
     * Permission bits a guest may set. Never set-user-ID or set-group-ID: the host call runs with
     * the JVM's identity (often root), and a set-ID file written into a shared volume would be a
     * way to raise privileges on the host.
     */
    private static final int MODE_BITS = 01777;
    private static final int RENAME_NOREPLACE = 1;
    private static final int RENAME_EXCHANGE = 2;
    private static final int RENAME_WHITEOUT = 4;
    private static final int AT_STATX_SYNC_TYPE = 0x6000;
    private static final long FIFO_OPEN_RETRY_NANOS = 5_000_000L;

    private PathSyscalls() {
    }

    static void register(SyscallTable t) {
        // Extended attributes: the file must be there and reachable, then the answer of a file
        // system without them (python's shutil.copystat and copy2 take that for "none").
        t.register(SyscallNumbers.GETXATTR, c -> noXattrs(c, c.arg(0), Access.READ, true));
        t.register(SyscallNumbers.LGETXATTR, c -> noXattrs(c, c.arg(0), Access.READ, false));
        t.register(SyscallNumbers.LISTXATTR, c -> noXattrs(c, c.arg(0), Access.READ, true));
        t.register(SyscallNumbers.LLISTXATTR, c -> noXattrs(c, c.arg(0), Access.READ, false));
        t.register(SyscallNumbers.SETXATTR, c -> noXattrs(c, c.arg(0), Access.WRITE, true));
        t.register(SyscallNumbers.LSETXATTR, c -> noXattrs(c, c.arg(0), Access.WRITE, false));
        t.register(SyscallNumbers.REMOVEXATTR, c -> noXattrs(c, c.arg(0), Access.WRITE, true));
        t.register(SyscallNumbers.LREMOVEXATTR, c -> noXattrs(c, c.arg(0), Access.WRITE, false));
        for (int nr : new int[] {SyscallNumbers.FGETXATTR, SyscallNumbers.FLISTXATTR, SyscallNumbers.FSETXATTR,
            SyscallNumbers.FREMOVEXATTR}) {
            t.register(nr, c -> {
                c.files().get(c.intArg(0)); // EBADF first
                return -Errno.EOPNOTSUPP;
            });
        }
        t.register(SyscallNumbers.OPEN, c -> openat(c, OpenFlags.AT_FDCWD, c.arg(0), c.intArg(1), c.intArg(2)));
        t.register(SyscallNumbers.OPENAT, c -> openat(c, c.intArg(0), c.arg(1), c.intArg(2), c.intArg(3)));
        t.register(SyscallNumbers.CREAT, c -> openat(c, OpenFlags.AT_FDCWD, c.arg(0),
                OpenFlags.O_CREAT | OpenFlags.O_WRONLY | OpenFlags.O_TRUNC, c.intArg(1)));
        t.register(SyscallNumbers.STAT, c -> fstatat(c, OpenFlags.AT_FDCWD, c.arg(0), c.arg(1), 0));
        t.register(SyscallNumbers.LSTAT, c -> fstatat(c, OpenFlags.AT_FDCWD, c.arg(0), c.arg(1),
                OpenFlags.AT_SYMLINK_NOFOLLOW));
        t.register(SyscallNumbers.NEWFSTATAT, c -> fstatat(c, c.intArg(0), c.arg(1), c.arg(2), c.intArg(3)));
        t.register(SyscallNumbers.STATX, PathSyscalls::statx);
        t.register(SyscallNumbers.READLINK, c -> readlinkat(c, OpenFlags.AT_FDCWD, c.arg(0), c.arg(1), c.intArg(2)));
        t.register(SyscallNumbers.READLINKAT, c -> readlinkat(c, c.intArg(0), c.arg(1), c.arg(2), c.intArg(3)));
        t.register(SyscallNumbers.ACCESS, c -> faccessat(c, OpenFlags.AT_FDCWD, c.arg(0), c.intArg(1), 0));
        t.register(SyscallNumbers.FACCESSAT, c -> faccessat(c, c.intArg(0), c.arg(1), c.intArg(2), 0));
        t.register(SyscallNumbers.FACCESSAT2, c -> faccessat(c, c.intArg(0), c.arg(1), c.intArg(2), c.intArg(3)));
        t.register(SyscallNumbers.GETCWD, PathSyscalls::getcwd);
        t.register(SyscallNumbers.CHDIR, PathSyscalls::chdir);
        t.register(SyscallNumbers.FCHDIR, PathSyscalls::fchdir);
        t.register(SyscallNumbers.MKDIR, c -> mkdirat(c, OpenFlags.AT_FDCWD, c.arg(0), c.intArg(1)));
        t.register(SyscallNumbers.MKDIRAT, c -> mkdirat(c, c.intArg(0), c.arg(1), c.intArg(2)));
        t.register(SyscallNumbers.UNLINK, c -> unlinkat(c, OpenFlags.AT_FDCWD, c.arg(0), 0));
        t.register(SyscallNumbers.RMDIR, c -> unlinkat(c, OpenFlags.AT_FDCWD, c.arg(0), OpenFlags.AT_REMOVEDIR));
        t.register(SyscallNumbers.UNLINKAT, c -> unlinkat(c, c.intArg(0), c.arg(1), c.intArg(2)));
        t.register(SyscallNumbers.RENAME, c -> renameat2(c, OpenFlags.AT_FDCWD, c.arg(0), OpenFlags.AT_FDCWD,
                c.arg(1), 0));
        t.register(SyscallNumbers.RENAMEAT, c -> renameat2(c, c.intArg(0), c.arg(1), c.intArg(2), c.arg(3), 0));
        t.register(SyscallNumbers.RENAMEAT2, c -> renameat2(c, c.intArg(0), c.arg(1), c.intArg(2), c.arg(3),
                c.intArg(4)));
        t.register(SyscallNumbers.TRUNCATE, PathSyscalls::truncate);
        t.register(SyscallNumbers.UTIMENSAT, PathSyscalls::utimensat);
        t.register(SyscallNumbers.STATFS, PathSyscalls::statfs);
        t.register(SyscallNumbers.CHMOD, c -> fchmodat(c, OpenFlags.AT_FDCWD, c.arg(0), c.intArg(1), 0));
        t.register(SyscallNumbers.FCHMODAT, c -> fchmodat(c, c.intArg(0), c.arg(1), c.intArg(2), 0));
        for (int nr : new int[] {SyscallNumbers.CHOWN, SyscallNumbers.LCHOWN, SyscallNumbers.FCHOWNAT}) {
            // Files belong to the JVM's user on the host; giving them away is for root, which the guest is not.
            t.register(nr, c -> -Errno.EPERM);
        }
        // Refused on purpose, with the EPERM of a file system that does not support links
        // (link(2), symlink(2)). A hard link of a readable file into a writable directory would
        // make the file writable through the new name; a symlink's target would be read in the
        // host's namespace, not the guest's (volumes), so it would not mean what the guest wrote.
        t.register(SyscallNumbers.LINK, c -> -Errno.EPERM);
        t.register(SyscallNumbers.LINKAT, c -> -Errno.EPERM);
        t.register(SyscallNumbers.SYMLINK, c -> -Errno.EPERM);
        t.register(SyscallNumbers.SYMLINKAT, c -> -Errno.EPERM);
    }

    // ---- resolution ----

    /**
     * Where a path argument leads, through the policy. A relative path starts at the current
     * directory, or with a dirfd at the directory that descriptor refers to now: where the host
     * says it is at this moment, not where it was when the guest opened it. With {@code follow}
     * false a symlink as the last component is the result itself (unlink, rename, lstat,
     * readlink, {@code O_NOFOLLOW}). A refusal by the permissions is recorded as a denial; a
     * file that is simply missing is not.
     */
    /** An extended-attribute call on a path: its resolution's errno, or none supported. */
    private static long noXattrs(Syscall c, long pathAddress, Access access, boolean follow) {
        try (Resolution r = resolve(c, OpenFlags.AT_FDCWD, pathAddress, access, follow)) {
            if (r.errno() != 0) {
                return -r.errno();
            }
            return r.exists() || r.isVirtual() ? -Errno.EOPNOTSUPP : -Errno.ENOENT;
        }
    }

    static Resolution resolve(Syscall c, int dirfd, long pathAddress, Access access, boolean follow) {
        String path = c.memory().readPath(pathAddress);
        if (path.isEmpty()) {
            throw new SyscallError(Errno.ENOENT);
        }
        return resolve(c, dirfd, path, access, follow);
    }

    static Resolution resolve(Syscall c, int dirfd, String path, Access access, boolean follow) {
        path = ownProcPath(c, path);
        String base = c.process().cwd();
        if (!path.startsWith("/") && dirfd != OpenFlags.AT_FDCWD) {
            base = directoryPath(c, dirfd);
        }
        FileSystemPolicy policy = c.kernel().fileSystem();
        Resolution r = follow ? policy.resolve(base, path, access) : policy.resolveNoFollow(base, path, access);
        if (r.errno() != 0) {
            if (r.byPolicy()) {
                c.deny(access == Access.WRITE ? Denials.Kind.WRITE : Denials.Kind.READ, path);
            }
            throw new SyscallError(r.errno());
        }
        return r;
    }

    /**
     * {@code /proc/<pid>/...} of the program's own pid is {@code /proc/self/...}, as on Linux,
     * where programs build it from {@code getpid()} (psutil, process collectors); any other pid
     * is another process's, which the guest cannot see.
     */
    private static String ownProcPath(Syscall c, String path) {
        if (!path.startsWith("/proc/")) {
            return path;
        }
        int end = path.indexOf('/', 6);
        String id = path.substring(6, end < 0 ? path.length() : end);
        if (id.isEmpty() || id.length() > 9 || id.charAt(0) == '0' || !id.chars().allMatch(ch -> ch >= '0' && ch <= '9')
                || Integer.parseInt(id) != c.process().pid()) {
            return path;
        }
        return "/proc/self" + (end < 0 ? "" : path.substring(end));
    }

    /** The guest path of the directory {@code dirfd} refers to now; ENOTDIR or ENOENT otherwise. */
    private static String directoryPath(Syscall c, int dirfd) {
        FileDescription dir = c.files().get(dirfd);
        if (!dir.isDirectory()) {
            throw new SyscallError(Errno.ENOTDIR);
        }
        String now = dir.currentGuestPath(c.kernel().fileSystem());
        if (now == null) {
            throw new SyscallError(Errno.ENOENT); // deleted, or moved out of the guest's view
        }
        return now;
    }

    private static boolean isSymlink(Resolution r) {
        return r.exists() && (r.fileMode() & S_IFMT) == S_IFLNK;
    }

    // ---- open ----

    static long openat(Syscall c, int dirfd, long pathAddress, int flags, int mode) {
        if ((flags & OpenFlags.O_TMPFILE) == OpenFlags.O_TMPFILE || (flags & OpenFlags.O_ACCMODE) == 3) {
            return -Errno.EINVAL;
        }
        boolean pathOnly = (flags & OpenFlags.O_PATH) != 0;
        boolean creating = (flags & OpenFlags.O_CREAT) != 0 && !pathOnly;
        boolean writes = !pathOnly && ((flags & OpenFlags.O_ACCMODE) != OpenFlags.O_RDONLY
                || (flags & (OpenFlags.O_CREAT | OpenFlags.O_TRUNC)) != 0);
        // open(2): with O_NOFOLLOW, or O_CREAT | O_EXCL, a symlink as the last component is not followed.
        boolean follow = (flags & OpenFlags.O_NOFOLLOW) == 0
                && !(creating && (flags & OpenFlags.O_EXCL) != 0);
        boolean cloexec = (flags & OpenFlags.O_CLOEXEC) != 0;
        try (Resolution r = resolve(c, dirfd, pathAddress, writes ? Access.WRITE : Access.READ, follow)) {
            if (r.isVirtual()) {
                if (writes) {
                    return -Errno.EACCES;
                }
                FileDescription virtual = VirtualFiles.open(c, r.virtualName(), r.guestPath());
                return virtual == null ? -Errno.ENOENT : c.files().install(virtual, 0, cloexec);
            }
            if (!r.exists() && !creating) {
                return -Errno.ENOENT;
            }
            if (!r.exists() && r.namesDirectory()) {
                return -Errno.EISDIR; // O_CREAT makes files only: "new/" cannot be one
            }
            if (isSymlink(r) && !pathOnly) {
                return r.exists() && creating && (flags & OpenFlags.O_EXCL) != 0 ? -Errno.EEXIST : -Errno.ELOOP;
            }
            int hostFlags = pathOnly
                    ? OpenFlags.O_PATH | OpenFlags.O_NOFOLLOW | OpenFlags.O_CLOEXEC | (flags & OpenFlags.O_DIRECTORY)
                    : (flags & OpenFlags.PASSED_TO_HOST) | O_NOFOLLOW_HOST;
            int hostMode = mode & ~c.process().umask() & MODE_BITS;
            long fd = openHost(c, r, hostFlags, hostMode, flags);
            if (fd < 0) {
                return fd;
            }
            return c.files().install(HostFile.opened((int) fd, flags, r.guestPath(), r.hostPath()), 0,
                    cloexec);
        }
    }

    /**
     * The host open, in the resolved directory, never following a symlink and never blocking: a
     * FIFO opened for writing with no reader yet ({@code ENXIO} without blocking) is retried in
     * the VM's waiter, so that the request's time limit still ends the wait, as a blocking open
     * would have waited for a reader.
     */
    private static long openHost(Syscall c, Resolution r, int hostFlags, int hostMode, int guestFlags) {
        byte[] name = r.nameBytes();
        while (true) {
            long fd = HostFile.call(() -> LibC.openat(r.directoryFd(), name, hostFlags, hostMode));
            boolean waitForReader = fd == -Errno.ENXIO && (r.fileMode() & S_IFMT) == S_IFIFO
                    && (guestFlags & OpenFlags.O_NONBLOCK) == 0;
            if (!waitForReader) {
                return fd;
            }
            int slept = c.waiter().sleep(FIFO_OPEN_RETRY_NANOS);
            if (slept == HostWaiter.WAIT_PARKED) {
                return Syscall.RESTART;
            }
            if (slept == HostWaiter.WAIT_KICKED) {
                return -Errno.EINTR;
            }
        }
    }

    // ---- stat, access, readlink ----

    static long fstatat(Syscall c, int dirfd, long pathAddress, long statAddress, int flags) {
        if ((flags & ~(OpenFlags.AT_SYMLINK_NOFOLLOW | OpenFlags.AT_EMPTY_PATH | OpenFlags.AT_NO_AUTOMOUNT)) != 0) {
            return -Errno.EINVAL;
        }
        long host = c.memory().writable(statAddress, StructStat.SIZE);
        if ((flags & OpenFlags.AT_EMPTY_PATH) != 0 && c.memory().readPath(pathAddress).isEmpty()) {
            return c.files().get(dirfd).stat(host);
        }
        try (Resolution r = resolve(c, dirfd, pathAddress, Access.STAT,
                (flags & OpenFlags.AT_SYMLINK_NOFOLLOW) == 0)) {
            if (r.isVirtual()) {
                return VirtualFiles.stat(r.virtualName(), host);
            }
            return HostFile.call(() -> LibC.syscall(SyscallNumbers.NEWFSTATAT, r.directoryFd(), r.nameBytes(), host,
                    OpenFlags.AT_SYMLINK_NOFOLLOW, 0, 0));
        }
    }

    static long statx(Syscall c) {
        int dirfd = c.intArg(0);
        long pathAddress = c.arg(1);
        int flags = c.intArg(2);
        int mask = c.intArg(3);
        if ((flags & ~(OpenFlags.AT_SYMLINK_NOFOLLOW | OpenFlags.AT_EMPTY_PATH | OpenFlags.AT_NO_AUTOMOUNT
                | AT_STATX_SYNC_TYPE)) != 0) {
            return -Errno.EINVAL;
        }
        long host = c.memory().writable(c.arg(4), STATX_SIZE);
        if ((flags & OpenFlags.AT_EMPTY_PATH) != 0 && c.memory().readPath(pathAddress).isEmpty()) {
            int hostFd = c.files().get(dirfd).hostFd();
            if (hostFd < 0) {
                return -Errno.ENOSYS; // callers fall back to fstat
            }
            return HostFile.call(() -> LibC.syscall(SyscallNumbers.STATX, hostFd, new byte[] {0},
                    OpenFlags.AT_EMPTY_PATH | (flags & AT_STATX_SYNC_TYPE), mask, host, 0));
        }
        try (Resolution r = resolve(c, dirfd, pathAddress, Access.STAT,
                (flags & OpenFlags.AT_SYMLINK_NOFOLLOW) == 0)) {
            if (r.isVirtual()) {
                return -Errno.ENOSYS;
            }
            return HostFile.call(() -> LibC.syscall(SyscallNumbers.STATX, r.directoryFd(), r.nameBytes(),
                    OpenFlags.AT_SYMLINK_NOFOLLOW | (flags & AT_STATX_SYNC_TYPE), mask, host, 0));
        }
    }

    /**
     * readlink: the engine's own links ({@code /proc/self/exe}, {@code /proc/self/fd/N},
     * {@code /proc/self/cwd}) answer with guest paths, never the host's; a symlink on the host
     * answers with its target as written. The size is an {@code int}, as Linux declares it: the
     * register's upper half is not part of it.
     */
    static long readlinkat(Syscall c, int dirfd, long pathAddress, long buffer, int size) {
        if (size <= 0) {
            return -Errno.EINVAL;
        }
        byte[] bytes;
        try (Resolution r = resolve(c, dirfd, pathAddress, Access.READ, false)) {
            if (r.isVirtual()) {
                String target = VirtualFiles.linkTarget(c, r.virtualName());
                bytes = target == null ? null : target.getBytes(StandardCharsets.UTF_8);
            } else if (isSymlink(r)) {
                bytes = readHostLink(r);
            } else {
                bytes = null;
            }
        }
        if (bytes == null) {
            return -Errno.EINVAL;
        }
        int n = (int) Math.min(bytes.length, size);
        c.memory().writeBytes(buffer, bytes, 0, n);
        return n;
    }

    /** A host link's target as its bytes: what the guest reads is what the link holds. */
    private static byte[] readHostLink(Resolution r) {
        try (Memory out = new Memory(4096)) {
            long n = LibC.syscall(SyscallNumbers.READLINKAT, r.directoryFd(), r.nameBytes(), Pointer.nativeValue(out),
                    4096, 0, 0);
            return out.getByteArray(0, (int) n);
        } catch (LastErrorException e) {
            return null;
        }
    }

    static long faccessat(Syscall c, int dirfd, long pathAddress, int mode, int flags) {
        if ((mode & ~7) != 0
                || (flags & ~(OpenFlags.AT_EACCESS | OpenFlags.AT_SYMLINK_NOFOLLOW | OpenFlags.AT_EMPTY_PATH)) != 0) {
            return -Errno.EINVAL;
        }
        boolean write = (mode & 2) != 0;
        try (Resolution r = resolve(c, dirfd, pathAddress, write ? Access.WRITE : Access.READ,
                (flags & OpenFlags.AT_SYMLINK_NOFOLLOW) == 0)) {
            if (r.isVirtual()) {
                return write ? -Errno.EACCES : 0;
            }
            if (!r.exists()) {
                return -Errno.ENOENT;
            }
            return HostFile.call(() -> LibC.syscall(SyscallNumbers.FACCESSAT2, r.directoryFd(), r.nameBytes(), mode,
                    OpenFlags.AT_SYMLINK_NOFOLLOW, 0, 0));
        }
    }

    // ---- working directory ----

    static long getcwd(Syscall c) {
        byte[] cwd = (c.process().cwd() + "\0").getBytes(StandardCharsets.UTF_8);
        long size = c.arg(1); // a size_t: -1 is the largest
        if (Long.compareUnsigned(size, cwd.length) < 0) {
            return -Errno.ERANGE; // the kernel's answer, size 0 too (glibc's wrapper says EINVAL for that)
        }
        c.memory().writeBytes(c.arg(0), cwd);
        return cwd.length;
    }

    static long chdir(Syscall c) {
        try (Resolution r = resolve(c, OpenFlags.AT_FDCWD, c.arg(0), Access.READ, true)) {
            if (r.isVirtual()) {
                return -Errno.ENOTDIR;
            }
            if (!r.exists()) {
                return -Errno.ENOENT;
            }
            if ((r.fileMode() & S_IFMT) != S_IFDIR) {
                return -Errno.ENOTDIR;
            }
            c.process().setCwd(r.guestPath());
            return 0;
        }
    }

    static long fchdir(Syscall c) {
        c.process().setCwd(directoryPath(c, c.intArg(0)));
        return 0;
    }

    // ---- changing the tree ----

    /**
     * mkdir: an existing name is {@code EEXIST} whenever the guest may see it, even where it may
     * not write (mkdir -p walks up through read-only parents); only then is write access needed.
     */
    static long mkdirat(Syscall c, int dirfd, long pathAddress, int mode) {
        String path = c.memory().readPath(pathAddress);
        if (path.isEmpty()) {
            return -Errno.ENOENT;
        }
        try (Resolution seen = c.kernel().fileSystem().resolveNoFollow(pathBase(c, dirfd, path), path, Access.READ)) {
            if (seen.isVirtual() || seen.exists() || (seen.guestPath() != null
                    && c.kernel().fileSystem().holdsMountPoint(seen.guestPath(), seen.hostPath()))) {
                return -Errno.EEXIST; // a volume or write tree is there even when its host directory is not
            }
        }
        try (Resolution r = resolve(c, dirfd, path, Access.WRITE, false)) {
            int effective = mode & ~c.process().umask() & MODE_BITS;
            return HostFile.call(() -> LibC.syscall(SyscallNumbers.MKDIRAT, r.directoryFd(), r.nameBytes(), effective,
                    0, 0, 0));
        }
    }

    private static String pathBase(Syscall c, int dirfd, String path) {
        return !path.startsWith("/") && dirfd != OpenFlags.AT_FDCWD ? directoryPath(c, dirfd) : c.process().cwd();
    }

    static long unlinkat(Syscall c, int dirfd, long pathAddress, int flags) {
        if ((flags & ~OpenFlags.AT_REMOVEDIR) != 0) {
            return -Errno.EINVAL;
        }
        String path = c.memory().readPath(pathAddress);
        if ((flags & OpenFlags.AT_REMOVEDIR) != 0) {
            String last = path.substring(path.lastIndexOf('/') + 1); // as written: "." of "dir/."
            if (last.equals(".")) {
                return -Errno.EINVAL; // rmdir of a directory by "dir/.": Linux refuses it
            }
            if (last.equals("..")) {
                return -Errno.ENOTEMPTY;
            }
        }
        if (path.isEmpty()) {
            return -Errno.ENOENT;
        }
        try (Resolution r = resolve(c, dirfd, path, Access.WRITE, false)) {
            if (r.isVirtual()) {
                return -Errno.EACCES;
            }
            if (c.kernel().served().pins(r.directoryFd(), r.name())
                    || c.kernel().fileSystem().holdsMountPoint(r.guestPath(), r.hostPath())) {
                return -Errno.EBUSY;
            }
            return HostFile.call(() -> LibC.syscall(SyscallNumbers.UNLINKAT, r.directoryFd(), r.nameBytes(), flags, 0,
                    0, 0));
        }
    }

    /**
     * rename: both names resolved and held; {@code RENAME_WHITEOUT} creates a device node and is
     * refused like {@code mknod}. Nothing the server listens on (a unix socket, or a directory
     * on its path) may be moved away, or another program could take its place.
     */
    static long renameat2(Syscall c, int oldDirfd, long oldPath, int newDirfd, long newPath, int flags) {
        if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) != 0
                || (flags & (RENAME_NOREPLACE | RENAME_EXCHANGE)) == (RENAME_NOREPLACE | RENAME_EXCHANGE)) {
            return -Errno.EINVAL;
        }
        if ((flags & RENAME_WHITEOUT) != 0) {
            return -Errno.EPERM;
        }
        try (Resolution from = resolve(c, oldDirfd, oldPath, Access.WRITE, false);
                Resolution to = resolve(c, newDirfd, newPath, Access.WRITE, false)) {
            if (from.isVirtual() || to.isVirtual()) {
                return -Errno.EACCES;
            }
            ServedEndpoints served = c.kernel().served();
            if (served.pins(from.directoryFd(), from.name()) || served.pins(to.directoryFd(), to.name())) {
                return -Errno.EBUSY;
            }
            FileSystemPolicy policy = c.kernel().fileSystem();
            if (policy.holdsMountPoint(from.guestPath(), from.hostPath())
                    || policy.holdsMountPoint(to.guestPath(), to.hostPath())) {
                return -Errno.EBUSY;
            }
            if ((from.namesDirectory() || to.namesDirectory()) && (from.fileMode() & S_IFMT) != S_IFDIR) {
                return -Errno.ENOTDIR; // "new/" or "file/": only a directory may be named so
            }
            return HostFile.call(() -> LibC.syscall(SyscallNumbers.RENAMEAT2, from.directoryFd(), from.nameBytes(),
                    to.directoryFd(), to.nameBytes(), flags, 0));
        }
    }

    static long truncate(Syscall c) {
        long length = c.arg(1);
        if (length < 0) {
            return -Errno.EINVAL;
        }
        try (Resolution r = resolve(c, OpenFlags.AT_FDCWD, c.arg(0), Access.WRITE, true)) {
            if (r.isVirtual()) {
                return -Errno.EACCES;
            }
            if (!r.exists()) {
                return -Errno.ENOENT;
            }
            int type = r.fileMode() & S_IFMT;
            if (type != S_IFREG) {
                return type == S_IFDIR ? -Errno.EISDIR : -Errno.EINVAL;
            }
            long fd = HostFile.call(() -> LibC.openat(r.directoryFd(), r.nameBytes(),
                    OpenFlags.O_WRONLY | O_NOFOLLOW_HOST, 0));
            if (fd < 0) {
                return fd;
            }
            try {
                return HostFile.call(() -> LibC.syscall(SyscallNumbers.FTRUNCATE, fd, length, 0, 0, 0, 0));
            } finally {
                LibC.close((int) fd);
            }
        }
    }

    /** utimensat, and futimens when the path is NULL (then the dirfd is the file). */
    static long utimensat(Syscall c) {
        int dirfd = c.intArg(0);
        long pathAddress = c.arg(1);
        int flags = c.intArg(3);
        if ((flags & ~(OpenFlags.AT_SYMLINK_NOFOLLOW | OpenFlags.AT_EMPTY_PATH)) != 0) {
            return -Errno.EINVAL;
        }
        long times = c.arg(2) == 0 ? 0 : c.memory().readable(c.arg(2), 32);
        if (pathAddress == 0 || ((flags & OpenFlags.AT_EMPTY_PATH) != 0
                && c.memory().readPath(pathAddress).isEmpty())) {
            FileDescription f = c.files().get(dirfd);
            if (!f.mayChangeAttributes(c.kernel().fileSystem())) {
                return f.hostFd() < 0 ? -Errno.EBADF : -Errno.EACCES;
            }
            return HostFile.call(() -> LibC.syscall(SyscallNumbers.UTIMENSAT, f.hostFd(), 0, times, 0, 0, 0));
        }
        try (Resolution r = resolve(c, dirfd, pathAddress, Access.WRITE,
                (flags & OpenFlags.AT_SYMLINK_NOFOLLOW) == 0)) {
            if (r.isVirtual()) {
                return -Errno.EACCES;
            }
            if (!r.exists()) {
                return -Errno.ENOENT;
            }
            return HostFile.call(() -> LibC.syscall(SyscallNumbers.UTIMENSAT, r.directoryFd(), r.nameBytes(), times,
                    OpenFlags.AT_SYMLINK_NOFOLLOW, 0, 0));
        }
    }

    static long statfs(Syscall c) {
        long host = c.memory().writable(c.arg(1), STATFS_SIZE);
        try (Resolution r = resolve(c, OpenFlags.AT_FDCWD, c.arg(0), Access.READ, true)) {
            if (r.isVirtual() || !r.exists()) {
                return r.isVirtual() ? -Errno.ENOSYS : -Errno.ENOENT;
            }
            return withPathFd(r, fd -> LibC.syscall(SyscallNumbers.FSTATFS, fd, host, 0, 0, 0, 0));
        }
    }

    /**
     * chmod: the resolved file is opened {@code O_PATH | O_NOFOLLOW} and changed through its
     * descriptor ({@code /proc/self/fd/N} names exactly that inode), because {@code fchmodat}
     * would follow a symlink swapped in after the check.
     */
    static long fchmodat(Syscall c, int dirfd, long pathAddress, int mode, int flags) {
        if (flags != 0) {
            return flags == OpenFlags.AT_SYMLINK_NOFOLLOW ? -Errno.EOPNOTSUPP : -Errno.EINVAL;
        }
        try (Resolution r = resolve(c, dirfd, pathAddress, Access.WRITE, true)) {
            if (r.isVirtual()) {
                return -Errno.EACCES;
            }
            if (!r.exists()) {
                return -Errno.ENOENT;
            }
            if (c.kernel().served().pins(r.directoryFd(), r.name())) {
                return -Errno.EPERM; // the server's socket and the directories to it keep their modes
            }
            return chmodResolved(r, mode & MODE_BITS);
        }
    }

    /** Sets the mode of exactly the inode {@code r} names, never following a symlink there. */
    static long chmodResolved(Resolution r, int bits) {
        return withPathFd(r, fd -> LibC.syscall(SyscallNumbers.FCHMODAT, OpenFlags.AT_FDCWD, procSelfFd(fd), bits, 0,
                0, 0));
    }

    /** The magic link of one of the engine's own descriptors, to act on exactly that inode. */
    static byte[] procSelfFd(int hostFd) {
        return ("/proc/self/fd/" + hostFd + "\0").getBytes(StandardCharsets.US_ASCII);
    }

    /** Runs {@code call} with an {@code O_PATH} descriptor of the resolved file, never a symlink. */
    private static long withPathFd(Resolution r, FdCall call) {
        long fd = HostFile.call(() -> LibC.openat(r.directoryFd(), r.nameBytes(),
                OpenFlags.O_PATH | OpenFlags.O_NOFOLLOW | OpenFlags.O_CLOEXEC, 0));
        if (fd < 0) {
            return fd;
        }
        try {
            return HostFile.call(() -> call.run((int) fd));
        } finally {
            LibC.close((int) fd);
        }
    }

    @FunctionalInterface
    private interface FdCall {
        long run(int fd) throws LastErrorException;
    }
}
