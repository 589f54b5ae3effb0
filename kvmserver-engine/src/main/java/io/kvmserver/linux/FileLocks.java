package io.kvmserver.linux;

import io.kvmserver.host.OpenFlags;

import io.kvmserver.host.SyscallNumbers;

import io.kvmserver.host.Errno;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;

/**
 * Advisory locks: {@code flock(2)} and {@code fcntl(2)} record locks, real between request VMs
 * that share a volume, so that SQLite-style locking keeps their files consistent.
 *
 * <p>Each VM is one process, and the host sees all VMs as one process (the JVM): POSIX record
 * locks on the host would never conflict between them. Open file description ({@code F_OFD_*})
 * locks do, and they are what the host is asked for: a guest's OFD locks and {@code flock}s on
 * each description's own host fd ({@link HostFile#privateHostFd()}), a guest's POSIX record locks
 * on one host fd per file and process ({@link RecordLocks}), so that two VMs conflict as two
 * processes would, one process's fds never conflict with each other, and the locks end as
 * Linux ends them (a description's with it, a process's at the close of any fd of the file); at
 * the latest when the VM's reset closes everything. The host call never blocks:
 * a waiting lock ({@code F_SETLKW}, {@code flock} without {@code LOCK_NB}) is retried in the VM's
 * waiter, so that the request's time limit ends the wait.
 */
final class FileLocks {

    static final int F_GETLK = 5;
    static final int F_SETLK = 6;
    static final int F_SETLKW = 7;
    static final int F_OFD_GETLK = 36;
    static final int F_OFD_SETLK = 37;
    static final int F_OFD_SETLKW = 38;
    private static final int LOCK_SH = 1;
    private static final int LOCK_EX = 2;
    private static final int LOCK_NB = 4;
    private static final int LOCK_UN = 8;
    private static final int FLOCK_SIZE = 32;
    private static final int F_RDLCK = 0;
    private static final int F_WRLCK = 1;
    private static final int F_UNLCK = 2;
    private static final int SEEK_SET = 0;
    /** How often a waiting lock tries again. */
    private static final long RETRY_NANOS = 2_000_000L;

    private FileLocks() {
    }

    static long flock(Syscall c) {
        FileDescription f = c.files().get(c.intArg(0));
        int operation = c.intArg(1);
        int kind = operation & ~LOCK_NB;
        if (kind != LOCK_SH && kind != LOCK_EX && kind != LOCK_UN) {
            return -Errno.EINVAL;
        }
        if (pathOnly(f)) {
            return -Errno.EBADF;
        }
        if (f instanceof HostFile h && h.flockInherited(kind)) {
            return 0; // the template's description holds it, and a fork shares the description
        }
        int fd = lockFd(f);
        if (fd < 0) {
            return fd;
        }
        boolean wait = (operation & LOCK_NB) == 0 && kind != LOCK_UN;
        long rc = retrying(c, wait, () -> LibC.syscall(SyscallNumbers.FLOCK, fd, kind | (kind == LOCK_UN ? 0 : LOCK_NB),
                0, 0, 0, 0));
        if (rc == 0 && f instanceof HostFile h) {
            h.flockTaken(kind);
        }
        return rc;
    }

