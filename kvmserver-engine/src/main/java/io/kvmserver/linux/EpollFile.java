package io.kvmserver.linux;

import io.kvmserver.host.OpenFlags;

import java.util.TreeMap;

/**
 * An emulated epoll instance: its interest list is plain VM state (so it forks and resets with
 * the fd table), and a wait is one {@link Readiness} poll over it.
 *
 * <p>An edge-triggered registration reports a readiness once, and again only after the program
 * did I/O on the file ({@link FileDescription#touched}): reading until
 * {@code EAGAIN}, as edge-triggered programs must, re-arms it, while a socket that simply stays
 * writable is not reported over and over (tokio and mio register every socket for both
 * directions, edge-triggered, and would otherwise spin).
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
        /** Edge-triggered: the events reported since the program last did I/O on the file. */
        short reported;
        long reportedEpoch = -1;
        /** The fd's install count when it was registered ({@link FdTable#generation}). */
        final int generation;

        Interest(int events, long data, int generation) {
            this.events = events;
            this.data = data;
            this.generation = generation;
        }

        Interest copy() {
            Interest c = new Interest(events, data, generation);
            c.disabled = disabled;
            c.reported = reported;
            c.reportedEpoch = reportedEpoch;
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

    /** The events of {@code interest} a wait must not report again (edge-triggered, not re-armed). */
    static short alreadyReported(Interest interest, FileDescription f) {
        if ((interest.events & EPOLLET) == 0) {
            return 0;
        }
        if (interest.reportedEpoch != f.ioEpoch()) {
            interest.reported = 0;
            interest.reportedEpoch = f.ioEpoch();
        }
        return interest.reported;
    }

    /** Records what was just reported for an edge-triggered interest; false if nothing new is. */
    static boolean report(Interest interest, short ready) {
        if ((interest.events & EPOLLET) == 0) {
            return true;
        }
        boolean fresh = (ready & ~interest.reported) != 0;
        // Bits left out of this wait (reported before) were not looked at: they stay reported.
        interest.reported |= ready;
        return fresh;
    }

    /**
     * A wait answered in the guest reported {@code ready} for {@code interest} on {@code f} (the
     * wait right after the registration, see {@link GuestCalls}): recorded as the host's wait
     * records it (edge-triggered: reported; one-shot: disabled). False, and nothing recorded,
     * unless {@code ready} is a non-empty part of what the host published ({@code published})
     * and the registration wants, as the entry computes it.
     */
    static boolean reportedInGuest(Interest interest, FileDescription f, int ready, int published) {
        if (interest == null || interest.disabled || ready == 0 || (ready & ~(published & interest.events)) != 0) {
            return false;
        }
        alreadyReported(interest, f);
        report(interest, (short) ready);
        if ((interest.events & EPOLLONESHOT) != 0) {
            interest.disabled = true;
        }
        return true;
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
