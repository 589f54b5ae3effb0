package io.kvmserver.linux;

import io.kvmserver.host.OpenFlags;

import io.kvmserver.host.SyscallNumbers;

import io.kvmserver.host.Errno;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;

/**
 * eventfd and timerfd: counters and timers as fds, backed by non-blocking host fds whose
 * blocking the engine emulates ({@link StreamFile}), so a wait on them can be cut short.
 */
final class EventFdSyscalls {

    private static final int EFD_SEMAPHORE = 1;
    private static final int EFD_NONBLOCK = 04000;
    private static final int EFD_CLOEXEC = 02000000;

    private EventFdSyscalls() {
    }

    static void register(SyscallTable t) {
        t.register(SyscallNumbers.EVENTFD, c -> eventfd(c, c.intArg(0), 0));
        t.register(SyscallNumbers.EVENTFD2, c -> eventfd(c, c.intArg(0), c.intArg(1)));
        t.register(SyscallNumbers.TIMERFD_CREATE, EventFdSyscalls::timerfdCreate);
        t.register(SyscallNumbers.TIMERFD_SETTIME, EventFdSyscalls::timerfdSettime);
        t.register(SyscallNumbers.TIMERFD_GETTIME, EventFdSyscalls::timerfdGettime);
    }

    static long eventfd(Syscall c, int initial, int flags) {
        if ((flags & ~(EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC)) != 0) {
            return -Errno.EINVAL;
        }
        int status = OpenFlags.O_RDWR | (flags & EFD_NONBLOCK);
        EventFdFile file;
        try {
            file = EventFdFile.create(initial & 0xffffffffL, (flags & EFD_SEMAPHORE) != 0, status);
        } catch (LastErrorException e) {
            return -e.getErrorCode();
        }
        return c.files().install(file, 0, (flags & EFD_CLOEXEC) != 0);
    }

    static long timerfdCreate(Syscall c) {
        int clock = c.intArg(0);
        int flags = c.intArg(1);
        if ((flags & ~(EFD_NONBLOCK | EFD_CLOEXEC)) != 0) {
            return -Errno.EINVAL;
        }
        if (clock != 0 && clock != 1 && clock != 7) { // REALTIME, MONOTONIC, BOOTTIME
            return -Errno.EINVAL;
        }
        int status = OpenFlags.O_RDWR | (flags & EFD_NONBLOCK);
        TimerFdFile file;
        try {
            file = TimerFdFile.create(clock, status);
        } catch (LastErrorException e) {
            return -e.getErrorCode();
        }
        return c.files().install(file, 0, (flags & EFD_CLOEXEC) != 0);
    }

    private static TimerFdFile timerfd(Syscall c, int fd) {
        return c.files().get(fd, TimerFdFile.class, Errno.EINVAL);
    }

    static long timerfdSettime(Syscall c) {
        TimerFdFile t = timerfd(c, c.intArg(0));
        int flags = c.intArg(1);
        if ((flags & ~3) != 0) {
            return -Errno.EINVAL;
        }
        byte[] value = c.memory().readBytes(c.arg(2), 32);
        try (Memory in = new Memory(32); Memory out = new Memory(32)) {
            in.write(0, value, 0, 32);
            long rc = HostFile.call(() -> LibC.syscall(SyscallNumbers.TIMERFD_SETTIME, t.hostFd(), flags,
                    Pointer.nativeValue(in), Pointer.nativeValue(out), 0, 0));
            if (rc == 0 && c.arg(3) != 0) {
                c.memory().writeBytes(c.arg(3), out.getByteArray(0, 32));
            }
            return rc;
        }
    }

    static long timerfdGettime(Syscall c) {
        TimerFdFile t = timerfd(c, c.intArg(0));
        long host = c.memory().writable(c.arg(1), 32);
        return HostFile.call(() -> LibC.syscall(SyscallNumbers.TIMERFD_GETTIME, t.hostFd(), host, 0, 0, 0, 0));
    }
}
