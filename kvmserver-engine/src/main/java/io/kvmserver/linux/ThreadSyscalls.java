package io.kvmserver.linux;

import io.kvmserver.host.Errno;
import io.kvmserver.host.SyscallNumbers;

/**
 * Threads family: {@code clone} and {@code clone3} for threads, thread exit (with
 * {@code CLONE_CHILD_CLEARTID} and the robust futex list), {@code exit_group}, thread identity
 * and TLS ({@code gettid}, {@code set_tid_address}, {@code arch_prctl}, {@code rseq}), and
 * yielding. The threads share the VM's one vCPU ({@link Scheduler}). New processes are refused:
 * one program per VM is what makes a reset complete.
 */
final class ThreadSyscalls {

    static final long CLONE_VM = 0x100;
    static final long CLONE_FS = 0x200;
    static final long CLONE_FILES = 0x400;
    static final long CLONE_SIGHAND = 0x800;
    static final long CLONE_PIDFD = 0x1000;
    static final long CLONE_PTRACE = 0x2000;
    static final long CLONE_VFORK = 0x4000;
    static final long CLONE_PARENT = 0x8000;
    static final long CLONE_THREAD = 0x10000;
    static final long CLONE_NEWNS = 0x20000;
    static final long CLONE_SYSVSEM = 0x40000;
    static final long CLONE_SETTLS = 0x80000;
    static final long CLONE_PARENT_SETTID = 0x100000;
    static final long CLONE_CHILD_CLEARTID = 0x200000;
    static final long CLONE_DETACHED = 0x400000;
    static final long CLONE_UNTRACED = 0x800000;
    static final long CLONE_CHILD_SETTID = 0x1000000;
    static final long CLONE_NEWUSER = 0x10000000;
    static final long CLONE_IO = 0x80000000L;
    /** Namespace flags (cgroup, uts, ipc, user, pid, net, time): a sandboxed program gets none. */
    static final long CLONE_NAMESPACES = 0x02000000L | 0x04000000L | 0x08000000L | CLONE_NEWUSER | 0x20000000L
            | 0x40000000L | 0x80L | CLONE_NEWNS;
    /** What a thread of this process may be made with; glibc, Go, Rust and V8 use a subset. */
    private static final long THREAD_FLAGS = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD
            | CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID
            | CLONE_DETACHED | CLONE_PTRACE | CLONE_UNTRACED | CLONE_IO;
    private static final long CSIGNAL = 0xff;
    private static final int CLONE_ARGS_SIZE_VER0 = 64;
    private static final int CLONE_ARGS_SIZE_VER2 = 88;
    private static final long PAGE_SIZE = 4096;

    /** Threads a process may have at once; each costs the host a saved context (about 5 KiB). */
    static final int THREAD_LIMIT = 256;
    /** Entries of a robust futex list walked at thread exit, at most (the kernel's ROBUST_LIST_LIMIT). */
    private static final int ROBUST_LIST_LIMIT = 2048;
    private static final int ROBUST_LIST_HEAD_SIZE = 24;
    private static final int FUTEX_WAITERS = 0x80000000;
    private static final int FUTEX_OWNER_DIED = 0x40000000;
    private static final int FUTEX_TID_MASK = 0x3fffffff;

    private static final int ARCH_SET_GS = 0x1001;
    private static final int ARCH_SET_FS = 0x1002;
    private static final int ARCH_GET_FS = 0x1003;
    private static final int ARCH_GET_GS = 0x1004;
    private static final int ARCH_GET_CPUID = 0x1011;
    private static final int ARCH_SET_CPUID = 0x1012;
    static final long USER_LIMIT = 0x0000_8000_0000_0000L;

    private static final int MEMBARRIER_CMD_QUERY = 0;
    /** GLOBAL, GLOBAL_EXPEDITED (+REGISTER), PRIVATE_EXPEDITED (+REGISTER), and the SYNC_CORE and RSEQ pairs. */
    private static final int MEMBARRIER_SUPPORTED = 1 | 2 | 4 | 8 | 16 | 32 | 64 | 128 | 256;

    private ThreadSyscalls() {
    }

