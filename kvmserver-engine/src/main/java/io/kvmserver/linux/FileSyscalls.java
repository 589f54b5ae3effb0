package io.kvmserver.linux;

import io.kvmserver.host.StructStat;
import io.kvmserver.host.OpenFlags;

import io.kvmserver.host.SyscallNumbers;

import io.kvmserver.host.Errno;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;

/**
 * Files family, by descriptor: I/O, seeking, status, duplication, pipes, fcntl and ioctl. Every
 * buffer goes through the address space's checks, every fd through the VM's own fd table. The
 * calls that take a path are {@link PathSyscalls}; locks are {@link FileLocks}.
 */
final class FileSyscalls {

    private static final int IOV_MAX = 1024;
    private static final long MAX_RW = AddressSpace.MAX_RW_COUNT;
    /** Linux's TASK_SIZE_MAX: no user buffer reaches past it. */
    private static final long USER_TOP = (1L << 47) - 4096;
    private static final int F_DUPFD = 0;
    private static final int F_GETFD = 1;
    private static final int F_SETFD = 2;
    private static final int F_GETFL = 3;
    private static final int F_SETPIPE_SZ = 1031;
    private static final int F_GETPIPE_SZ = 1032;
    /** Linux's default pipe size, the most a guest's pipe may take. */
    private static final long PIPE_SIZE_MAX = 65536;
    private static final int F_SETFL = 4;
    private static final int F_DUPFD_CLOEXEC = 1030;
    private static final int FD_CLOEXEC = 1;
    private static final long FIONBIO = 0x5421;
    private static final long FIOCLEX = 0x5451;
    private static final long FIONCLEX = 0x5450;

    private FileSyscalls() {
    }

    static void register(SyscallTable t) {
        t.register(SyscallNumbers.CLOSE, FileSyscalls::close);
        t.register(SyscallNumbers.CLOSE_RANGE, FileSyscalls::closeRange);
        t.register(SyscallNumbers.READ, FileSyscalls::read);
        t.register(SyscallNumbers.WRITE, FileSyscalls::write);
        t.register(SyscallNumbers.PREAD64, FileSyscalls::pread64);
        t.register(SyscallNumbers.PWRITE64, FileSyscalls::pwrite64);
        t.register(SyscallNumbers.READV, c -> vector(c, false, -1));
        t.register(SyscallNumbers.WRITEV, c -> vector(c, true, -1));
        t.register(SyscallNumbers.PREADV, c -> positionedVector(c, false));
        t.register(SyscallNumbers.PWRITEV, c -> positionedVector(c, true));
        t.register(SyscallNumbers.LSEEK, c -> c.files().get(c.intArg(0)).seek(c.arg(1), c.intArg(2)));
        t.register(SyscallNumbers.FSTAT, FileSyscalls::fstat);
        t.register(SyscallNumbers.FSTATFS, FileSyscalls::fstatfs);
        t.register(SyscallNumbers.GETDENTS64, FileSyscalls::getdents64);
        t.register(SyscallNumbers.FCNTL, FileSyscalls::fcntl);
        t.register(SyscallNumbers.DUP, c -> c.files().duplicate(c.intArg(0), 0, false));
        t.register(SyscallNumbers.DUP2, FileSyscalls::dup2);
        t.register(SyscallNumbers.DUP3, FileSyscalls::dup3);
        t.register(SyscallNumbers.PIPE, c -> pipe2(c, c.arg(0), 0));
        t.register(SyscallNumbers.PIPE2, c -> pipe2(c, c.arg(0), c.intArg(1)));
        t.register(SyscallNumbers.IOCTL, FileSyscalls::ioctl);
        t.register(SyscallNumbers.FTRUNCATE, FileSyscalls::ftruncate);
        t.register(SyscallNumbers.FALLOCATE, FileSyscalls::fallocate);
        t.register(SyscallNumbers.FSYNC, c -> c.files().get(c.intArg(0)).sync());
        t.register(SyscallNumbers.FDATASYNC, c -> c.files().get(c.intArg(0)).sync());
        t.register(SyscallNumbers.FCHMOD, FileSyscalls::fchmod);
        t.register(SyscallNumbers.FCHOWN, c -> {
            c.files().get(c.intArg(0));
            return -Errno.EPERM;
        });
        t.register(SyscallNumbers.UMASK, c -> {
            int old = c.process().umask();
            c.process().setUmask(c.intArg(0));
            return old;
        });
        t.register(SyscallNumbers.FLOCK, FileLocks::flock);
        t.register(SyscallNumbers.FADVISE64, FileSyscalls::fadvise);
    }

    private static final int POSIX_FADV_NOREUSE = 5;

