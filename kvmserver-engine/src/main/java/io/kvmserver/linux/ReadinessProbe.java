package io.kvmserver.linux;

import io.kvmserver.x86.GuestCallPages;
import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.host.LibC;
import io.kvmserver.host.SyscallNumbers;

/**
 * What the host looks at before an entry to vouch for the answers of {@link GuestCalls}: one
 * fd's readiness now, whether an epoll instance has anything ready now, and whether time alone
 * can make something in it ready. Every look is a zero-timeout host call that changes nothing:
 * a poll, or {@code timerfd_gettime}; a listener, whose readiness takes a connection, is never
 * looked at. Not thread-safe: the VM's thread's own, between its waits.
 */
final class ReadinessProbe {

    /** Registrations an instance may have for {@link #quietNow} to poll it before an entry. */
    static final int QUIET_MAX_INTERESTS = 8;
    private static final int EPOLLIN = 0x1;

    /** One {@code struct pollfd}. */
    private final Memory pollfd = new Memory(8);
    /** A timerfd's setting ({@code struct itimerspec}). */
    private final Memory timerSetting = new Memory(32);

    /** Everything poll reports on a socket beside an error and a hang-up (always reported). */
    private static final short READY_WHEN_ADDED_ASKED = HostWaiter.POLLIN | HostWaiter.POLLPRI | HostWaiter.POLLOUT
            | HostWaiter.POLLRDNORM | HostWaiter.POLLRDBAND | HostWaiter.POLLWRNORM | HostWaiter.POLLWRBAND
            | HostWaiter.POLLRDHUP;
    /** What poll reports on a socket for reading (an error and a hang-up always). */
    private static final short READ_ASKED = HostWaiter.POLLIN | HostWaiter.POLLPRI | HostWaiter.POLLRDNORM
            | HostWaiter.POLLRDBAND | HostWaiter.POLLRDHUP;
    /** What the entry answers a wait with: anything else goes to the host. */
    private static final int READY_WHEN_ADDED_ANSWERED = HostWaiter.POLLIN | HostWaiter.POLLOUT | HostWaiter.POLLRDNORM
            | HostWaiter.POLLWRNORM;

    /**
     * What the connection at {@code hostFd} is ready for now, as a wait would report it once the
     * program adds it to an instance: 0 unless it is readable and nothing but readable or
     * writable (a hang-up, an error, urgent data: the host answers).
     */
    int readyWhenAdded(int hostFd) {
        int revents = pollNow(hostFd, READY_WHEN_ADDED_ASKED);
        return (revents & ~READY_WHEN_ADDED_ANSWERED) == 0 && (revents & HostWaiter.POLLIN) != 0 ? revents : 0;
    }

    /** Whether the socket at {@code hostFd} has an error pending (poll's {@code POLLERR}, which does not clear it). */
    boolean errorPending(int hostFd) {
        return (pollNow(hostFd, (short) 0) & HostWaiter.POLLERR) != 0;
    }

    /** A zero-timeout poll of one host fd for {@code events}: its revents, or 0 when the poll fails. */
    private int pollNow(int hostFd, short events) {
        pollfd.setInt(0, hostFd);
        pollfd.setShort(4, events);
        pollfd.setShort(6, (short) 0);
        try {
            LibC.syscall(SyscallNumbers.POLL, Pointer.nativeValue(pollfd), 1, 0, 0, 0, 0);
        } catch (LastErrorException e) {
            return 0;
        }
        return pollfd.getShort(6) & 0xffff;
    }

    /**
     * Whether a zero-timeout wait on {@code ep} made now would report nothing: its registrations'
     * files polled once, as the wait polls them (edge-triggered events already reported left
     * out), for an instance of at most {@link #QUIET_MAX_INTERESTS}. A listener is never polled:
     * its readiness takes a connection, which only the program's own wait may do; one that may
     * accept now makes the answer false, and so does a file time alone makes ready
     * ({@link #timeMakesReady}): nothing ready now says nothing of the program's later wait. Uses
     * the waiter's poll array, which only a wait fills.
     */
    boolean quietNow(FdTable files, EpollFile ep, HostWaiter waiter) {
        return quietBut(files, ep, -1, waiter);
    }

    /**
     * Whether a zero-timeout wait on {@code ep} would report nothing once the program has read the
     * bytes the host read ahead on its connection at {@code connFd}, and nothing else: the
     * connection is registered for {@code EPOLLIN} alone, level-triggered, the socket holds exactly
     * those bytes and nothing else ({@code holdsReadAhead}: {@link #afterReadAhead} found
     * {@link GuestCallPages#HOLDS_READ_AHEAD}), and the rest of the instance is quiet
     * ({@link #quietNow}). Linux's answer at the host's look, had the program's reads happened then
     * (python3 asyncio reads its request and polls twice after its response, with no call the host
     * answers between).
     */
    boolean quietOnceRead(FdTable files, EpollFile ep, int connFd, boolean holdsReadAhead, HostWaiter waiter) {
        EpollFile.Interest interest = ep.interests().get(connFd);
        if (interest == null || interest.disabled || interest.events != EPOLLIN || !holdsReadAhead) {
            return false;
        }
        return quietBut(files, ep, connFd, waiter);
    }

