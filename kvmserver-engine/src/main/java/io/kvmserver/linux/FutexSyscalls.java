package io.kvmserver.linux;

import io.kvmserver.host.Errno;
import io.kvmserver.host.SyscallNumbers;

/**
 * futex(2): the operations glibc, Go, Rust and V8 build their locks, condition variables and
 * thread joins on. A waiter parks in the {@link Scheduler}'s queue for the futex word's address
 * (private and shared futexes alike: there is one process), so a wake costs no host call.
 * Priority-inheritance operations answer {@code ENOSYS}, as on a kernel built without them.
 */
final class FutexSyscalls {

    static final int FUTEX_WAIT = 0;
    static final int FUTEX_WAKE = 1;
    static final int FUTEX_REQUEUE = 3;
    static final int FUTEX_CMP_REQUEUE = 4;
    static final int FUTEX_WAKE_OP = 5;
    static final int FUTEX_WAIT_BITSET = 9;
    static final int FUTEX_WAKE_BITSET = 10;
    static final int FUTEX_WAIT_REQUEUE_PI = 11;
    static final int FUTEX_LOCK_PI2 = 13;
    private static final int FUTEX_PRIVATE_FLAG = 128;
    private static final int FUTEX_CLOCK_REALTIME = 256;
    /** The command of an op word: its flags ({@code FUTEX_PRIVATE_FLAG}, {@code FUTEX_CLOCK_REALTIME}) aside. */
    static final int FUTEX_CMD_MASK = ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    private static final int FUTEX_BITSET_MATCH_ANY = -1;
    private static final int CLOCK_REALTIME = 0;
    private static final int CLOCK_MONOTONIC = 1;

    private FutexSyscalls() {
    }

    static void register(SyscallTable t) {
        t.register(SyscallNumbers.FUTEX, FutexSyscalls::futex);
    }

    static long futex(Syscall c) {
        long uaddr = c.arg(0);
        int opWord = c.intArg(1);
        int op = opWord & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
        int val = c.intArg(2);
        boolean realtime = (opWord & FUTEX_CLOCK_REALTIME) != 0;
        // As Linux 6.x has it (checked natively): FUTEX_WAIT itself takes no CLOCK_REALTIME.
        if (realtime && op != FUTEX_WAIT_BITSET && op != FUTEX_WAIT_REQUEUE_PI && op != FUTEX_LOCK_PI2) {
            return -Errno.ENOSYS;
        }
        if ((uaddr & 3) != 0) {
            return -Errno.EINVAL;
        }
        boolean shared = (opWord & FUTEX_PRIVATE_FLAG) == 0;
        switch (op) {
            case FUTEX_WAIT -> {
                long timeout = c.arg(3) == 0 ? -1 : GuestTime.timespec(c.memory(), c.arg(3));
                return timeout == GuestTime.INVALID ? -Errno.EINVAL
                        : wait(c, uaddr, val, timeout, FUTEX_BITSET_MATCH_ANY);
            }
            case FUTEX_WAIT_BITSET -> {
                int bitset = c.intArg(5);
                if (bitset == 0) {
                    return -Errno.EINVAL;
                }
                long timeout = c.arg(3) == 0 ? -1
                        : absoluteTimeout(c, c.arg(3), realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC);
                return timeout == GuestTime.INVALID ? -Errno.EINVAL : wait(c, uaddr, val, timeout, bitset);
            }
            case FUTEX_WAKE -> {
                return sharedKeyFault(c, shared, uaddr) ? -Errno.EFAULT : wake(c, uaddr, val, FUTEX_BITSET_MATCH_ANY);
            }
            case FUTEX_WAKE_BITSET -> {
                int bitset = c.intArg(5);
                return bitset == 0 ? -Errno.EINVAL
                        : sharedKeyFault(c, shared, uaddr) ? -Errno.EFAULT : wake(c, uaddr, val, bitset);
            }
            case FUTEX_REQUEUE, FUTEX_CMP_REQUEUE -> {
                return requeue(c, uaddr, val, c.arg(4), c.intArg(3), op == FUTEX_CMP_REQUEUE, c.intArg(5));
            }
            case FUTEX_WAKE_OP -> {
                return wakeOp(c, uaddr, val, c.arg(4), c.intArg(3), c.intArg(5));
            }
            default -> {
                return -Errno.ENOSYS;
            }
        }
    }

    /**
     * Whether a wake of a shared futex finds no page at {@code uaddr}: a shared futex's key is
     * its page, which Linux looks up ({@code EFAULT} for none), where a private one's is the
     * address alone (a private wake never looks at the memory). The waits read the word anyway.
     */
    private static boolean sharedKeyFault(Syscall c, boolean shared, long uaddr) {
        if (!shared) {
            return false;
        }
        try {
            c.memory().check(uaddr, 4, AddressSpace.PROT_READ);
            return false;
        } catch (SyscallError e) {
            return true;
        }
    }