    /**
     * fadvise64: advice only (the host's page cache is not the program's), with Linux's checks:
     * {@code EBADF} (an {@code O_PATH} descriptor too), {@code ESPIPE} for a pipe, {@code EINVAL}
     * for a negative length or an advice it does not know (0 to 5).
     */
    private static long fadvise(Syscall c) {
        FileDescription f = c.files().get(c.intArg(0));
        int advice = c.intArg(3);
        if ((f.statusFlags() & OpenFlags.O_PATH) != 0) {
            return -Errno.EBADF;
        }
        if (f instanceof PipeFile) {
            return -Errno.ESPIPE;
        }
        return c.arg(2) < 0 || advice < 0 || advice > POSIX_FADV_NOREUSE ? -Errno.EINVAL : 0;
    }

    // ---- fds and I/O ----

    static long close(Syscall c) {
        c.files().close(c.intArg(0));
        return 0;
    }

    private static final int CLOSE_RANGE_UNSHARE = 1 << 1;
    private static final int CLOSE_RANGE_CLOEXEC = 1 << 2;

    /**
     * close_range(2): closes, or with {@code CLOSE_RANGE_CLOEXEC} marks close-on-exec, every open
     * fd from {@code first} to {@code last} (unsigned; {@code ~0U} means all). Threads always share
     * the process's one table (clone without {@code CLONE_FILES} is refused), so
     * {@code CLOSE_RANGE_UNSHARE} cannot give the caller a private copy: it closes in the shared
     * table, which is what it does for a single-threaded program, its only user in practice
     * (before an exec, which is refused anyway).
     */
    static long closeRange(Syscall c) {
        long first = c.arg(0) & 0xffff_ffffL;
        long last = c.arg(1) & 0xffff_ffffL;
        int flags = c.intArg(2);
        if ((flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) != 0 || first > last) {
            return -Errno.EINVAL;
        }
        FdTable files = c.files();
        for (long fd = first; fd <= Math.min(last, files.end() - 1L); fd++) {
            if (!files.isOpen(fd)) {
                continue;
            }
            if ((flags & CLOSE_RANGE_CLOEXEC) != 0) {
                files.setCloseOnExec((int) fd, true);
            } else {
                files.close(fd);
            }
        }
        return 0;
    }

    static long read(Syscall c) {
        return transfer(c, false, false);
    }

    static long write(Syscall c) {
        return transfer(c, true, false);
    }

    static long pread64(Syscall c) {
        return transfer(c, false, true);
    }

    static long pwrite64(Syscall c) {
        return transfer(c, true, true);
    }

    /**
     * read, write, pread64 and pwrite64 ({@code fd, buf, count[, offset]}): the buffer checked for
     * the direction, the count capped as Linux caps one transfer.
     */
    private static long transfer(Syscall c, boolean writing, boolean positioned) {
        FileDescription f = c.files().get(c.intArg(0));
        if (writing && !positioned && f instanceof ConsoleFile) {
            c.guestCalls().wroteConsole(); // from now on the syscall entry may answer its writes
        }
        long requested = c.arg(2);
        long position = positioned ? c.arg(3) : -1;
        if (positioned && position < 0) {
            return -Errno.EINVAL;
        }
        // The count is a size_t: past the top of user space from the buffer (-1 included) the
        // buffer cannot be there, EFAULT, as Linux's access_ok decides before anything else.
        if (Long.compareUnsigned(requested, Math.max(0, USER_TOP - c.arg(1))) > 0) {
            return -Errno.EFAULT;
        }
        long count = Math.min(requested, MAX_RW);
        long host = writing ? c.memory().readable(c.arg(1), count) : c.memory().writable(c.arg(1), count);
        return transfer(c, f, writing, host, count, position);
    }

    /** One transfer on a description, at {@code position} or (if negative) at its own offset. */
    private static long transfer(Syscall c, FileDescription f, boolean writing, long host, long count, long position) {
        if (position >= 0) {
            return writing ? f.pwrite(host, count, position) : f.pread(host, count, position);
        }
        return writing ? f.write(c.waiter(), host, count) : f.read(c.waiter(), host, count);
    }

    /**
     * preadv and pwritev: a negative position is {@code EINVAL} before anything else (the
     * eighth review: it was taken for "no position", a transfer at the file's own offset that
     * moved it). {@link #vector} takes a negative position as that.
     */
    private static long positionedVector(Syscall c, boolean writing) {
        long position = c.arg(3);
        return position < 0 ? -Errno.EINVAL : vector(c, writing, position);
    }