    /**
     * What the stream socket at {@code hostFd} holds after the {@code readAhead} bytes the host read
     * ahead, from one poll (and, when it says so much, one {@code FIONREAD}):
     * {@link GuestCallPages#HOLDS_READ_AHEAD} when it holds exactly those and nothing else a poll
     * reports for reading (once they are read it is not readable),
     * {@link GuestCallPages#ENDS_AFTER_READ_AHEAD} when it holds exactly those and then the peer's
     * end of stream (once they are read, a read returns 0), 0 for anything else (more bytes, an
     * error, a hang-up of both sides, urgent data).
     */
    int afterReadAhead(int hostFd, int readAhead, HostWaiter waiter) {
        int revents = pollNow(hostFd, READ_ASKED);
        int found = revents == (HostWaiter.POLLIN | HostWaiter.POLLRDNORM) ? GuestCallPages.HOLDS_READ_AHEAD
                : revents == (HostWaiter.POLLIN | HostWaiter.POLLRDNORM | HostWaiter.POLLRDHUP)
                        ? GuestCallPages.ENDS_AFTER_READ_AHEAD : 0;
        return found != 0 && waiter.bytesToRead(hostFd) == readAhead ? found : 0;
    }

    /** {@link #quietNow}, leaving the registration of {@code skipFd} out (-1: none). */
    private boolean quietBut(FdTable files, EpollFile ep, int skipFd, HostWaiter waiter) {
        if (ep.interests().size() > QUIET_MAX_INTERESTS) {
            return false;
        }
        Memory pollfds = waiter.pollfds();
        int polled = 0;
        for (java.util.Map.Entry<Integer, EpollFile.Interest> e : ep.interests().entrySet()) {
            EpollFile.Interest interest = e.getValue();
            int fd = e.getKey();
            if (fd == skipFd || interest.disabled || !files.isOpen(fd)) {
                continue; // a wait skips both (and forgets a closed file's registration)
            }
            FileDescription f = files.get(fd);
            if (timeMakesReady(f)) {
                return false;
            }
            short events = (short) (interest.events | Readiness.ALWAYS);
            short suppress = EpollFile.alreadyReported(interest, f);
            if (f.isListener()) {
                // Known only when ready without a look (a connection kept for the program) or when
                // it may not accept now: a poll of it would take a connection.
                if ((f.readinessWithoutHost(events) & ~suppress) != 0
                        || f.pollEvents(waiter, (short) (events & ~suppress)) != 0) {
                    return false;
                }
                continue;
            }
            int hostFd = f.pollHostFd(waiter);
            if (hostFd < 0) {
                if ((f.readinessWithoutHost(events) & ~suppress) != 0) {
                    return false;
                }
                continue;
            }
            if ((suppress & (HostWaiter.POLLHUP | HostWaiter.POLLERR)) != 0) {
                continue;
            }
            short wanted = f.pollEvents(waiter, (short) (events & ~suppress));
            if (wanted == 0) {
                continue;
            }
            HostWaiter.setPollfd(pollfds, polled++, hostFd, wanted);
        }
        if (polled == 0) {
            return true;
        }
        try {
            return LibC.syscall(SyscallNumbers.POLL, Pointer.nativeValue(pollfds), polled, 0, 0, 0, 0) == 0;
        } catch (LastErrorException e) {
            return false;
        }
    }

    /**
     * Whether {@code ep} watches a file that time alone makes ready (an armed timerfd, one that
     * has expired since it was last read, a signalfd: a timer's signal), so that "nothing was
     * ready" at the host's wait says nothing of later: the program can read the clock in the
     * guest, past a deadline, and then wait. A one-shot timer that expired between the host's
     * wait and this look is no longer armed, but ready: the wait's answer is stale already.
     */
    boolean watchesTime(FdTable files, EpollFile ep) {
        for (Integer fd : ep.interests().keySet()) {
            if (files.isOpen(fd) && timeMakesReady(files.get(fd))) {
                return true;
            }
        }
        return false;
    }

    /** An armed or expired timerfd, or a signalfd (a timer's signal): files the clock alone makes ready. */
    private boolean timeMakesReady(FileDescription f) {
        if (f instanceof TimerFdFile timer) {
            return timer.armed(timerSetting) || (pollNow(timer.hostFd(), HostWaiter.POLLIN) & HostWaiter.POLLIN) != 0;
        }
        return f instanceof SignalFdFile;
    }
}