    /**
     * FUTEX_WAIT: if the word still holds {@code expected}, the thread parks until a wake, the
     * timeout, or a signal; otherwise {@code EAGAIN} at once (the waker already changed it).
     */
    private static long wait(Syscall c, long uaddr, int expected, long timeoutNanos, int bitset) {
        int current = c.memory().readInt(uaddr);
        if (current != expected) {
            return -Errno.EAGAIN;
        }
        long deadline = c.waiter().deadlineAfter(timeoutNanos);
        if (deadline != Deadline.NEVER && Deadline.remaining(deadline) == 0) {
            return -Errno.ETIMEDOUT;
        }
        c.waiter().recordFutex(uaddr, bitset, deadline);
        return Syscall.RESTART;
    }

    /**
     * FUTEX_WAKE: wakes up to {@code count} waiters (Linux wakes one even for 0 or a negative
     * count, and so do we). The word's address need only be a user address: a private wake does
     * not look at the memory.
     */
    private static long wake(Syscall c, long uaddr, int count, int bitset) {
        if (!userAddress(uaddr)) {
            return -Errno.EFAULT;
        }
        return c.process().scheduler().wakeFutex(uaddr, Math.max(1, count), bitset);
    }

    /**
     * Whether a futex word's address is a user address. Wakes and requeues key the scheduler's
     * queues by address without reading the word, so an address Linux would fault on must be
     * refused here (a negative key would read as "in no queue" and leave a waiter queued for good).
     */
    private static boolean userAddress(long uaddr) {
        return Long.compareUnsigned(uaddr, ThreadSyscalls.USER_LIMIT) < 0;
    }

    private static long requeue(Syscall c, long uaddr, int wake, long uaddr2, int move, boolean compare,
            int expected) {
        if (wake < 0 || move < 0) {
            return -Errno.EINVAL;
        }
        if ((uaddr2 & 3) != 0) {
            return -Errno.EINVAL;
        }
        if (!userAddress(uaddr) || !userAddress(uaddr2)) {
            return -Errno.EFAULT;
        }
        if (compare && c.memory().readInt(uaddr) != expected) {
            return -Errno.EAGAIN;
        }
        return c.process().scheduler().requeueFutex(uaddr, wake, uaddr2, move);
    }

    /**
     * FUTEX_WAKE_OP: changes the second word, wakes waiters on the first, and waiters on the second
     * too if its old value passes the comparison; how glibc's condition variables once signalled.
     */
    private static long wakeOp(Syscall c, long uaddr, int wake, long uaddr2, int wake2, int encoded) {
        int op = (encoded >>> 28) & 7;
        boolean shift = ((encoded >>> 28) & 8) != 0;
        int cmp = (encoded >>> 24) & 15;
        int oparg = (encoded << 8) >> 20;
        int cmparg = (encoded << 20) >> 20;
        if (op > 4 || cmp > 5) {
            return -Errno.ENOSYS;
        }
        if ((uaddr2 & 3) != 0) {
            return -Errno.EINVAL;
        }
        if (!userAddress(uaddr)) {
            return -Errno.EFAULT;
        }
        if (shift) {
            oparg = 1 << (oparg & 31);
        }
        AddressSpace m = c.memory();
        m.check(uaddr2, 4, AddressSpace.PROT_READ | AddressSpace.PROT_WRITE);
        int old = m.readInt(uaddr2);
        m.writeInt(uaddr2, switch (op) {
            case 0 -> oparg;
            case 1 -> old + oparg;
            case 2 -> old | oparg;
            case 3 -> old & ~oparg;
            default -> old ^ oparg;
        });
        Scheduler s = c.process().scheduler();
        long woken = s.wakeFutex(uaddr, Math.max(1, wake), FUTEX_BITSET_MATCH_ANY);
        boolean condition = switch (cmp) {
            case 0 -> old == cmparg;
            case 1 -> old != cmparg;
            case 2 -> old < cmparg;
            case 3 -> old <= cmparg;
            case 4 -> old > cmparg;
            default -> old >= cmparg;
        };
        if (condition) {
            woken += s.wakeFutex(uaddr2, Math.max(1, wake2), FUTEX_BITSET_MATCH_ANY);
        }
        return woken;
    }

    /**
     * An absolute timespec on {@code clock} as nanoseconds from now (0 when past);
     * {@link GuestTime#INVALID} when invalid.
     */
    static long absoluteTimeout(Syscall c, long timespec, int clock) {
        long at = GuestTime.timespec(c.memory(), timespec);
        if (at == GuestTime.INVALID) {
            return at;
        }
        return Math.max(0, at - HostClock.now(clock));
    }
}
