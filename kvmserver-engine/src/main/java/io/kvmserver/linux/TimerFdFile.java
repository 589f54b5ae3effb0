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
 *
 * <p>What a fork needs is taken once, when the template is frozen (the next expiry, the interval
 * and the unread count); from then on the frozen timer's state at any later time follows by
 * arithmetic, as the kernel counts it (an expiry at every interval from the frozen one). A fork,
 * made at every reset, then costs the new timer's own calls only, however many timers the
 * template armed: reading the template's count back from {@code /proc/self/fdinfo} for each
 * timer at each reset made a template of a thousand armed timers cost 45 ms a request (20 ms
 * since, most of it the host arming a thousand timers).
 */
final class TimerFdFile extends StreamFile {

    private static final int TFD_NONBLOCK = 04000;
    private static final int TFD_CLOEXEC = 02000000;
    private static final int TFD_TIMER_ABSTIME = 1;
    /** {@code _IOW('T', 0, __u64)}: sets a timerfd's expiration count (CONFIG_CHECKPOINT_RESTORE). */
    private static final long TFD_IOC_SET_TICKS = 0x40085400L;
    private static final int ITIMERSPEC_SIZE = 32;
    private static final long NANOS_PER_SECOND = 1_000_000_000L;
    /** Reads of the template's setting and count at its freeze beyond the first (see {@link #freeze}). */
    private static final int FREEZE_ATTEMPTS = 3;
    /**
     * The most time between the clock reads around the setting's read for the freeze to take the
     * pair at once: a thread preempted between them would shift the copies' schedule by as much.
     */
    private static final long SETTING_READ_WINDOW_NANOS = 20_000L;

    private final int clock;
    private boolean frozen;
    /** At the freeze, on {@link #clock}: the next expiry in nanoseconds (0: disarmed). */
    private long frozenNext;
    private long frozenInterval;
    /** Expirations nobody had read at the freeze. */
    private long frozenTicks;

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
    public void freeze(FrozenBytes budget) {
        try (Memory setting = new Memory(ITIMERSPEC_SIZE); Memory scratch = new Memory(16)) {
            // The setting, then the count. Asking for the setting brings the count up to date
            // (the kernel counts an unread periodic timer's overruns only when it is read or asked
            // for); one more expiry, at the setting's next one, may be counted before the count is
            // read, and the fork would count it again. So the pair is read again while that may
            // have happened: at most a few times, as an interval shorter than the reads (1 µs)
            // would make it happen every time (a loop until two reads agreed never ended); then
            // the pair is taken as read: one expiry too many at most, of a timer that expires a
            // million times a second. The time left is as of a moment between the clock reads
            // around it, taken as their middle; reads far apart (the thread was preempted) are
            // made again too.
            for (int attempt = 0; ; attempt++) {
                long now = HostClock.now(clock, scratch);
                LibC.syscall(SyscallNumbers.TIMERFD_GETTIME, fd, Pointer.nativeValue(setting), 0, 0, 0, 0);
                long read = HostClock.now(clock, scratch);
                long ticks = Math.max(0, FdInfo.field(fd, "ticks", 10));
                long after = HostClock.now(clock, scratch);
                long left = Deadline.nanos(setting.getLong(16), setting.getLong(24), NANOS_PER_SECOND);
                frozenInterval = Deadline.nanos(setting.getLong(0), setting.getLong(8), NANOS_PER_SECOND);
                // An armed periodic timer may have no time left (its next expiry is now): only a
                // timer with neither time left nor an interval is disarmed.
                frozenNext = left == 0 && frozenInterval == 0 ? 0 : saturatedAdd(now + (read - now) / 2, left);
                frozenTicks = ticks;
                boolean last = attempt == FREEZE_ATTEMPTS;
                if (frozenNext == 0 || last
                        || after < frozenNext && read - now <= SETTING_READ_WINDOW_NANOS) {
                    break;
                }
            }
            frozen = true;
        } catch (LastErrorException e) {
            frozen = false; // forks read the template's timer as it stands
        }
    }

    @Override
    public FileDescription fork(ForkContext context) {
        if (!frozen) {
            freeze(null);
        }
        Memory scratch = context.scratch();
        long next = frozenNext;
        long ticks = frozenTicks;
        if (next != 0) {
            // Read for each timer, not once per fork: a deadline computed from a time read
            // milliseconds before (a thousand timers take that long) is in the past when it is
            // set, and the host takes far longer to set a timer that expires at once (a thousand
            // of them: 20-90 ms, against 3-7 ms for the same ones set ahead).
            long now = HostClock.now(clock, scratch);
            if (now >= next) {
                long expired = frozenInterval > 0 ? (now - next) / frozenInterval + 1 : 1;
                ticks = saturatedAdd(ticks, expired);
                next = frozenInterval > 0 ? saturatedAdd(next, expired * frozenInterval) : 0;
            }
        }
        TimerFdFile copy = create(clock, statusFlags);
        if (next != 0) {
            scratch.setLong(0, frozenInterval / NANOS_PER_SECOND);
            scratch.setLong(8, frozenInterval % NANOS_PER_SECOND);
            scratch.setLong(16, next / NANOS_PER_SECOND);
            scratch.setLong(24, next % NANOS_PER_SECOND);
            HostFile.call(() -> LibC.syscall(SyscallNumbers.TIMERFD_SETTIME, copy.fd, TFD_TIMER_ABSTIME,
                    Pointer.nativeValue(scratch), 0, 0, 0));
        }
        if (ticks > 0) {
            scratch.setLong(0, ticks);
            HostFile.call(() -> LibC.ioctl(copy.fd, TFD_IOC_SET_TICKS, Pointer.nativeValue(scratch)));
        }
        return copy;
    }

    private static long saturatedAdd(long a, long b) {
        long sum = a + b;
        return sum < 0 ? Long.MAX_VALUE : sum;
    }
}
