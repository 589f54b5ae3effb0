package io.kvmserver.linux;

import io.kvmserver.host.OpenFlags;

import io.kvmserver.host.SyscallNumbers;

import io.kvmserver.host.Errno;

import java.util.Iterator;
import java.util.Map;

/**
 * epoll: instances are plain VM state ({@link EpollFile}), and a wait is one {@link Readiness}
 * poll over the interest list. A wait on a set holding the listening socket is where the template
 * freezes ({@link Syscall#requestFreeze}).
 */
final class EpollSyscalls {

    private static final int EPOLL_CTL_ADD = 1;
    private static final int EPOLL_CTL_DEL = 2;
    private static final int EPOLL_CTL_MOD = 3;
    private static final int EPOLL_EVENT_SIZE = 12;
    /** The events {@code EPOLLEXCLUSIVE} may come with: IN, OUT, ERR, HUP, WAKEUP, ET. */
    private static final int EXCLUSIVE_COMPANIONS = 0x1 | 0x4 | 0x8 | 0x10 | EpollFile.EPOLLWAKEUP | EpollFile.EPOLLET
            | EpollFile.EPOLLEXCLUSIVE;

    private EpollSyscalls() {
    }

    static void register(SyscallTable t) {
        t.register(SyscallNumbers.EPOLL_CREATE, c -> c.intArg(0) <= 0 ? -Errno.EINVAL
                : c.files().install(new EpollFile(), 0, false));
        t.register(SyscallNumbers.EPOLL_CREATE1, c -> (c.intArg(0) & ~OpenFlags.O_CLOEXEC) != 0 ? -Errno.EINVAL
                : c.files().install(new EpollFile(), 0, c.intArg(0) != 0));
        t.register(SyscallNumbers.EPOLL_CTL, EpollSyscalls::epollCtl);
        t.register(SyscallNumbers.EPOLL_WAIT, c -> epollWait(c, c.intArg(2), PollSyscalls.millisToNanos(c.intArg(3))));
        t.register(SyscallNumbers.EPOLL_PWAIT, c -> WaitMask.wait(c, c.arg(4), c.arg(5),
                PollSyscalls.millisToNanos(c.intArg(3)), (s, timeout) -> epollWait(s, s.intArg(2), timeout)));
        t.register(SyscallNumbers.EPOLL_PWAIT2, c -> WaitMask.wait(c, c.arg(4), c.arg(5),
                PollSyscalls.timespecNanos(c, c.arg(3)), (s, timeout) -> epollWait(s, s.intArg(2), timeout)));
    }

    private static EpollFile epoll(Syscall c, int fd) {
        return c.files().get(fd, EpollFile.class, Errno.EINVAL);
    }

    static long epollCtl(Syscall c) {
        EpollFile ep = epoll(c, c.intArg(0));
        int op = c.intArg(1);
        int fd = c.intArg(2);
        long event = c.arg(3);
        FileDescription target = c.files().get(fd);
        if (target == ep) {
            return -Errno.EINVAL;
        }
        if (target instanceof EpollFile && op != EPOLL_CTL_DEL) {
            // Linux nests instances (and refuses loops with ELOOP); here an instance is never
            // ready in another wait, so a nested one would hang its waiter: refused as a file
            // epoll cannot watch, which a program sees at once.
            return -Errno.EPERM;
        }
        if (target instanceof HostFile h && h.hostFd() >= 0 && !h.isDirectory() && h.path() != null
                && !h.path().startsWith("/dev/")) {
            return -Errno.EPERM; // regular files are always ready; epoll refuses them
        }
        int events = 0;
        long data = 0;
        if (op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD) {
            events = c.memory().readInt(event);
            data = c.memory().readLong(event + 4);
        }
        if ((events & EpollFile.EPOLLEXCLUSIVE) != 0
                && (op == EPOLL_CTL_MOD || (events & ~EXCLUSIVE_COMPANIONS) != 0)) {
            return -Errno.EINVAL; // as epoll_ctl(2): exclusive wakeups only on ADD, with these events
        }
        if (c.guestCalls() != null) {
            c.guestCalls().epollUsed(c.intArg(0), ep);
        }
        long rc = control(c.process(), ep, op, fd, events, data);
        if (rc == 0 && op == EPOLL_CTL_DEL && c.guestCalls() != null) {
            c.guestCalls().epollInterestRemoved(c.intArg(0));
        }
        return rc;
    }

    /**
     * epoll_ctl once its event is read: changes the interest list, and a thread parked in a wait
     * on the instance looks again (Linux wakes a waiter when a file it now watches is ready).
     */
    static long control(LinuxProcess process, EpollFile ep, int op, int fd, int events, long data) {
        long rc = changeInterests(ep, op, fd, events, data, process.files().generation(fd));
        if (rc == 0) {
            process.scheduler().epollInterestsChanged(process.files(), ep);
        }
        return rc;
    }

