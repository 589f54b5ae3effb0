package io.kvmserver.linux;

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
    /** The guest fd of each entry, for callers that report by fd (select, epoll). */
    final int[] fds = new int[FdTable.LIMIT];
    private final int[] polled = new int[FdTable.LIMIT];

    /** The scratch lists of the VM running on this thread. */
    static Readiness current() {
        return HostWaiter.current().readiness();
    }

    /**
     * Waits until one of the first {@code count} entries is ready, or {@code timeoutMillis}
     * passes (negative: forever). Fills {@link #revents}; returns how many entries are ready,
     * or {@code -EINTR} when the VM was kicked. A null file reports {@code POLLNVAL}.
     */
    long await(int count, long timeoutMillis) {
        HostWaiter waiter = HostWaiter.current();
        Memory pollfds = waiter.pollfds();
        long deadline = timeoutMillis < 0 ? Long.MAX_VALUE : System.nanoTime() + timeoutMillis * 1_000_000L;
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
                int hostFd = f.pollHostFd();
                if (hostFd < 0) {
                    short r = f.readinessWithoutHost(events[i]);
                    if (r != 0) {
                        revents[i] = r;
                        ready++;
                    }
                    continue;
                }
                short wanted = f.pollEvents(events[i]);
                if (wanted == 0) {
                    continue;
                }
                HostWaiter.setPollfd(pollfds, k, hostFd, wanted);
                polled[k++] = i;
            }
            long remaining = timeoutMillis < 0 ? -1 : Math.max(0, (deadline - System.nanoTime()) / 1_000_000L);
            long n = waiter.poll(k, ready > 0 ? 0 : remaining);
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
                short r = (short) (files[i].ready(hostRevents) & (events[i] | ALWAYS));
                if (r != 0) {
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
