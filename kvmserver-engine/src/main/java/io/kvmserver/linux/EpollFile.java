package io.kvmserver.linux;

import io.kvmserver.host.OpenFlags;

import java.util.TreeMap;

/**
 * An emulated epoll instance: its interest list is plain VM state (so it forks and resets with
 * the fd table), and a wait is one {@link Readiness} poll over it. Edge-triggered registrations
 * are reported level-triggered: a program that reads until {@code EAGAIN}, as edge-triggered
 * programs must, sees the same data, at the cost of an extra wake-up at most.
 */
public final class EpollFile extends FileDescription {

    static final int EPOLLONESHOT = 1 << 30;
    static final int EPOLLET = 1 << 31;
    static final int EPOLLEXCLUSIVE = 1 << 28;
    static final int EPOLLWAKEUP = 1 << 29;

    /** One registration: the events wanted and the user data returned with them. */
    static final class Interest {
        int events;
        long data;
        boolean disabled;

        Interest(int events, long data) {
            this.events = events;
            this.data = data;
        }

        Interest copy() {
            Interest c = new Interest(events, data);
            c.disabled = disabled;
            return c;
        }
    }

    private final TreeMap<Integer, Interest> interests;

    public EpollFile() {
        super(OpenFlags.O_RDWR);
        interests = new TreeMap<>();
    }

    private EpollFile(EpollFile other) {
        super(other.statusFlags);
        interests = new TreeMap<>();
        other.interests.forEach((fd, i) -> interests.put(fd, i.copy()));
    }

    TreeMap<Integer, Interest> interests() {
        return interests;
    }

    @Override
    public long stat(long hostStatBuffer) {
        com.sun.jna.Pointer p = new com.sun.jna.Pointer(hostStatBuffer);
        p.setMemory(0, 144, (byte) 0);
        p.setInt(24, 0600); // anonymous inode: no type bits
        p.setLong(16, 1);
        return 0;
    }

    @Override
    public int pollHostFd(HostWaiter waiter) {
        return -1;
    }

    @Override
    public short readinessWithoutHost(short events) {
        return 0; // nested epoll is not supported: an epoll fd is never ready in another wait
    }

    @Override
    public FileDescription fork(ForkContext context) {
        return new EpollFile(this);
    }

    @Override
    protected void closeHost() {
    }
}
