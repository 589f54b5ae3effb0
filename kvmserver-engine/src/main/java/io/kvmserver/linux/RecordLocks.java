package io.kvmserver.linux;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.Errno;
import io.kvmserver.host.LibC;
import io.kvmserver.host.OpenFlags;
import io.kvmserver.host.StructStat;
import io.kvmserver.host.SyscallNumbers;
import java.util.HashMap;
import java.util.Map;

/**
 * The POSIX record locks ({@code fcntl} {@code F_SETLK}, {@code F_SETLKW}, {@code F_GETLK}) of one
 * process, which belong to the process, not to a description: a lock taken through one fd of a
 * file is changed or released through any other, never conflicts with the process's own, and
 * ends when the process closes any fd of the file.
 *
 * <p>The host sees every VM as one process (the JVM), so the locks are taken as OFD locks (which
 * conflict between descriptions, so between VMs as between processes) on one host descriptor per
 * file and process, opened here for the purpose: every fd of the file in this process locks
 * through it. A fork gets none of them (a forked child inherits no record locks); the reset's
 * closing of every fd closes them.
 */
final class RecordLocks {

    private record Inode(long device, long number) {
    }

    /** The host fd holding the process's locks on one file, how it was opened, whether it may hold any. */
    private static final class Holder {
        final int fd;
        final boolean writable;
        boolean mayHold;

        Holder(int fd, boolean writable) {
            this.fd = fd;
            this.writable = writable;
        }
    }

    private final Map<Inode, Holder> holders = new HashMap<>();

    /**
     * The host descriptor holding this process's record locks on {@code file}'s file, opened at
     * the first lock with the access of the description it is asked through: read-only for a
     * read-only description, so that no lock makes the host hold a file open for writing that
     * the guest only reads (an executable so held cannot be run: ETXTBSY, ld.so included); for a
     * writable one the host has the file open for writing already. A read-only descriptor is
     * replaced by a writable one when a writable description asks and it holds nothing; when it
     * may hold locks there is no moving them, and a write lock is taken on the description's own
     * fd ({@code -1}: the caller falls back), as before locks were the process's. {@code -errno}
     * if there is nothing to open.
     */
    int lockFd(HostFile file, boolean writableDescription, boolean writeLock) {
        int source = file.lockableFd();
        if (source < 0) {
            return source;
        }
        Inode inode = inodeOf(source);
        if (inode == null) {
            return -Errno.EBADF;
        }
        Holder held = holders.get(inode);
        if (held != null && (held.writable || !writableDescription)) {
            return held.fd;
        }
        if (held != null) {
            if (held.mayHold) {
                return writeLock ? -1 : held.fd;
            }
            holders.remove(inode);
            closeQuietly(held.fd);
        }
        byte[] name = PathSyscalls.procSelfFd(source);
        int access = writableDescription ? OpenFlags.O_RDWR : OpenFlags.O_RDONLY;
        int fd = (int) HostFile.call(() -> LibC.open(name,
                access | OpenFlags.O_CLOEXEC | OpenFlags.O_NONBLOCK | OpenFlags.O_NOCTTY, 0));
        if (fd >= 0) {
            holders.put(inode, new Holder(fd, writableDescription));
        }
        return fd;
    }

    /**
     * A lock call on the holder {@code fd} succeeded: whether the process may hold locks there
     * now (anything but an unlock of the whole file, from offset 0 to the end, may leave some).
     */
    void locked(int fd, boolean unlockedWholeFile) {
        for (Holder h : holders.values()) {
            if (h.fd == fd) {
                h.mayHold = !unlockedWholeFile;
                return;
            }
        }
    }

    /** An fd of {@code file} was closed: the process's record locks on its file end, as on Linux. */
    void closed(FileDescription file) {
        if (holders.isEmpty() || !(file instanceof HostFile h) || h.currentFileFd() < 0) {
            return;
        }
        Inode inode = inodeOf(h.currentFileFd());
        Holder held = inode == null ? null : holders.remove(inode);
        if (held != null) {
            closeQuietly(held.fd);
        }
    }

    /** Every fd is closed (a reset, the VM's end): every lock ends. */
    void closeAll() {
        holders.values().forEach(h -> closeQuietly(h.fd));
        holders.clear();
    }

    private static Inode inodeOf(int hostFd) {
        try (Memory st = new Memory(StructStat.SIZE)) {
            LibC.syscall(SyscallNumbers.FSTAT, hostFd, Pointer.nativeValue(st), 0, 0, 0, 0);
            return new Inode(st.getLong(StructStat.ST_DEV), st.getLong(StructStat.ST_INO));
        } catch (LastErrorException e) {
            return null;
        }
    }

    private static void closeQuietly(int fd) {
        try {
            LibC.close(fd);
        } catch (LastErrorException ignored) {
            // close(2) releases the fd even when it reports an error
        }
    }
}
