package io.kvmserver.linux;

import io.kvmserver.host.SyscallNumbers;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;

/**
 * A timerfd. A fork gets a timer of its own on the same clock, armed to expire when the
 * template's would and with the expirations the template's had not read: the template's host
 * timer goes on running while it is frozen, and only ever is read, never set or drained, by forks.
 */
final class TimerFdFile extends StreamFile {

    private static final int TFD_NONBLOCK = 04000;
    private static final int TFD_CLOEXEC = 02000000;
    /** {@code _IOW('T', 0, __u64)}: sets a timerfd's expiration count (CONFIG_CHECKPOINT_RESTORE). */
    private static final long TFD_IOC_SET_TICKS = 0x40085400L;
    private static final int ITIMERSPEC_SIZE = 32;

    private final int clock;

    private TimerFdFile(int fd, int statusFlags, int clock) {
        super(fd, true, statusFlags, "anon_inode:[timerfd]", 0);
        this.clock = clock;
    }

    static TimerFdFile create(int clock, int statusFlags) {
        int fd = (int) LibC.syscall(SyscallNumbers.TIMERFD_CREATE, clock, TFD_NONBLOCK | TFD_CLOEXEC, 0, 0, 0, 0);
        return new TimerFdFile(fd, statusFlags, clock);
    }

    /** Whether the timer is armed (it will expire), read into {@code setting} ({@value #ITIMERSPEC_SIZE} bytes or more). */
    boolean armed(Memory setting) {
        try {
            LibC.syscall(SyscallNumbers.TIMERFD_GETTIME, fd, Pointer.nativeValue(setting), 0, 0, 0, 0);
        } catch (LastErrorException e) {
            return true; // cannot tell: as if it could expire
        }
        return setting.getLong(16) != 0 || setting.getLong(24) != 0;
    }

    @Override
    public FileDescription fork(ForkContext context) {
        TimerFdFile copy = create(clock, statusFlags);
        try (Memory setting = new Memory(ITIMERSPEC_SIZE); Memory ticks = new Memory(8)) {
            // The template's timer as it stands now: time left and interval, relative.
            if (HostFile.call(() -> LibC.syscall(SyscallNumbers.TIMERFD_GETTIME, fd, Pointer.nativeValue(setting), 0,
                    0, 0, 0)) == 0 && (setting.getLong(16) != 0 || setting.getLong(24) != 0)) {
                HostFile.call(() -> LibC.syscall(SyscallNumbers.TIMERFD_SETTIME, copy.fd, 0,
                        Pointer.nativeValue(setting), 0, 0, 0));
            }
            long pending = FdInfo.field(fd, "ticks", 10);
            if (pending > 0) {
                ticks.setLong(0, pending);
                HostFile.call(() -> LibC.ioctl(copy.fd, TFD_IOC_SET_TICKS, Pointer.nativeValue(ticks)));
            }
        }
        return copy;
    }
}