    static void register(SyscallTable t) {
        // The legacy call's flags are an int: Linux ignores the upper half (clone3's flags are 64 bits).
        t.register(SyscallNumbers.CLONE, c -> clone(c, c.arg(0) & 0xffffffffL & ~CSIGNAL, c.arg(0) & CSIGNAL,
                c.arg(1), c.arg(2), c.arg(3), c.arg(4)));
        t.register(SyscallNumbers.CLONE3, ThreadSyscalls::clone3);
        t.register(SyscallNumbers.FORK, c -> refuseProcess(c, "fork"));
        t.register(SyscallNumbers.VFORK, c -> refuseProcess(c, "vfork"));
        t.register(SyscallNumbers.EXIT, ThreadSyscalls::exit);
        t.register(SyscallNumbers.EXIT_GROUP, c -> {
            c.requestExit(c.intArg(0) & 0xff);
            return 0;
        });
        t.register(SyscallNumbers.GETTID, c -> c.thread().tid());
        t.register(SyscallNumbers.SET_TID_ADDRESS, c -> {
            c.thread().setClearChildTid(c.arg(0));
            return c.thread().tid();
        });
        t.register(SyscallNumbers.SET_ROBUST_LIST, c -> {
            if (c.arg(1) != ROBUST_LIST_HEAD_SIZE) {
                return -Errno.EINVAL;
            }
            c.thread().setRobustList(c.arg(0));
            return 0;
        });
        t.register(SyscallNumbers.GET_ROBUST_LIST, ThreadSyscalls::getRobustList);
        t.register(SyscallNumbers.ARCH_PRCTL, ThreadSyscalls::archPrctl);
        t.register(SyscallNumbers.RSEQ, ThreadSyscalls::rseq);
        t.register(SyscallNumbers.SCHED_YIELD, c -> {
            c.requestYield();
            return 0;
        });
        t.register(SyscallNumbers.MEMBARRIER, ThreadSyscalls::membarrier);
    }

    static long clone3(Syscall c) {
        long size = c.arg(1);
        if (size < CLONE_ARGS_SIZE_VER0) {
            return -Errno.EINVAL;
        }
        if (size > PAGE_SIZE) {
            return -Errno.E2BIG;
        }
        AddressSpace m = c.memory();
        long at = c.arg(0);
        // A newer program's larger struct is fine as long as what we do not know is zero.
        for (long off = CLONE_ARGS_SIZE_VER2; off + 8 <= size; off += 8) {
            if (m.readLong(at + off) != 0) {
                return -Errno.E2BIG;
            }
        }
        long flags = m.readLong(at);
        long childTid = m.readLong(at + 16);
        long parentTid = m.readLong(at + 24);
        long exitSignal = m.readLong(at + 32);
        long stack = m.readLong(at + 40);
        long stackSize = m.readLong(at + 48);
        long tls = m.readLong(at + 56);
        long setTidSize = size >= 80 ? m.readLong(at + 72) : 0;
        long cgroup = size >= CLONE_ARGS_SIZE_VER2 ? m.readLong(at + 80) : 0;
        if ((exitSignal & ~CSIGNAL) != 0 || (flags >>> 32) != 0 || setTidSize != 0 || cgroup != 0
                || (stack == 0) != (stackSize == 0) || !userRange(stack, stackSize)) {
            return -Errno.EINVAL;
        }
        return clone(c, flags, exitSignal, stack == 0 ? 0 : stack + stackSize, parentTid, childTid, tls);
    }

    /** Whether [start, start + length) lies in user space without wrapping: Linux's access_ok of a clone3 stack. */
    private static boolean userRange(long start, long length) {
        return Long.compareUnsigned(length, AddressSpace.TASK_SIZE_MAX) <= 0
                && Long.compareUnsigned(start, AddressSpace.TASK_SIZE_MAX - length) <= 0;
    }

