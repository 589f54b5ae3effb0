package io.kvmserver.linux;

import io.kvmserver.host.SyscallNumbers;

import io.kvmserver.host.Errno;

import com.sun.jna.LastErrorException;
import io.kvmserver.host.LibC;
import java.nio.charset.StandardCharsets;

/**
 * Process family: identity, exit, thread-area setup glibc performs at start, limits, randomness,
 * and the calls a sandboxed program is refused ({@code execve}, {@code fork}, {@code ptrace}, ...).
 */
final class ProcessSyscalls {

    private static final int ARCH_SET_GS = 0x1001;
    private static final int ARCH_SET_FS = 0x1002;
    private static final int ARCH_GET_FS = 0x1003;
    private static final int ARCH_GET_GS = 0x1004;
    private static final int ARCH_GET_CPUID = 0x1011;
    private static final int ARCH_SET_CPUID = 0x1012;
    private static final long USER_LIMIT = 0x0000_8000_0000_0000L;
    private static final int FUTEX_WAIT = 0;
    private static final int FUTEX_WAKE = 1;
    private static final int FUTEX_WAIT_BITSET = 9;
    private static final int FUTEX_WAKE_BITSET = 10;
    private static final int FUTEX_CMD_MASK = ~(128 | 256); // PRIVATE, CLOCK_REALTIME
    private static final int GRND_NONBLOCK = 1;
    private static final int GRND_RANDOM = 2;
    private static final int GRND_INSECURE = 4;
    private static final int UID = 1000;

    private ProcessSyscalls() {
    }