    private static long changeInterests(EpollFile ep, int op, int fd, int events, long data, int generation) {
        Map<Integer, EpollFile.Interest> interests = ep.interests();
        EpollFile.Interest stale = interests.get(fd);
        if (stale != null && stale.generation != generation) {
            interests.remove(fd); // the file it was made for was closed; this one is another
        }
        switch (op) {
            case EPOLL_CTL_ADD, EPOLL_CTL_MOD -> {
                EpollFile.Interest existing = interests.get(fd);
                if (op == EPOLL_CTL_ADD) {
                    if (existing != null) {
                        return -Errno.EEXIST;
                    }
                    interests.put(fd, new EpollFile.Interest(events, data, generation));
                } else {
                    if (existing == null) {
                        return -Errno.ENOENT;
                    }
                    if ((existing.events & EpollFile.EPOLLEXCLUSIVE) != 0) {
                        return -Errno.EINVAL;
                    }
                    existing.events = events;
                    existing.data = data;
                    existing.disabled = false;
                    // As Linux's ep_modify: a file ready now is reported again, edge-triggered or not.
                    existing.reported = 0;
                    existing.reportedEpoch = -1;
                }
                return 0;
            }
            case EPOLL_CTL_DEL -> {
                return interests.remove(fd) == null ? -Errno.ENOENT : 0;
            }
            default -> {
                return -Errno.EINVAL;
            }
        }
    }

    static long epollWait(Syscall c, int maxEvents, long timeoutNanos) {
        EpollFile ep = epoll(c, c.intArg(0));
        long events = c.arg(1);
        if (maxEvents <= 0 || maxEvents > Integer.MAX_VALUE / EPOLL_EVENT_SIZE) {
            return -Errno.EINVAL;
        }
        AddressSpace m = c.memory();
        m.check(events, (long) maxEvents * EPOLL_EVENT_SIZE, AddressSpace.PROT_WRITE);
        Readiness r = c.waiter().readiness();
        int count = 0;
        int[] fdOf = r.fds;
        FileDescription listener = null;
        for (Iterator<Map.Entry<Integer, EpollFile.Interest>> it = ep.interests().entrySet().iterator(); it.hasNext();) {
            Map.Entry<Integer, EpollFile.Interest> e = it.next();
            if (!c.files().isOpen(e.getKey()) || c.files().generation(e.getKey()) != e.getValue().generation) {
                it.remove(); // closing the last fd of a file removes its registrations
                continue;
            }
            if (e.getValue().disabled) {
                continue;
            }
            FileDescription f = c.files().get(e.getKey());
            if (f.isListener()) {
                listener = f;
            }
            r.files[count] = f;
            r.events[count] = (short) (e.getValue().events | Readiness.ALWAYS);
            r.suppress[count] = EpollFile.alreadyReported(e.getValue(), f);
            fdOf[count++] = e.getKey();
        }
        long n = r.awaitOrFreeze(c, count, timeoutNanos, listener);
        if (n == Readiness.FROZEN) {
            return 0;
        }
        if (n < 0) {
            return n;
        }
        int written = 0;
        FileDescription reported = null;
        for (int i = 0; i < count && written < maxEvents; i++) {
            if (r.revents[i] == 0) {
                continue;
            }
            EpollFile.Interest interest = ep.interests().get(fdOf[i]);
            if (!EpollFile.report(interest, r.revents[i])) {
                continue;
            }
            long at = events + (long) written * EPOLL_EVENT_SIZE;
            m.writeInt(at, r.revents[i] & 0xffff);
            m.memory().putLong(at + 4, interest.data);
            if ((interest.events & EpollFile.EPOLLONESHOT) != 0) {
                interest.disabled = true;
            }
            reported = r.files[i];
            written++;
        }
        if (c.guestCalls() != null) {
            c.guestCalls().epollUsed(c.intArg(0), ep);
            if (timeoutNanos == 0) {
                c.guestCalls().waitedWithoutTimeout();
            }
            if (written == 0 && timeoutNanos == 0) {
                c.guestCalls().epollFoundNothing(c.intArg(0), ep);
            } else if (n == 1 && written == 1 && reported instanceof SharedListener only) {
                // Everything the wait looked at was seen: one file ready, reported, and it was the
                // listener (n counts the ready ones, more than maxevents may hold).
                c.guestCalls().epollFoundOnly(c.intArg(0), ep, only);
            }
        }
        return written;
    }
}