    /** fcntl's lock commands, POSIX and OFD alike, as OFD locks on the description's own host fd. */
    static long fcntl(Syscall c, FileDescription f, int command, long flockAddress) {
        AddressSpace m = c.memory();
        boolean get = command == F_GETLK || command == F_OFD_GETLK;
        m.check(flockAddress, FLOCK_SIZE, AddressSpace.PROT_READ | (get ? AddressSpace.PROT_WRITE : 0));
        if (pathOnly(f)) {
            return -Errno.EBADF;
        }
        byte[] request = m.readBytes(flockAddress, FLOCK_SIZE);
        int type = (request[0] & 0xff) | (request[1] << 8);
        if (type != F_RDLCK && type != F_WRLCK && type != F_UNLCK) {
            return -Errno.EINVAL;
        }
        int access = f.statusFlags() & OpenFlags.O_ACCMODE;
        if (!get && ((type == F_RDLCK && access == OpenFlags.O_WRONLY) || (type == F_WRLCK && access == OpenFlags.O_RDONLY))) {
            return -Errno.EBADF; // fcntl(2): the lock type needs the matching access mode
        }
        if ((command == F_OFD_GETLK || command == F_OFD_SETLK || command == F_OFD_SETLKW) && readPid(request) != 0) {
            return -Errno.EINVAL;
        }
        boolean posix = command == F_GETLK || command == F_SETLK || command == F_SETLKW;
        RecordLocks processLocks = c.files().recordLocks();
        int held = posix && f instanceof HostFile h
                ? processLocks.lockFd(h, access != OpenFlags.O_RDONLY, type == F_WRLCK && !get) : -1;
        boolean processLock = held != -1;
        int fd = processLock ? recordLockFd(held) : lockFd(f);
        if (fd < 0) {
            return fd;
        }
        try (Memory flock = new Memory(FLOCK_SIZE)) {
            flock.write(0, request, 0, FLOCK_SIZE);
            flock.setInt(24, 0); // l_pid: 0 for OFD locks
            long address = Pointer.nativeValue(flock);
            if (get) {
                long rc = HostFile.call(() -> LibC.syscall(SyscallNumbers.FCNTL, fd, F_OFD_GETLK, address, 0, 0, 0));
                if (rc == 0) {
                    m.writeBytes(flockAddress, flock.getByteArray(0, FLOCK_SIZE));
                }
                return rc;
            }
            boolean wait = command == F_SETLKW || command == F_OFD_SETLKW;
            long rc = retrying(c, wait, () -> LibC.syscall(SyscallNumbers.FCNTL, fd, F_OFD_SETLK, address, 0, 0, 0));
            if (rc == 0 && processLock) {
                processLocks.locked(fd, type == F_UNLCK && flock.getShort(2) == SEEK_SET && flock.getLong(8) == 0
                        && flock.getLong(16) == 0);
            }
            return rc;
        }
    }

    private static int readPid(byte[] flock) {
        return LittleEndian.intAt(flock, 24);
    }

    /** An {@code O_PATH} fd opens nothing to lock: {@code EBADF}, for flock and fcntl alike. */
    private static boolean pathOnly(FileDescription f) {
        return (f.statusFlags() & OpenFlags.O_PATH) != 0;
    }

    /** A host fd for the process's record locks, or {@code -errno}: no room for a deleted file's copy is ENOLCK. */
    private static int recordLockFd(int fd) {
        return fd == -Errno.EFBIG ? -Errno.ENOLCK : fd;
    }

    /** The host fd whose locks are this description's alone; {@code -errno} for a file without one. */
    private static int lockFd(FileDescription f) {
        if (f instanceof HostFile h) {
            int fd = h.privateHostFd();
            return fd == -Errno.EFBIG ? -Errno.ENOLCK : fd; // no room for a deleted file's private copy
        }
        return f.hostFd() >= 0 ? -Errno.EINVAL : -Errno.EBADF;
    }

    /** Runs a non-blocking lock call; while it conflicts and the guest waits, tries again. */
    private static long retrying(Syscall c, boolean wait, HostFile.HostCall call) {
        while (true) {
            long rc = HostFile.call(call);
            boolean conflict = rc == -Errno.EAGAIN || rc == -Errno.EACCES;
            if (!conflict || !wait) {
                return rc == -Errno.EACCES ? -Errno.EAGAIN : rc;
            }
            int slept = c.waiter().sleep(RETRY_NANOS);
            if (slept == HostWaiter.WAIT_PARKED) {
                return Syscall.RESTART;
            }
            if (slept == HostWaiter.WAIT_KICKED) {
                return -Errno.EINTR;
            }
        }
    }
}