    static void register(SyscallTable t) {
        t.register(SyscallNumbers.EXIT, c -> exit(c));
        t.register(SyscallNumbers.EXIT_GROUP, c -> exit(c));
        t.register(SyscallNumbers.ARCH_PRCTL, ProcessSyscalls::archPrctl);
        t.register(SyscallNumbers.SET_TID_ADDRESS, c -> {
            c.process().setClearChildTid(c.arg(0));
            return LinuxProcess.PID;
        });
        t.register(SyscallNumbers.SET_ROBUST_LIST, c -> {
            if (c.arg(1) != 24) {
                return -Errno.EINVAL;
            }
            c.process().setRobustList(c.arg(0));
            return 0;
        });
        t.register(SyscallNumbers.GET_ROBUST_LIST, c -> -Errno.EPERM);
        t.register(SyscallNumbers.RSEQ, ProcessSyscalls::rseq);
        t.register(SyscallNumbers.PRLIMIT64, ProcessSyscalls::prlimit64);
        // getrlimit/setrlimit share prlimit64's code, where NULL means "not given"; their own
        // pointer is required, so NULL is EFAULT (getrlimit(2)).
        t.register(SyscallNumbers.GETRLIMIT, c -> c.arg(1) == 0 ? -Errno.EFAULT : prlimit(c, c.intArg(0), 0, c.arg(1)));
        t.register(SyscallNumbers.SETRLIMIT, c -> c.arg(1) == 0 ? -Errno.EFAULT : prlimit(c, c.intArg(0), c.arg(1), 0));
        t.register(SyscallNumbers.UNAME, ProcessSyscalls::uname);
        t.register(SyscallNumbers.GETPID, c -> LinuxProcess.PID);
        t.register(SyscallNumbers.GETTID, c -> LinuxProcess.PID);
        t.register(SyscallNumbers.GETPPID, c -> 0);
        t.register(SyscallNumbers.GETPGRP, c -> LinuxProcess.PID);
        t.register(SyscallNumbers.GETPGID, c -> LinuxProcess.PID);
        t.register(SyscallNumbers.GETSID, c -> LinuxProcess.PID);
        t.register(SyscallNumbers.SETSID, c -> -Errno.EPERM);
        t.register(SyscallNumbers.GETUID, c -> UID);
        t.register(SyscallNumbers.GETEUID, c -> UID);
        t.register(SyscallNumbers.GETGID, c -> UID);
        t.register(SyscallNumbers.GETEGID, c -> UID);
        t.register(SyscallNumbers.GETRESUID, c -> getres(c));
        t.register(SyscallNumbers.GETRESGID, c -> getres(c));
        t.register(SyscallNumbers.GETGROUPS, c -> 0);
        t.register(SyscallNumbers.SETUID, c -> c.arg(0) == UID ? 0 : -Errno.EPERM);
        t.register(SyscallNumbers.SETGID, c -> c.arg(0) == UID ? 0 : -Errno.EPERM);
        t.register(SyscallNumbers.SCHED_GETAFFINITY, ProcessSyscalls::schedGetaffinity);
        t.register(SyscallNumbers.SCHED_SETAFFINITY, c -> 0);
        t.register(SyscallNumbers.SCHED_YIELD, c -> 0);
        t.register(SyscallNumbers.SCHED_GETSCHEDULER, c -> 0);
        t.register(SyscallNumbers.SCHED_GETPARAM, c -> {
            if (c.arg(1) == 0) {
                return -Errno.EINVAL; // sched_getparam(2): "param is NULL"
            }
            c.memory().writeInt(c.arg(1), 0);
            return 0;
        });
        t.register(SyscallNumbers.GETPRIORITY, c -> 20);
        t.register(SyscallNumbers.SETPRIORITY, c -> 0);
        t.register(SyscallNumbers.GETCPU, ProcessSyscalls::getcpu);
        t.register(SyscallNumbers.GETRANDOM, ProcessSyscalls::getrandom);
        t.register(SyscallNumbers.PRCTL, ProcessSyscalls::prctl);
        t.register(SyscallNumbers.FUTEX, ProcessSyscalls::futex);
        t.register(SyscallNumbers.SYSINFO, ProcessSyscalls::sysinfo);
        t.register(SyscallNumbers.GETRUSAGE, c -> {
            c.memory().writeBytes(c.arg(1), new byte[144]);
            return 0;
        });
        // Refused: one VM is one process, and nothing in it may reach the host's processes.
        for (int nr : new int[] {SyscallNumbers.EXECVE, SyscallNumbers.EXECVEAT}) {
            t.register(nr, c -> -Errno.EACCES);
        }
        for (int nr : new int[] {SyscallNumbers.FORK, SyscallNumbers.VFORK, SyscallNumbers.CLONE,
            SyscallNumbers.CLONE3}) {
            t.register(nr, c -> -Errno.EAGAIN);
        }
        t.register(SyscallNumbers.WAIT4, c -> -Errno.ECHILD);
        t.register(SyscallNumbers.WAITID, c -> -Errno.ECHILD);
        for (int nr : new int[] {SyscallNumbers.PTRACE, SyscallNumbers.MOUNT, SyscallNumbers.UMOUNT2,
            SyscallNumbers.PIVOT_ROOT, SyscallNumbers.CHROOT, SyscallNumbers.REBOOT, SyscallNumbers.SWAPON,
            SyscallNumbers.SWAPOFF, SyscallNumbers.INIT_MODULE, SyscallNumbers.FINIT_MODULE,
            SyscallNumbers.DELETE_MODULE, SyscallNumbers.KEXEC_LOAD, SyscallNumbers.SETNS, SyscallNumbers.UNSHARE,
            SyscallNumbers.IOPL, SyscallNumbers.IOPERM, SyscallNumbers.PROCESS_VM_READV,
            SyscallNumbers.PROCESS_VM_WRITEV, SyscallNumbers.BPF, SyscallNumbers.PERF_EVENT_OPEN,
            SyscallNumbers.SETTIMEOFDAY, SyscallNumbers.CLOCK_SETTIME, SyscallNumbers.SETHOSTNAME,
            SyscallNumbers.SETDOMAINNAME, SyscallNumbers.ACCT, SyscallNumbers.QUOTACTL, SyscallNumbers.MKNOD,
            SyscallNumbers.MKNODAT, SyscallNumbers.USERFAULTFD, SyscallNumbers.KEYCTL, SyscallNumbers.ADD_KEY,
            SyscallNumbers.REQUEST_KEY}) {
            t.register(nr, c -> -Errno.EPERM);
        }
    }