    /**
     * A new thread of this process, which starts where the caller returns, with RAX 0, on
     * {@code stack}, with {@code tls} as its FS base. Anything that would make a new process
     * (no {@code CLONE_VM} or no {@code CLONE_THREAD}) is refused.
     */
    static long clone(Syscall c, long flags, long exitSignal, long stack, long parentTid, long childTid, long tls) {
        if ((flags & (CLONE_THREAD | CLONE_SIGHAND)) == CLONE_THREAD
                || (flags & (CLONE_SIGHAND | CLONE_VM)) == CLONE_SIGHAND
                || (flags & (CLONE_NEWNS | CLONE_FS)) == (CLONE_NEWNS | CLONE_FS)
                || (flags & (CLONE_NEWUSER | CLONE_FS)) == (CLONE_NEWUSER | CLONE_FS)
                || (flags & (CLONE_PIDFD | CLONE_THREAD)) == (CLONE_PIDFD | CLONE_THREAD)) {
            return -Errno.EINVAL;
        }
        if ((flags & CLONE_NAMESPACES) != 0) {
            return -Errno.EPERM;
        }
        if ((flags & (CLONE_VM | CLONE_THREAD)) != (CLONE_VM | CLONE_THREAD)) {
            return refuseProcess(c, (flags & CLONE_VFORK) != 0 ? "vfork" : "fork");
        }
        if ((flags & ~THREAD_FLAGS) != 0 || (flags & (CLONE_FS | CLONE_FILES)) != (CLONE_FS | CLONE_FILES)) {
            return -Errno.EINVAL; // a thread with its own fd table or cwd: not something runtimes make
        }
        if ((flags & CLONE_SETTLS) != 0 && Long.compareUnsigned(tls, TASK_SIZE_MAX) >= 0) {
            return -Errno.EPERM;
        }
        Scheduler s = c.process().scheduler();
        GuestThread parent = c.thread();
        UserContext ctx = new UserContext();
        c.cpu().capture(ctx);
        GuestThread child = s.create(THREAD_LIMIT, ctx);
        if (child == null) {
            return -Errno.EAGAIN;
        }
        UserContext cc = child.context();
        cc.set(UserContext.RAX, 0);
        if (stack != 0) {
            cc.set(UserContext.RSP, stack);
        }
        if ((flags & CLONE_SETTLS) != 0) {
            cc.fsBase = tls;
        }
        child.setBlocked(parent.blocked());
        if ((flags & CLONE_CHILD_CLEARTID) != 0) {
            child.setClearChildTid(childTid);
        }
        int tid = child.tid();
        // Linux writes both ids and ignores a bad pointer: the thread exists either way.
        if ((flags & CLONE_PARENT_SETTID) != 0) {
            writeTidQuietly(c.memory(), parentTid, tid);
        }
        if ((flags & CLONE_CHILD_SETTID) != 0) {
            writeTidQuietly(c.memory(), childTid, tid);
        }
        return tid;
    }

    private static void writeTidQuietly(AddressSpace m, long address, int tid) {
        try {
            m.writeInt(address, tid);
        } catch (SyscallError e) {
            // as put_user's result is ignored by the kernel
        }
    }

    /**
     * fork, vfork and clone without a shared address space: recorded as a denial the user sees,
     * and {@code EAGAIN}, what Linux answers at the process limit: every runtime takes that for a
     * failed spawn it reports to its caller (node throws on anything else, ENOSYS included).
     */
    static long refuseProcess(Syscall c, String how) {
        c.kernel().denials().record(Denials.Kind.PROCESS, how);
        return -Errno.EAGAIN;
    }

    /** exit: ends the calling thread; the last thread's exit ends the program. */
    static long exit(Syscall c) {
        Scheduler s = c.process().scheduler();
        if (s.liveCount() <= 1) {
            c.requestExit(c.intArg(0) & 0xff);
            return 0;
        }
        GuestThread t = c.thread();
        releaseRobustFutexes(c, t);
        long clear = t.clearChildTid();
        if (clear != 0) {
            try {
                c.memory().writeInt(clear, 0);
                s.wakeFutex(clear, 1, -1);
            } catch (SyscallError e) {
                // Linux ignores a bad clear_child_tid too
            }
        }
        s.exit(t);
        c.markThreadExited();
        return 0;
    }

    /**
     * The robust futex list of an exiting thread (set_robust_list): each lock it still holds gets
     * FUTEX_OWNER_DIED, and one waiter is woken, so that a robust mutex's next owner gets
     * {@code EOWNERDEAD} instead of waiting forever. A corrupt list ends the walk, as on Linux.
     */
    private static void releaseRobustFutexes(Syscall c, GuestThread t) {
        long head = t.robustList();
        if (head == 0) {
            return;
        }
        AddressSpace m = c.memory();
        try {
            long entry = m.readLong(head);
            long offset = m.readLong(head + 8);
            long pending = m.readLong(head + 16);
            for (int i = 0; i < ROBUST_LIST_LIMIT && entry != head; i++) {
                long next = m.readLong(entry & ~1L);
                if (entry != pending) {
                    ownerDied(c, t, (entry & ~1L) + offset);
                }
                entry = next;
            }
            if (pending != 0) {
                ownerDied(c, t, (pending & ~1L) + offset);
            }
        } catch (SyscallError e) {
            // an unreadable list: stop, as the kernel does
        }
    }

