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

    private final Map<Inode, Integer> lockFds = new HashMap<>();

    /**
     * The host descriptor holding this process's record locks on {@code file}'s file, opened at
     * the first lock; {@code -errno} if there is none to open.
     */
    int lockFd(HostFile file) {
        int source = file.lockableFd();
        if (source < 0) {
            return source;
        }
        Inode inode = inodeOf(source);
        if (inode == null) {
            return -Errno.EBADF;
        }
        Integer held = lockFds.get(inode);
        if (held != null) {
            return held;
        }
        // Both directions when the host allows it (the guest's own access mode was checked for
        // the lock type already); read-only where it does not (a read-only mount: no write lock
        // could be asked for).
        byte[] name = PathSyscalls.procSelfFd(source);
        int fd = (int) HostFile.call(() -> LibC.open(name, OpenFlags.O_RDWR | OpenFlags.O_CLOEXEC, 0));
        if (fd < 0) {
            fd = (int) HostFile.call(() -> LibC.open(name, OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC, 0));
        }
        if (fd >= 0) {
            lockFds.put(inode, fd);
        }
        return fd;
    }

    /** An fd of {@code file} was closed: the process's record locks on its file end, as on Linux. */
    void closed(FileDescription file) {
        if (lockFds.isEmpty() || !(file instanceof HostFile h) || h.currentFileFd() < 0) {
            return;
        }
        Inode inode = inodeOf(h.currentFileFd());
        Integer fd = inode == null ? null : lockFds.remove(inode);
        if (fd != null) {
            closeQuietly(fd);
        }
    }

    /** Every fd is closed (a reset, the VM's end): every lock ends. */
    void closeAll() {
        lockFds.values().forEach(RecordLocks::closeQuietly);
        lockFds.clear();
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
