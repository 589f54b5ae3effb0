package io.kvmserver.linux;

import io.kvmserver.host.OpenFlags;

import io.kvmserver.host.StructStat;
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
 * first time it lists the directory, takes a lock or writes with {@code O_APPEND}.
 *
 * <p>{@code O_APPEND} is the host's: an appending write goes through this description's own host
 * fd with the host's {@code O_APPEND} set (atomic against every other writer, at the end of the
 * file, never at an offset someone else moved), and a write without it is a {@code pwrite} at the
 * guest's offset through a host fd without {@code O_APPEND} (a {@code pwrite} on an
 * {@code O_APPEND} fd appends). The flag follows the guest's {@code F_SETFL}.
 *
 * <p>A regular file nobody can name any more (host link count 0 when the template is frozen: made
 * by {@code tmpfile()}, or created and unlinked) is process state, like a pipe: each fork gets
 * its own copy of it, made from the template's file the first time the fork changes it (writes,
 * truncates, locks, changes its mode or times), in a memfd. Until then the fork reads the
 * template's file, which nobody changes any more. The copies of one fork take at most
 * {@link #PRIVATE_COPY_LIMIT} bytes in all; a write that would grow them further fails with
 * {@code EFBIG}, as if the file size limit were reached.
 */
public final class HostFile extends FileDescription {

    private static final int SYS_GETDENTS64 = SyscallNumbers.GETDENTS64;
    private static final int SYS_FSTAT = SyscallNumbers.FSTAT;
    private static final int SYS_FTRUNCATE = SyscallNumbers.FTRUNCATE;
    private static final int SYS_FSYNC = SyscallNumbers.FSYNC;
    private static final int F_GETFL = 3;
    private static final int F_SETFL = 4;
    private static final int MFD_CLOEXEC = 1;
    static final int LOCK_SH = 1;
    static final int LOCK_EX = 2;
    static final int LOCK_UN = 8;
    /** Bytes the private copies of deleted files take in one request VM, all together. */
    public static final long PRIVATE_COPY_LIMIT = 64L << 20;
    private static final Object COPY_BUDGET = new Object();

    private final int fd;
    private final boolean owner;
    /** Whether {@link #fd} has the host's {@code O_APPEND} (changed only on an owned fd). */
    private boolean fdAppends;
    /** Whether {@link #privateFd} has the host's {@code O_APPEND}. */
    private boolean privateAppends;
    /**
     * In the template, frozen: names the file when nobody else can (link count 0), so that each
     * fork makes one private copy per file ({@link ForkContext#replica}); null otherwise.
     */
    private String deletedFileKey;
    /** In a fork of a deleted file: its copy in this VM (shared by its descriptions of the file). */
    private PrivateCopy copy;
    /** The {@code flock} lock this description took (LOCK_SH, LOCK_EX, or 0). */
    private int flockHeld;
    /** In a fork: the {@code flock} lock the template's description holds (for the template's life). */
    private int inheritedFlock;
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
        try (Memory st = new Memory(StructStat.SIZE)) {
            LibC.syscall(SYS_FSTAT, fd, com.sun.jna.Pointer.nativeValue(st), 0, 0, 0, 0);
            type = st.getInt(StructStat.ST_MODE) & PathSyscalls.S_IFMT;
        } catch (LastErrorException e) {
            type = 0;
        }
        boolean pathOnly = (guestFlags & OpenFlags.O_PATH) != 0;
        int status = pathOnly ? OpenFlags.O_PATH : guestFlags & (OpenFlags.O_ACCMODE | OpenFlags.SETTABLE_STATUS);
        if (type == PathSyscalls.S_IFREG || type == PathSyscalls.S_IFDIR || type == PathSyscalls.S_IFBLK || pathOnly) {
            HostFile file = new HostFile(fd, true, status, type == PathSyscalls.S_IFDIR, pathOnly, guestPath, hostPath);
            file.fdAppends = !pathOnly && (guestFlags & OpenFlags.O_APPEND) != 0;
            return file;
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

    /** Opened for reading only (checked here: a private copy's memfd could be written). */
    private boolean readOnly() {
        return (statusFlags & OpenFlags.O_ACCMODE) == OpenFlags.O_RDONLY;
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
        int from = dataFd();
        long n = call(() -> LibC.pread(from, hostBuffer, count, offset));
        if (n > 0) {
            offset += n;
        }
        return n;
    }

    @Override
    public long write(HostWaiter waiter, long hostBuffer, long count) {
        if (pathOnly || readOnly()) {
            return -Errno.EBADF;
        }
        if (appending()) {
            return append(hostBuffer, count, -1);
        }
        long n = writeAt(hostBuffer, count, offset);
        if (n > 0) {
            offset += n;
        }
        return n;
    }

    /**
     * An {@code O_APPEND} write, at the end of the file as the host finds it, through this
     * description's own host fd: with {@code position} -1 a {@code write} that moves this
     * description's offset to the end of what it wrote, else a {@code pwrite} (which appends too,
     * as on Linux, and moves nothing).
     */
    private long append(long hostBuffer, long count, long position) {
        int own = ownFd(true);
        if (own < 0) {
            return own;
        }
        long allowed = copy == null ? count : copy.allow(-1, count);
        if (allowed < 0) {
            return allowed;
        }
        long n = call(() -> position < 0 ? LibC.write(own, hostBuffer, allowed)
                : LibC.pwrite(own, hostBuffer, allowed, position));
        if (n >= 0 && copy != null) {
            copy.wroteAtEnd(n);
        }
        if (n >= 0 && position < 0) {
            long at = call(() -> LibC.lseek(own, 0, 1));
            if (at >= 0) {
                offset = at;
            }
        }
        return n;
    }

    /** A write at {@code position}, through a host fd without the host's {@code O_APPEND}. */
    private long writeAt(long hostBuffer, long count, long position) {
        int target;
        if (copy != null) {
            target = copy.materialize();
        } else {
            target = fdAppends ? ownFd(false) : fd;
        }
        if (target < 0) {
            return target;
        }
        long allowed = copy == null ? count : copy.allow(position, count);
        if (allowed < 0) {
            return allowed;
        }
        long n = call(() -> LibC.pwrite(target, hostBuffer, allowed, position));
        if (n > 0 && copy != null) {
            copy.wroteUpTo(position + n);
        }
        return n;
    }

    /**
     * This description's own host fd ({@link #privateHostFd()}) with the host's {@code O_APPEND}
     * set or cleared as asked; {@code -errno} when there is none.
     */
    private int ownFd(boolean append) {
        int own = privateHostFd();
        if (own < 0) {
            return own;
        }
        boolean now = own == fd ? fdAppends : privateAppends;
        if (now != append) {
            long flags = call(() -> LibC.fcntl(own, F_GETFL, 0));
            if (flags < 0) {
                return (int) flags;
            }
            long rc = call(() -> LibC.fcntl(own, F_SETFL,
                    append ? flags | OpenFlags.O_APPEND : flags & ~OpenFlags.O_APPEND));
            if (rc < 0) {
                return (int) rc;
            }
            if (own == fd) {
                fdAppends = append;
            } else {
                privateAppends = append;
            }
        }
        return own;
    }

    /** The host fd this description reads: its copy once made, else the file it was opened on. */
    private int dataFd() {
        return copy == null ? fd : copy.dataFd(fd);
    }

    @Override
    public byte[] readRegular(long maxBytes) {
        long size;
        try (Memory st = new Memory(StructStat.SIZE)) {
            if (pathOnly || stat(com.sun.jna.Pointer.nativeValue(st)) < 0
                    || (st.getInt(StructStat.ST_MODE) & PathSyscalls.S_IFMT) != PathSyscalls.S_IFREG) {
                return null;
            }
            size = st.getLong(StructStat.ST_SIZE);
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
        try (Memory st = new Memory(StructStat.SIZE)) {
            long rc = stat(com.sun.jna.Pointer.nativeValue(st));
            return rc < 0 ? rc : st.getLong(StructStat.ST_SIZE);
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
        int from = dataFd();
        return call(() -> LibC.pread(from, hostBuffer, count, position));
    }

    @Override
    public long pwrite(long hostBuffer, long count, long position) {
        if (pathOnly || readOnly()) {
            return -Errno.EBADF;
        }
        return appending() ? append(hostBuffer, count, position) : writeAt(hostBuffer, count, position);
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
        int from = dataFd();
        long rc = call(() -> LibC.syscall(SYS_FSTAT, from, hostStatBuffer, 0, 0, 0, 0));
        if (rc == 0 && from != fd) {
            // The copy's size and times, the file's identity: device, inode, links, mode, owner.
            try (Memory original = new Memory(StructStat.SIZE)) {
                if (call(() -> LibC.syscall(SYS_FSTAT, fd, com.sun.jna.Pointer.nativeValue(original), 0, 0, 0, 0))
                        == 0) {
                    new com.sun.jna.Pointer(hostStatBuffer).write(0, original.getByteArray(0, 36), 0, 36);
                }
            }
        }
        return rc;
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
        if (copy != null) {
            int target = copy.materialize();
            if (target < 0) {
                return target;
            }
            long allowed = copy.allow(0, length);
            if (allowed < length) {
                return -Errno.EFBIG;
            }
            long rc = call(() -> LibC.syscall(SYS_FTRUNCATE, target, length, 0, 0, 0, 0));
            if (rc == 0) {
                copy.truncated(length);
            }
            return rc;
        }
        return call(() -> LibC.syscall(SYS_FTRUNCATE, fd, length, 0, 0, 0, 0));
    }

    @Override
    public long sync() {
        int target = dataFd();
        return call(() -> LibC.syscall(SYS_FSYNC, target, 0, 0, 0, 0, 0));
    }

    /**
     * The host fd whose shared state this description may change: its own one, or for a copy of
     * the template's, a private one opened again through {@code /proc/self/fd} (the engine's own
     * descriptor, so the magic link names exactly this file) the first time it is needed.
     */
    /**
     * A host fd of this description's file as this VM has it, for the process's record locks:
     * its private copy (made now if not yet: a lock on the template's deleted file would be one
     * every fork shares), else the file it was opened on; {@code -errno} if the copy has no room.
     */
    int lockableFd() {
        return copy == null ? fd : copy.materialize();
    }

    /** The host fd of this description's file as this VM has it now (its copy only once made). */
    int currentFileFd() {
        return dataFd();
    }

    int privateHostFd() {
        if (owner) {
            return fd;
        }
        if (privateFd < 0) {
            int from = fd;
            if (copy != null) {
                from = copy.materialize();
                if (from < 0) {
                    return from;
                }
            }
            int access = directory ? OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY : statusFlags & OpenFlags.O_ACCMODE;
            byte[] name = PathSyscalls.procSelfFd(from);
            privateFd = (int) call(() -> LibC.open(name, access | OpenFlags.O_CLOEXEC | OpenFlags.O_NONBLOCK, 0));
            privateAppends = false;
        }
        return privateFd;
    }

    /**
     * A {@code flock} on this description: true when it is already answered by the lock the
     * template's description holds, which a fork shares as a forked child shares its parent's
     * open file description. That lock stays on the template's host fd, excluding every other
     * description of the file, whatever the fork does with it (an unlock here is this VM's own).
     */
    boolean flockInherited(int kind) {
        return inheritedFlock == LOCK_EX || (inheritedFlock == LOCK_SH && kind != LOCK_EX);
    }

    /** A {@code flock} on this description's own host fd succeeded. */
    void flockTaken(int kind) {
        flockHeld = kind == LOCK_UN ? 0 : kind;
    }

    private int listingFd() {
        int own = privateHostFd();
        return own < 0 ? fd : own;
    }

    @Override
    public int hostFd() {
        return pathOnly ? -1 : dataFd();
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
        if (copy != null && copy.materialize() < 0) {
            return false; // a deleted file's mode and times are changed on this VM's copy only
        }
        return !pathOnly && policy.mayWrite(path, Path.of(hostPath));
    }

    @Override
    public boolean isDirectory() {
        return directory;
    }

    /** Notes whether nobody can name this file any more: forks then copy it ({@link PrivateCopy}). */
    @Override
    public void freeze(FrozenBytes budget) {
        if (directory || pathOnly || copy != null) {
            return;
        }
        try (Memory st = new Memory(StructStat.SIZE)) {
            if (stat(com.sun.jna.Pointer.nativeValue(st)) == 0
                    && (st.getInt(StructStat.ST_MODE) & PathSyscalls.S_IFMT) == PathSyscalls.S_IFREG && st.getLong(StructStat.ST_NLINK) == 0) {
                // One key per file, the same object for every description of it (replicas are found by identity).
                deletedFileKey = ("deleted file " + st.getLong(StructStat.ST_DEV) + ":" + st.getLong(StructStat.ST_INO)).intern();
            }
        }
    }

    @Override
    public FileDescription fork(ForkContext context) {
        HostFile fork = new HostFile(fd, false, statusFlags, directory, pathOnly, path, hostPath);
        fork.offset = offset;
        fork.fdAppends = fdAppends;
        fork.inheritedFlock = owner ? flockHeld : inheritedFlock;
        if (deletedFileKey != null) {
            CopyBudget budget = context.replica(COPY_BUDGET, CopyBudget::new);
            fork.copy = context.replica(deletedFileKey, () -> new PrivateCopy(fd, budget));
            fork.copy.references++;
        }
        return fork;
    }

    @Override
    protected void closeHost() {
        if (privateFd >= 0) {
            LibC.close(privateFd);
            privateFd = -1;
        }
        if (copy != null) {
            copy.release();
        }
        if (owner) {
            try {
                LibC.close(fd);
            } catch (LastErrorException ignored) {
                // close(2) releases the fd even when it reports an error
            }
        }
    }

    /** What the private copies of one fork take, together. */
    private static final class CopyBudget {
        long used;
    }

    /**
     * One request VM's copy of a file the template kept open after deleting it: made in a memfd
     * from the template's file the first time it is changed, closed with the last of the VM's
     * descriptions of it. Its size is kept here (every change to it goes through this class) and
     * counted against the fork's {@link CopyBudget}.
     */
    private static final class PrivateCopy {
        private final int original;
        private final CopyBudget budget;
        int references;
        private int fd = -1;
        private long size;

        PrivateCopy(int original, CopyBudget budget) {
            this.original = original;
            this.budget = budget;
        }

        int dataFd(int template) {
            return fd >= 0 ? fd : template;
        }

        /** The copy's host fd, made now if need be; {@code -EFBIG} when it would exceed the budget. */
        int materialize() {
            if (fd >= 0) {
                return fd;
            }
            long length;
            try (Memory st = new Memory(StructStat.SIZE)) {
                long rc = call(() -> LibC.syscall(SYS_FSTAT, original, com.sun.jna.Pointer.nativeValue(st), 0, 0, 0, 0));
                if (rc < 0) {
                    return (int) rc;
                }
                length = st.getLong(StructStat.ST_SIZE);
            }
            if (length > PRIVATE_COPY_LIMIT - budget.used) {
                return -Errno.EFBIG;
            }
            int made;
            try {
                made = LibC.memfd_create("kvmserver-deleted-file", MFD_CLOEXEC);
            } catch (LastErrorException e) {
                return -e.getErrorCode();
            }
            long copied = 0;
            try (Memory buffer = new Memory(Math.max(1, Math.min(length, 1 << 20)))) {
                long address = com.sun.jna.Pointer.nativeValue(buffer);
                while (copied < length) {
                    long at = copied;
                    long n = call(() -> LibC.pread(original, address, Math.min(buffer.size(), length - at), at));
                    if (n <= 0) {
                        break; // nobody changes the template's file: it ends where it ends
                    }
                    long w = call(() -> LibC.pwrite(made, address, n, at));
                    if (w != n) {
                        LibC.close(made);
                        return w < 0 ? (int) w : -Errno.EIO;
                    }
                    copied += n;
                }
            }
            fd = made;
            size = copied;
            budget.used += copied;
            return fd;
        }

        /**
         * How much of a write of {@code count} bytes at {@code position} (-1: at the end) fits in
         * the budget; {@code -EFBIG} when none does.
         */
        long allow(long position, long count) {
            long start = position < 0 ? size : position;
            long room = PRIVATE_COPY_LIMIT - budget.used;
            if (count <= 0 || start + count <= size + room) {
                return count;
            }
            long fits = size + room - start;
            return fits > 0 ? fits : -Errno.EFBIG;
        }

        void wroteAtEnd(long n) {
            wroteUpTo(size + n);
        }

        void wroteUpTo(long end) {
            if (end > size) {
                budget.used += end - size;
                size = end;
            }
        }

        void truncated(long length) {
            budget.used += length - size;
            size = length;
        }

        void release() {
            if (--references == 0 && fd >= 0) {
                LibC.close(fd);
                budget.used -= size;
                fd = -1;
            }
        }
    }
}