    private static void ownerDied(Syscall c, GuestThread t, long address) {
        if ((address & 3) != 0) {
            return;
        }
        int word = c.memory().readInt(address);
        if ((word & FUTEX_TID_MASK) != t.tid()) {
            return;
        }
        c.memory().writeInt(address, (word & FUTEX_WAITERS) | FUTEX_OWNER_DIED);
        if ((word & FUTEX_WAITERS) != 0) {
            c.process().scheduler().wakeFutex(address, 1, -1);
        }
    }

    static long getRobustList(Syscall c) {
        long pid = c.arg(0);
        GuestThread t = pid == 0 ? c.thread() : c.process().scheduler().find(pid);
        if (t == null) {
            return -Errno.ESRCH;
        }
        c.memory().writeLong(c.arg(1), t.robustList());
        c.memory().writeLong(c.arg(2), ROBUST_LIST_HEAD_SIZE);
        return 0;
    }

    /** Linux's highest user address plus one for a segment base: the last page below 2^47 is not user space. */
    private static final long TASK_SIZE_MAX = (1L << 47) - 4096;

    static long archPrctl(Syscall c) {
        int code = c.intArg(0);
        long addr = c.arg(1);
        UserContext ctx = c.thread().context();
        switch (code) {
            case ARCH_SET_FS, ARCH_SET_GS -> {
                if (Long.compareUnsigned(addr, TASK_SIZE_MAX) >= 0) {
                    return -Errno.EPERM;
                }
                if (code == ARCH_SET_FS) {
                    ctx.fsBase = addr;
                } else {
                    ctx.gsBase = addr;
                }
                c.markSegmentBasesChanged();
                return 0;
            }
            case ARCH_GET_FS -> {
                c.memory().writeLong(addr, ctx.fsBase);
                return 0;
            }
            case ARCH_GET_GS -> {
                c.memory().writeLong(addr, ctx.gsBase);
                return 0;
            }
            case ARCH_GET_CPUID -> {
                return 1;
            }
            case ARCH_SET_CPUID -> {
                return -Errno.ENODEV;
            }
            default -> {
                return -Errno.EINVAL;
            }
        }
    }

    /**
     * rseq: registers the thread's area (reporting CPU 0, the only one the VM has) and the
     * signature its abort handlers carry; a critical section the thread is preempted or signalled
     * in is aborted ({@link Rseq}).
     */
    static long rseq(Syscall c) {
        long area = c.arg(0);
        long length = c.arg(1) & 0xffffffffL;
        int flags = c.intArg(2);
        int signature = c.intArg(3);
        GuestThread t = c.thread();
        if ((flags & ~1) != 0) {
            return -Errno.EINVAL;
        }
        if (flags == 1) { // RSEQ_FLAG_UNREGISTER
            if (t.rseqArea() == 0 || t.rseqArea() != area || length != t.rseqLength()) {
                return -Errno.EINVAL;
            }
            if (signature != t.rseqSignature()) {
                return -Errno.EPERM;
            }
            t.setRseqArea(0, 0, 0);
            return 0;
        }
        if (t.rseqArea() != 0) {
            // As Linux: the same registration again is EBUSY, with another signature EPERM.
            if (t.rseqArea() != area || length != t.rseqLength()) {
                return -Errno.EINVAL;
            }
            return signature != t.rseqSignature() ? -Errno.EPERM : -Errno.EBUSY;
        }
        if (length < Rseq.AREA_SIZE || (area & (Rseq.AREA_SIZE - 1)) != 0) {
            return -Errno.EINVAL;
        }
        c.memory().check(area, 32, AddressSpace.PROT_READ | AddressSpace.PROT_WRITE);
        c.memory().writeInt(area, 0); // cpu_id_start
        c.memory().writeInt(area + 4, 0); // cpu_id
        t.setRseqArea(area, length, signature);
        return 0;
    }

    /**
     * membarrier: with one vCPU, every thread already sees every other's writes in program order
     * by the time it runs, so each command is done the moment it is asked for.
     */
    static long membarrier(Syscall c) {
        int cmd = c.intArg(0);
        int flags = c.intArg(1);
        if (cmd == MEMBARRIER_CMD_QUERY) {
            return flags != 0 ? -Errno.EINVAL : MEMBARRIER_SUPPORTED;
        }
        if (Integer.bitCount(cmd) != 1 || (cmd & MEMBARRIER_SUPPORTED) == 0) {
            return -Errno.EINVAL;
        }
        return 0;
    }
}