    /**
     * readv, writev, preadv, pwritev. As Linux does, the lengths must each be non-negative
     * ({@code EINVAL}) and each buffer within user space ({@code EFAULT}), and the vector is cut at {@link #MAX_RW}
     * bytes in all (one call never moves more than a read does: an unbounded vector would hold
     * the VM's thread past any time limit, since a regular file's transfer is not interrupted).
     * A stream takes the vector in one host call ({@link FileDescription#vector}); anything else
     * one buffer at a time, stopping at a short transfer.
     */
    static long vector(Syscall c, boolean writing, long position) {
        FileDescription f = c.files().get(c.intArg(0));
        long iov = c.arg(1);
        long count = c.arg(2);
        if (count < 0 || count > IOV_MAX) {
            return -Errno.EINVAL;
        }
        AddressSpace m = c.memory();
        m.check(iov, count * 16, AddressSpace.PROT_READ);
        int invalid = m.vectorError(iov, (int) count);
        if (invalid != 0) {
            return -invalid;
        }
        if (position < 0 && f.vectorsInOneCall()) {
            return inOneCall(c, f, writing, iov, (int) count);
        }
        long total = 0;
        for (int i = 0; i < count && total < MAX_RW; i++) {
            long base = m.readLong(iov + i * 16L);
            long len = cutLength(m, iov, i, total);
            if (len == 0) {
                continue;
            }
            if (total > 0 && c.waiter().isKicked()) {
                break; // a time limit or shutdown: what was transferred, as a signal would cut it
            }
            long host;
            try {
                host = writing ? m.readable(base, len) : m.writable(base, len);
            } catch (SyscallError e) {
                return total > 0 ? total : -e.errno();
            }
            long n = transfer(c, f, writing, host, len, position >= 0 ? position + total : -1);
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

    /** The length of buffer {@code i} of the vector after {@code total} bytes: cut at {@link #MAX_RW} in all. */
    private static long cutLength(AddressSpace m, long iov, int i, long total) {
        return Math.min(m.readLong(iov + i * 16L + 8), MAX_RW - total);
    }

    /**
     * The vector in one host call on a stream, its buffers cut at {@link #MAX_RW} in all; every
     * buffer is checked first (a bad one: {@code EFAULT}, nothing transferred).
     */
    private static long inOneCall(Syscall c, FileDescription f, boolean writing, long iov, int count) {
        AddressSpace m = c.memory();
        try (Memory hostIov = new Memory(Math.max(16, count * 16L))) {
            long total = 0;
            int used = 0;
            for (int i = 0; i < count && total < MAX_RW; i++) {
                long base = m.readLong(iov + i * 16L);
                long len = cutLength(m, iov, i, total);
                if (len == 0) {
                    continue;
                }
                hostIov.setLong(used * 16L, writing ? m.readable(base, len) : m.writable(base, len));
                hostIov.setLong(used * 16L + 8, len);
                used++;
                total += len;
            }
            return f.vector(c.waiter(), writing, Pointer.nativeValue(hostIov), used);
        }
    }

    static long fstat(Syscall c) {
        FileDescription f = c.files().get(c.intArg(0));
        return f.stat(c.memory().writable(c.arg(1), StructStat.SIZE));
    }

    static long getdents64(Syscall c) {
        FileDescription f = c.files().get(c.intArg(0));
        if ((c.arg(2) & 0xffffffffL) > Integer.MAX_VALUE) {
            return -Errno.EINVAL;
        }
        long count = Math.min(c.arg(2) & 0xffffffffL, MAX_RW);
        return f.getdents64(c.memory().writable(c.arg(1), count), count);
    }

    /**
     * fallocate: the arguments checked as Linux checks them, then the answer of a file system
     * without it, on which glibc's {@code posix_fallocate} writes the blocks itself.
     */
    static long fallocate(Syscall c) {
        FileDescription f = c.files().get(c.intArg(0));
        long offset = c.arg(2);
        long length = c.arg(3);
        if (offset < 0 || length <= 0) {
            return -Errno.EINVAL;
        }
        if ((f.statusFlags() & OpenFlags.O_ACCMODE) == OpenFlags.O_RDONLY) {
            return -Errno.EBADF;
        }
        return f instanceof StreamFile ? -Errno.ESPIPE : -Errno.EOPNOTSUPP;
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
                setStatusFlags(f, (int) arg);
                return 0;
            case FileLocks.F_GETLK, FileLocks.F_SETLK, FileLocks.F_SETLKW, FileLocks.F_OFD_GETLK, FileLocks.F_OFD_SETLK,
                    FileLocks.F_OFD_SETLKW:
                return FileLocks.fcntl(c, f, cmd, arg);
            case F_GETPIPE_SZ, F_SETPIPE_SZ:
                return pipeSize(f, cmd, arg);
            default:
                return -Errno.EINVAL;
        }
    }

    /**
     * F_GETPIPE_SZ, F_SETPIPE_SZ of a pipe or FIFO ({@code EBADF} for anything else, as on Linux).
     * A pipe may shrink but not grow past Linux's default size: the host's pipe buffers are its
     * kernel memory (a root JVM may grow them to any size), and a VM's 1,024 fds of pipes would
     * otherwise hold up to half a GiB. Past it: {@code EPERM}, as past {@code pipe-max-size}.
     */
    private static long pipeSize(FileDescription f, int cmd, long arg) {
        if (!(f instanceof StreamFile s) || s.mode() != PathSyscalls.S_IFIFO) {
            return -Errno.EBADF;
        }
        if (cmd == F_SETPIPE_SZ && (arg & 0xffffffffL) > PIPE_SIZE_MAX) {
            return -Errno.EPERM;
        }
        return HostFile.call(() -> LibC.syscall(SyscallNumbers.FCNTL, s.hostFd(), cmd, arg & 0xffffffffL, 0, 0, 0));
    }

    static long dup2(Syscall c) {
        int oldFd = c.intArg(0);
        long newFd = c.arg(1) & 0xffffffffL; // an unsigned int to Linux: the upper half is not part of it
        c.files().get(oldFd);
        if (oldFd == newFd) {
            return newFd;
        }
        return c.files().duplicateTo(oldFd, newFd, false);
    }

    static long dup3(Syscall c) {
        int oldFd = c.intArg(0);
        long newFd = c.arg(1) & 0xffffffffL; // an unsigned int to Linux: the upper half is not part of it
        int flags = c.intArg(2);
        if ((flags & ~OpenFlags.O_CLOEXEC) != 0 || oldFd == newFd) {
            return -Errno.EINVAL;
        }
        return c.files().duplicateTo(oldFd, newFd, flags != 0);
    }

    /** pipe2's packet mode flag: accepted, as Linux does (the pipe stays a byte stream here). */
    private static final int O_DIRECT = 040000;

    static long pipe2(Syscall c, long fdsAddress, int flags) {
        if ((flags & ~(OpenFlags.O_CLOEXEC | OpenFlags.O_NONBLOCK | O_DIRECT)) != 0) {
            return -Errno.EINVAL;
        }
        c.memory().check(fdsAddress, 8, AddressSpace.PROT_WRITE);
        FdTable files = c.files();
        if (files.openCount() + 2 > FdTable.LIMIT) {
            return -Errno.EMFILE;
        }
        int[] host;
        try {
            host = Pipe.create();
        } catch (com.sun.jna.LastErrorException e) {
            return -e.getErrorCode();
        }
        Pipe pipe = new Pipe(host[0]);
        boolean cloexec = (flags & OpenFlags.O_CLOEXEC) != 0;
        int status = flags & OpenFlags.O_NONBLOCK;
        int r = files.install(new PipeFile(pipe, true, host[0], status), 0, cloexec);
        int w = files.install(new PipeFile(pipe, false, host[1], status), 0, cloexec);
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
            setNonBlocking(f, c.memory().readInt(arg) != 0);
            return 0;
        }
        if (request == FIOCLEX || request == FIONCLEX) {
            c.files().setCloseOnExec(fd, request == FIOCLEX);
            return 0;
        }
        return f.ioctl(request, arg, c.memory());
    }