    static long exit(Syscall c) {
        c.requestExit(c.intArg(0) & 0xff);
        return 0;
    }

    static long archPrctl(Syscall c) {
        int code = c.intArg(0);
        long addr = c.arg(1);
        switch (code) {
            case ARCH_SET_FS, ARCH_SET_GS -> {
                if (addr < 0 || addr >= USER_LIMIT) {
                    return -Errno.EPERM;
                }
                if (code == ARCH_SET_FS) {
                    c.process().setFsBase(addr);
                } else {
                    c.process().setGsBase(addr);
                }
                c.markSegmentBasesChanged();
                return 0;
            }
            case ARCH_GET_FS -> {
                c.memory().writeLong(addr, c.process().fsBase());
                return 0;
            }
            case ARCH_GET_GS -> {
                c.memory().writeLong(addr, c.process().gsBase());
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

    /** rseq: accept the registration and report CPU 0, the only one the VM has. */
    static long rseq(Syscall c) {
        long area = c.arg(0);
        long length = c.arg(1) & 0xffffffffL;
        int flags = c.intArg(2);
        if (flags == 1) { // RSEQ_FLAG_UNREGISTER
            if (c.process().rseqArea() != area) {
                return -Errno.EINVAL;
            }
            c.process().setRseqArea(0);
            return 0;
        }
        if (flags != 0 || length < 32 || (area & 31) != 0) {
            return -Errno.EINVAL;
        }
        if (c.process().rseqArea() != 0) {
            return c.process().rseqArea() == area ? -Errno.EBUSY : -Errno.EINVAL;
        }
        c.memory().check(area, 32, AddressSpace.PROT_READ | AddressSpace.PROT_WRITE);
        c.memory().writeInt(area, 0); // cpu_id_start
        c.memory().writeInt(area + 4, 0); // cpu_id
        c.process().setRseqArea(area);
        return 0;
    }

    static long prlimit64(Syscall c) {
        if (c.arg(0) != 0 && c.arg(0) != LinuxProcess.PID) {
            return -Errno.ESRCH;
        }
        return prlimit(c, c.intArg(1), c.arg(2), c.arg(3));
    }

    private static long prlimit(Syscall c, int resource, long newLimit, long oldLimit) {
        if (resource < 0 || resource >= Rlimits.COUNT) {
            return -Errno.EINVAL;
        }
        long[] cur = c.process().rlimitCur();
        long[] max = c.process().rlimitMax();
        long newCur = 0;
        long newMax = 0;
        if (newLimit != 0) {
            newCur = c.memory().readLong(newLimit);
            newMax = c.memory().readLong(newLimit + 8);
            if (Long.compareUnsigned(newCur, newMax) > 0) {
                return -Errno.EINVAL;
            }
            if (Long.compareUnsigned(newMax, max[resource]) > 0) {
                return -Errno.EPERM;
            }
        }
        if (oldLimit != 0) {
            c.memory().writeLong(oldLimit, cur[resource]);
            c.memory().writeLong(oldLimit + 8, max[resource]);
        }
        if (newLimit != 0) {
            cur[resource] = newCur;
            max[resource] = newMax;
        }
        return 0;
    }

    static long uname(Syscall c) {
        byte[] buf = new byte[6 * 65];
        String[] fields = {"Linux", "kvmserver", "6.1.0", "#1 SMP kvmserver", "x86_64", "(none)"};
        for (int i = 0; i < fields.length; i++) {
            byte[] f = fields[i].getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(f, 0, buf, i * 65, f.length);
        }
        c.memory().writeBytes(c.arg(0), buf);
        return 0;
    }

    static long getres(Syscall c) {
        for (int i = 0; i < 3; i++) {
            c.memory().writeInt(c.arg(i), UID);
        }
        return 0;
    }

    static long schedGetaffinity(Syscall c) {
        long size = c.arg(1);
        if (size < 8 || (size & 7) != 0) {
            return -Errno.EINVAL;
        }
        c.memory().writeLong(c.arg(2), 1); // CPU 0 only: one vCPU per VM
        return 8;
    }

    static long getcpu(Syscall c) {
        if (c.arg(0) != 0) {
            c.memory().writeInt(c.arg(0), 0);
        }
        if (c.arg(1) != 0) {
            c.memory().writeInt(c.arg(1), 0);
        }
        return 0;
    }

    /** Fresh randomness from the host for every call, in every VM (the template's is shared). */
    static long getrandom(Syscall c) {
        long length = c.arg(1);
        int flags = c.intArg(2);
        if ((flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)) != 0
                || (flags & (GRND_RANDOM | GRND_INSECURE)) == (GRND_RANDOM | GRND_INSECURE)) {
            return -Errno.EINVAL;
        }
        long count = Math.min(length, 33554431L);
        if (length < 0) {
            return -Errno.EINVAL;
        }
        long host = c.memory().writable(c.arg(0), count);
        try {
            return LibC.syscall(SyscallNumbers.GETRANDOM, host, count, GRND_NONBLOCK, 0, 0, 0);
        } catch (LastErrorException e) {
            return -e.getErrorCode();
        }
    }

    static long prctl(Syscall c) {
        int option = c.intArg(0);
        if (CapabilitySyscalls.isPrctlOption(option)) {
            return CapabilitySyscalls.prctl(c, option);
        }
        return switch (option) {
            case 15 -> { // PR_SET_NAME
                c.memory().readCString(c.arg(1), 16 + 4096);
                yield 0;
            }
            case 16 -> { // PR_GET_NAME
                c.memory().writeBytes(c.arg(1), "kvmserver\0\0\0\0\0\0\0".getBytes(StandardCharsets.US_ASCII));
                yield 0;
            }
            case 1, 38, 4, 36 -> 0; // PDEATHSIG, NO_NEW_PRIVS, SET_DUMPABLE, CHILD_SUBREAPER
            case 3 -> 0; // PR_GET_DUMPABLE
            case 39 -> 1; // PR_GET_NO_NEW_PRIVS: always, in a sandbox
            case 22, 21 -> option == 21 ? 2 : -Errno.EINVAL; // seccomp: report filter mode, refuse new
            case 0x53564d41 -> 0; // PR_SET_VMA (naming anonymous memory)
            default -> -Errno.EINVAL;
        };
    }

    /**
     * futex, as far as one thread needs it: a wait whose value no longer matches returns
     * {@code EAGAIN}; a wait that matches could never be woken (there is no other thread), so it
     * is a deadlock, which Linux would let hang: we return {@code ETIMEDOUT} when there is a
     * timeout and {@code EDEADLK} otherwise so that the program fails instead of hanging.
     */
    static long futex(Syscall c) {
        long uaddr = c.arg(0);
        int op = c.intArg(1) & FUTEX_CMD_MASK;
        int value = c.intArg(2);
        if ((uaddr & 3) != 0) {
            return -Errno.EINVAL;
        }
        switch (op) {
            case FUTEX_WAIT, FUTEX_WAIT_BITSET -> {
                int current = c.memory().readInt(uaddr);
                if (current != value) {
                    return -Errno.EAGAIN;
                }
                return c.arg(3) != 0 ? -Errno.ETIMEDOUT : -Errno.EDEADLK;
            }
            case FUTEX_WAKE, FUTEX_WAKE_BITSET -> {
                c.memory().check(uaddr, 4, AddressSpace.PROT_READ);
                return 0;
            }
            default -> {
                return -Errno.ENOSYS;
            }
        }
    }

    static long sysinfo(Syscall c) {
        byte[] info = new byte[112];
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(info).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, System.nanoTime() / 1_000_000_000L); // uptime
        // The program's memory is what it may map accessible (max-main-memory), not its address range.
        b.putLong(32, c.memory().maxAccessibleBytes()); // totalram
        b.putLong(40, c.memory().maxAccessibleBytes() - c.memory().accessibleBytes()); // freeram
        b.putShort(80, (short) 1); // procs
        b.putInt(104, 1); // mem_unit
        c.memory().writeBytes(c.arg(0), info);
        return 0;
    }
}
