package io.kvmserver.linux;

import io.kvmserver.host.SyscallNumbers;

import io.kvmserver.host.Errno;

/**
 * poll, ppoll, select and pselect6: one {@link Readiness} wait over the files the program names.
 *
 * <p>In the template, a wait that includes the program's listening socket is where the engine
 * freezes it ({@link Syscall#requestFreeze}): the program is ready for requests. A request VM
 * then performs that same wait for real.
 */
final class PollSyscalls {

    private static final int FD_SETSIZE = 1024;

    private PollSyscalls() {
    }

    static void register(SyscallTable t) {
        t.register(SyscallNumbers.POLL, c -> poll(c, c.arg(0), c.arg(1), millisToNanos(c.intArg(2))));
        t.register(SyscallNumbers.PPOLL, c -> WaitMask.wait(c, c.arg(3), c.arg(4), timespecNanos(c, c.arg(2)),
                (s, timeout) -> poll(s, s.arg(0), s.arg(1), timeout)));
        t.register(SyscallNumbers.SELECT, PollSyscalls::selectWithTimeLeft);
        t.register(SyscallNumbers.PSELECT6, c -> {
            long timespec = c.arg(4);
            long timeout = timespecNanos(c, timespec);
            long deadline = c.waiter().deadlineAfter(timeout);
            // The sixth argument is a struct { const sigset_t *ss; size_t ss_len; }, or NULL.
            long mask = c.arg(5) == 0 ? 0 : c.memory().readLong(c.arg(5));
            long size = c.arg(5) == 0 ? 0 : c.memory().readLong(c.arg(5) + 8);
            long n = WaitMask.wait(c, mask, size, timeout, PollSyscalls::select);
            // The syscall writes the time left back too (glibc's select is this call, and turns it
            // back into the caller's timeval; its pselect copies the timespec, which it keeps).
            writeTimeLeft(c, timespec, deadline, n, 1);
            return n;
        });
    }

    /** A millisecond timeout as poll(2) and epoll_wait(2) take it: negative means forever. */
    static long millisToNanos(int millis) {
        return millis < 0 ? -1 : millis * 1_000_000L;
    }

    /** A {@code struct timespec} timeout in nanoseconds, saturating; null pointer: forever (-1). */
    static long timespecNanos(Syscall c, long address) {
        return address == 0 ? -1 : validTimeout(GuestTime.timespec(c.memory(), address));
    }

    /** A {@code struct timeval} timeout in nanoseconds, saturating; null pointer: forever (-1). */
    static long timevalNanos(Syscall c, long address) {
        return address == 0 ? -1 : validTimeout(GuestTime.timeval(c.memory(), address));
    }

    /**
     * select's {@code struct timeval}: unlike the other calls, Linux takes microseconds past a
     * second as whole seconds ({@code {0, 2000000}} waits 2 s); negative parts are EINVAL.
     */
    /**
     * select(2): as {@link #select}, and the time it did not wait written back into its timeval,
     * as Linux does (a program looping on select with one timeval counts down its budget so).
     */
    private static long selectWithTimeLeft(Syscall c) {
        long timeval = c.arg(4);
        long timeout = selectTimeoutNanos(c, timeval);
        long deadline = c.waiter().deadlineAfter(timeout); // a parked call tried again keeps its first
        long n = select(c, timeout);
        writeTimeLeft(c, timeval, deadline, n, 1000);
        return n;
    }

    /**
     * Writes the time left until {@code deadline} into the timeval or timespec at {@code address}
     * ({@code unit} nanoseconds per unit of its second field: 1000 for microseconds), unless there
     * is none, the call is to be tried again, or the timeout was past the clock's range; a
     * timeout the program cannot write leaves the call's answer as it is, as on Linux.
     */
    private static void writeTimeLeft(Syscall c, long address, long deadline, long result, long unit) {
        long left = Deadline.remaining(deadline);
        if (address != 0 && result != Syscall.RESTART && left >= 0) {
            try {
                c.memory().writeLong(address, left / 1_000_000_000L);
                c.memory().writeLong(address + 8, left % 1_000_000_000L / unit);
            } catch (SyscallError e) {
                // a timeout in read-only memory: Linux keeps the call's answer, not EFAULT
            }
        }
    }

    static long selectTimeoutNanos(Syscall c, long address) {
        if (address == 0) {
            return -1;
        }
        long seconds = c.memory().readLong(address);
        long micros = c.memory().readLong(address + 8);
        // As Linux: whole seconds moved out of the microseconds first (floor, so -1 s and
        // 1,100,000 µs is 100 ms), then the result checked; a sum that overflows is invalid.
        long whole = Math.floorDiv(micros, 1_000_000L);
        long fraction = Math.floorMod(micros, 1_000_000L);
        long total;
        try {
            total = Math.addExact(seconds, whole);
        } catch (ArithmeticException e) {
            throw new SyscallError(Errno.EINVAL);
        }
        if (total < 0 || (total == Long.MAX_VALUE && fraction > 0)) {
            throw new SyscallError(Errno.EINVAL);
        }
        return Deadline.nanos(total, fraction, 1_000_000L);
    }

    private static long validTimeout(long nanos) {
        if (nanos == GuestTime.INVALID) {
            throw new SyscallError(Errno.EINVAL);
        }
        return nanos;
    }

