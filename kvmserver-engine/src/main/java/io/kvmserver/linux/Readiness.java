package io.kvmserver.linux;

import io.kvmserver.host.Errno;

import com.sun.jna.Memory;

/**
 * The one wait behind poll, ppoll, select, pselect6 and epoll_wait: a list of files and the
 * events wanted from each, answered with one host {@code poll} (plus the VM's kick fd).
 *
 * <p>Files that need no host (console, made-up files, a connection already taken from a shared
 * listener) answer at once; the rest are polled on the host; a file may refuse a readiness it
 * cannot act on ({@link FileDescription#ready}), in which case the wait goes on until its
 * deadline. The arrays are the VM's own, reused for every wait.
 */
final class Readiness {

    static final short ALWAYS = HostWaiter.POLLERR | HostWaiter.POLLHUP | HostWaiter.POLLNVAL;

    final FileDescription[] files = new FileDescription[FdTable.LIMIT];
    final short[] events = new short[FdTable.LIMIT];
    final short[] revents = new short[FdTable.LIMIT];
    /**
     * Events of each entry that do not count as ready (an edge-triggered epoll registration that
     * reported them already); zeroed after every wait, so only epoll sets them.
     */
    final short[] suppress = new short[FdTable.LIMIT];
    /** The guest fd of each entry, for callers that report by fd (select, epoll). */
    final int[] fds = new int[FdTable.LIMIT];
    private final int[] polled = new int[FdTable.LIMIT];

    /** {@link #awaitOrFreeze}: the template froze at this wait instead of performing it. */
    static final long FROZEN = Long.MIN_VALUE;

    private final HostWaiter waiter;
    /** The wait in progress leaves listening sockets out ({@link #awaitOrFreeze}). */
    private boolean hideListeners;

    Readiness(HostWaiter waiter) {
        this.waiter = waiter;
    }

    /**
     * {@link #await}, except in a template that is to freeze at its wait for connections. Such a
     * template never sees a connection waiting: a client that connected before the freeze is a
     * request VM's to serve, and a request the template served would be in every request VM's
     * memory. So its waits leave listening sockets out, and a wait that holds one and would block
     * (a timeout other than 0, and nothing else ready now) freezes it instead ({@link #FROZEN}). A
     * zero-timeout poll, as start-up code makes while it sets up, or a wait with something else
     * ready, is performed: freezing there would make every request VM run the rest of the
     * start-up again. So is a wait whose timeout ends within the settle time
     * ({@link Syscall#settlesUntil}), and so is any wait while another thread's timed wait or a
     * timer of the process ends within it: a timer the program armed fires once, here, instead of
     * in every request VM that starts after it was due (a lazily started thread, a cache flush, an
     * idle pool's threads ending). A tick after which the program waits again with no other call
     * ({@link Syscall#settledQuietly}: a poll interval) ends the settling: it would only repeat.
     */
    long awaitOrFreeze(Syscall c, int count, long timeoutNanos, FileDescription listener) {
        if (!c.freezeOnListenerWait()) {
            return await(count, timeoutNanos);
        }
        long own = waiter.deadlineAfter(timeoutNanos);
        long others = c.process().nextDeadlineBesides(c.thread());
        hideListeners = true;
        try {
            if (listener == null || timeoutNanos == 0) {
                return await(count, timeoutNanos);
            }
            if (c.settlesUntil(others) || c.settlesUntil(own) && !c.settledQuietly(timeoutNanos)) {
                // Settling: the wait is made with the listener left out; a timer of the program's
                // ends it, or another thread's runs meanwhile (the thread parks, and every round
                // of the scheduler in which all threads wait asks this wait again).
                long n = await(count, timeoutNanos);
                if (n == 0) {
                    c.settleTickEnded(timeoutNanos);
                }
                return n;
            }
            long now = await(count, 0);
            if (now != 0) {
                return now;
            }
        } finally {
            hideListeners = false;
        }
        c.freezesInWaitUntil(Math.min(own, others));
        c.requestFreeze(listener);
        return FROZEN;
    }

    /**
     * Waits until one of the first {@code count} entries is ready, or {@code timeoutNanos}
     * passes (negative: forever). Fills {@link #revents}; returns how many entries are ready,
     * or {@code -EINTR} when the VM was kicked. A null file reports {@code POLLNVAL}.
     */
    long await(int count, long timeoutNanos) {
        try {
            return awaitReady(count, timeoutNanos);
        } finally {
            java.util.Arrays.fill(suppress, 0, count, (short) 0);
        }
    }

    private long awaitReady(int count, long timeoutNanos) {
        Memory pollfds = waiter.pollfds();
        long deadline = waiter.deadlineAfter(timeoutNanos);
        while (true) {
            int ready = 0;
            int k = 0;
            for (int i = 0; i < count; i++) {
                revents[i] = 0;
                FileDescription f = files[i];
                if (f == null) {
                    revents[i] = HostWaiter.POLLNVAL;
                    ready++;
                    continue;
                }
                if (hideListeners && f.isListener()) {
                    continue; // never ready: see awaitOrFreeze
                }
                int hostFd = f.pollHostFd(waiter);
                if (hostFd < 0) {
                    short r = f.readinessWithoutHost(events[i]);
                    if ((r & ~suppress[i]) != 0) {
                        revents[i] = r;
                        ready++;
                    }
                    continue;
                }
                // A hang-up or error already reported stays: polling for it would never block.
                if ((suppress[i] & (HostWaiter.POLLHUP | HostWaiter.POLLERR)) != 0) {
                    continue;
                }
                short wanted = f.pollEvents(waiter, (short) (events[i] & ~suppress[i]));
                if (wanted == 0) {
                    continue;
                }
                HostWaiter.setPollfd(pollfds, k, hostFd, wanted);
                polled[k++] = i;
            }
            long remaining = Deadline.remaining(deadline);
            long n = waiter.poll(k, ready > 0 ? 0 : remaining);
            if (n == HostWaiter.PARKED) {
                for (int i = 0; i < count; i++) {
                    if (suppress[i] != 0 && files[i] != null) {
                        waiter.recordEdgeFile(files[i]);
                    }
                }
                return Syscall.RESTART;
            }
            if (n == HostWaiter.KICKED) {
                return -Errno.EINTR;
            }
            if (n < 0) {
                return n;
            }
            for (int j = 0; j < k && n > 0; j++) {
                short hostRevents = HostWaiter.revents(pollfds, j);
                if (hostRevents == 0) {
                    continue;
                }
                int i = polled[j];
                short r = (short) (files[i].ready(waiter, hostRevents) & (events[i] | ALWAYS));
                if ((r & ~suppress[i]) != 0) {
                    revents[i] = r;
                    ready++;
                }
            }
            if (ready > 0 || remaining == 0) {
                return ready;
            }
        }
    }
}