    /** fcntl F_SETFL: the flags Linux lets a program change (access mode and creation flags are ignored). */
    static void setStatusFlags(FileDescription f, int flags) {
        f.setStatusFlags((f.statusFlags() & ~OpenFlags.SETTABLE_STATUS) | (flags & OpenFlags.SETTABLE_STATUS));
    }

    /** ioctl FIONBIO: the description's own O_NONBLOCK (the host fd is always non-blocking). */
    static void setNonBlocking(FileDescription f, boolean on) {
        int flags = f.statusFlags();
        f.setStatusFlags(on ? flags | OpenFlags.O_NONBLOCK : flags & ~OpenFlags.O_NONBLOCK);
    }

    static long fstatfs(Syscall c) {
        int hostFd = c.files().get(c.intArg(0)).hostFd();
        long host = c.memory().writable(c.arg(1), 120);
        return hostFd < 0 ? -Errno.ENOSYS : HostFile.call(() -> LibC.syscall(SyscallNumbers.FSTATFS, hostFd, host, 0,
                0, 0, 0));
    }

    /** fchmod: permission bits only (never set-ID), on a file the guest may write. */
    static long fchmod(Syscall c) {
        FileDescription f = c.files().get(c.intArg(0));
        if (!f.mayChangeAttributes(c.kernel().fileSystem())) {
            return f.hostFd() < 0 ? -Errno.EBADF : -Errno.EPERM;
        }
        if (c.kernel().served().pinsFile(f.hostFd())) {
            return -Errno.EPERM; // the server's socket and the directories to it keep their modes
        }
        int bits = c.intArg(1) & 01777;
        return HostFile.call(() -> LibC.syscall(SyscallNumbers.FCHMOD, f.hostFd(), bits, 0, 0, 0, 0));
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