    static long poll(Syscall c, long fds, long count, long timeoutNanos) {
        if (count < 0 || count > FdTable.LIMIT) {
            return -Errno.EINVAL;
        }
        AddressSpace m = c.memory();
        m.check(fds, count * 8, AddressSpace.PROT_READ | AddressSpace.PROT_WRITE);
        Readiness r = c.waiter().readiness();
        FileDescription listener = null;
        for (int i = 0; i < count; i++) {
            int fd = m.readInt(fds + i * 8L);
            short events = (short) (m.memory().getInt(fds + i * 8L + 4) & 0xffff);
            r.events[i] = (short) (events | Readiness.ALWAYS);
            if (fd < 0) {
                r.files[i] = null;
                r.events[i] = 0;
                continue;
            }
            r.files[i] = c.files().isOpen(fd) ? c.files().get(fd) : null;
            if (r.files[i] != null && r.files[i].isListener()) {
                listener = r.files[i];
            }
        }
        // Entries with a negative fd take part as "never ready".
        for (int i = 0; i < count; i++) {
            if (r.events[i] == 0 && r.files[i] == null) {
                r.files[i] = NeverReady.INSTANCE;
            }
        }
        long n = r.awaitOrFreeze(c, (int) count, timeoutNanos, listener);
        if (n == Readiness.FROZEN) {
            return 0;
        }
        if (n < 0) {
            return n;
        }
        for (int i = 0; i < count; i++) {
            m.memory().putShort(fds + i * 8L + 6, r.revents[i]);
        }
        return n;
    }

    static long select(Syscall c, long timeoutNanos) {
        int nfds = c.intArg(0);
        long readSet = c.arg(1);
        long writeSet = c.arg(2);
        long exceptSet = c.arg(3);
        if (nfds < 0) {
            return -Errno.EINVAL;
        }
        nfds = Math.min(nfds, FD_SETSIZE); // Linux cuts it at the fd table's size, which is this
        AddressSpace m = c.memory();
        int words = (nfds + 63) / 64;
        long[] read = new long[words];
        long[] write = new long[words];
        long[] except = new long[words];
        for (int w = 0; w < words; w++) {
            read[w] = readSet == 0 ? 0 : m.readLong(readSet + w * 8L);
            write[w] = writeSet == 0 ? 0 : m.readLong(writeSet + w * 8L);
            except[w] = exceptSet == 0 ? 0 : m.readLong(exceptSet + w * 8L);
        }
        Readiness r = c.waiter().readiness();
        int count = 0;
        int[] fdOf = r.fds;
        FileDescription listener = null;
        for (int fd = 0; fd < nfds; fd++) {
            long bit = 1L << (fd & 63);
            short ev = 0;
            if ((read[fd >> 6] & bit) != 0) {
                ev |= HostWaiter.POLLIN;
            }
            if ((write[fd >> 6] & bit) != 0) {
                ev |= HostWaiter.POLLOUT;
            }
            if ((except[fd >> 6] & bit) != 0) {
                ev |= HostWaiter.POLLPRI;
            }
            if (ev == 0) {
                continue;
            }
            FileDescription f = c.files().get(fd); // EBADF for a closed fd in a set, as select(2)
            if (f.isListener()) {
                listener = f;
            }
            r.files[count] = f;
            r.events[count] = ev;
            fdOf[count++] = fd;
        }
        long n = r.awaitOrFreeze(c, count, timeoutNanos, listener);
        if (n == Readiness.FROZEN) {
            return 0;
        }
        if (n < 0) {
            return n;
        }
        java.util.Arrays.fill(read, 0);
        java.util.Arrays.fill(write, 0);
        java.util.Arrays.fill(except, 0);
        int total = 0;
        for (int i = 0; i < count; i++) {
            int fd = fdOf[i];
            long bit = 1L << (fd & 63);
            short rv = r.revents[i];
            if ((rv & (HostWaiter.POLLIN | HostWaiter.POLLHUP | HostWaiter.POLLERR)) != 0
                    && (r.events[i] & HostWaiter.POLLIN) != 0) {
                read[fd >> 6] |= bit;
                total++;
            }
            if ((rv & (HostWaiter.POLLOUT | HostWaiter.POLLERR)) != 0 && (r.events[i] & HostWaiter.POLLOUT) != 0) {
                write[fd >> 6] |= bit;
                total++;
            }
            if ((rv & HostWaiter.POLLPRI) != 0 && (r.events[i] & HostWaiter.POLLPRI) != 0) {
                except[fd >> 6] |= bit;
                total++;
            }
        }
        for (int w = 0; w < words; w++) {
            if (readSet != 0) {
                m.writeLong(readSet + w * 8L, read[w]);
            }
            if (writeSet != 0) {
                m.writeLong(writeSet + w * 8L, write[w]);
            }
            if (exceptSet != 0) {
                m.writeLong(exceptSet + w * 8L, except[w]);
            }
        }
        return total;
    }

    /** Stands in for a negative fd in a poll array: takes part, never ready. */
    private static final class NeverReady extends FileDescription {
        static final NeverReady INSTANCE = new NeverReady();

        NeverReady() {
            super(0);
        }

        @Override
        public int pollHostFd(HostWaiter waiter) {
            return -1;
        }

        @Override
        public short readinessWithoutHost(short events) {
            return 0;
        }

        @Override
        public long stat(long hostStatBuffer) {
            return -Errno.EBADF;
        }

        @Override
        public FileDescription fork(ForkContext context) {
            return this;
        }

        @Override
        protected void closeHost() {
        }
    }
}
