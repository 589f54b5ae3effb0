package io.kvmserver.linux;

import io.kvmserver.host.SyscallNumbers;

import io.kvmserver.host.Errno;

import com.sun.jna.LastErrorException;
import io.kvmserver.host.LibC;
import java.nio.charset.StandardCharsets;

/**
 * Process family: identity, limits, scheduling answers for one CPU, randomness, and the calls a
 * sandboxed program is refused ({@code execve}, {@code ptrace}, {@code mount}, ...). Threads,
 * their exit and TLS are {@link ThreadSyscalls}.
 */
final class ProcessSyscalls {

    private static final int GRND_NONBLOCK = 1;
    private static final int GRND_RANDOM = 2;
    private static final int GRND_INSECURE = 4;
    private static final int UID = LinuxProcess.UID;

    private ProcessSyscalls() {
    }

    static void register(SyscallTable t) {
        t.register(SyscallNumbers.PRLIMIT64, ProcessSyscalls::prlimit64);
        // getrlimit/setrlimit share prlimit64's code, where NULL means "not given"; their own
        // pointer is required, so NULL is EFAULT (getrlimit(2)).
        t.register(SyscallNumbers.GETRLIMIT, c -> c.arg(1) == 0 ? -Errno.EFAULT : prlimit(c, c.intArg(0), 0, c.arg(1)));
        t.register(SyscallNumbers.SETRLIMIT, c -> c.arg(1) == 0 ? -Errno.EFAULT : prlimit(c, c.intArg(0), c.arg(1), 0));
        t.register(SyscallNumbers.UNAME, ProcessSyscalls::uname);
        t.register(SyscallNumbers.GETPID, c -> c.process().pid());
        t.register(SyscallNumbers.GETPPID, c -> 0);
        t.register(SyscallNumbers.GETPGRP, c -> c.process().pid());
        t.register(SyscallNumbers.GETPGID, ProcessSyscalls::ownGroup);
        t.register(SyscallNumbers.GETSID, ProcessSyscalls::ownGroup);
        t.register(SyscallNumbers.SETSID, c -> -Errno.EPERM);
        t.register(SyscallNumbers.GETUID, c -> UID);
        t.register(SyscallNumbers.GETEUID, c -> UID);
        t.register(SyscallNumbers.GETGID, c -> UID);
        t.register(SyscallNumbers.GETEGID, c -> UID);
        t.register(SyscallNumbers.GETRESUID, c -> getres(c));
        t.register(SyscallNumbers.GETRESGID, c -> getres(c));
        t.register(SyscallNumbers.GETGROUPS, c -> c.intArg(0) < 0 ? -Errno.EINVAL : 0); // no groups; the size is an int
        t.register(SyscallNumbers.SETUID, c -> c.arg(0) == UID ? 0 : -Errno.EPERM);
        t.register(SyscallNumbers.SETGID, c -> c.arg(0) == UID ? 0 : -Errno.EPERM);
        t.register(SyscallNumbers.SCHED_GETAFFINITY, ProcessSyscalls::schedGetaffinity);
        t.register(SyscallNumbers.SCHED_SETAFFINITY, ProcessSyscalls::schedSetaffinity);
        // SCHED_OTHER at priority 0 for the process's own tasks; as Linux: EINVAL for a negative
        // pid (or a NULL param), ESRCH for a task that is not there.
        t.register(SyscallNumbers.SCHED_GETSCHEDULER, c -> c.intArg(0) < 0 ? -Errno.EINVAL
                : isOwnTask(c, c.intArg(0)) ? 0 : -Errno.ESRCH);
        t.register(SyscallNumbers.SCHED_GETPARAM, c -> {
            if (c.arg(1) == 0 || c.intArg(0) < 0) {
                return -Errno.EINVAL; // sched_getparam(2): "param is NULL" or "pid is negative"
            }
            if (!isOwnTask(c, c.intArg(0))) {
                return -Errno.ESRCH;
            }
            c.memory().writeInt(c.arg(1), 0);
            return 0;
        });
        t.register(SyscallNumbers.GETPRIORITY, c -> {
            long target = priorityTarget(c);
            return target < 0 ? target : 20; // nice 0, as the kernel returns it (20 - nice)
        });
        t.register(SyscallNumbers.SETPRIORITY, ProcessSyscalls::setpriority);
        t.register(SyscallNumbers.GETCPU, ProcessSyscalls::getcpu);
        t.register(SyscallNumbers.GETRANDOM, ProcessSyscalls::getrandom);
        t.register(SyscallNumbers.PRCTL, ProcessSyscalls::prctl);
        t.register(SyscallNumbers.SYSINFO, ProcessSyscalls::sysinfo);
        t.register(SyscallNumbers.GETRUSAGE, ProcessSyscalls::getrusage);
        // Refused: one VM is one process, and nothing in it may reach the host's processes.
        t.register(SyscallNumbers.EXECVE, c -> refuseExec(c, c.arg(0)));
        t.register(SyscallNumbers.EXECVEAT, c -> refuseExec(c, c.arg(1)));
        t.register(SyscallNumbers.WAIT4, ProcessSyscalls::wait4);
        t.register(SyscallNumbers.WAITID, ProcessSyscalls::waitid);
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

    /**
     * execve: the program may not replace itself or start another one (a VM runs one program,
     * which is what its template froze). {@code EACCES}, as for a file that may not be executed,
     * and a denial naming the program, so the user sees what it tried.
     */
    static long refuseExec(Syscall c, long path) {
        String name;
        try {
            name = c.memory().readPath(path);
        } catch (SyscallError e) {
            return -e.errno();
        }
        c.kernel().denials().record(Denials.Kind.PROCESS, name);
        return -Errno.EACCES;
    }

    static long prlimit64(Syscall c) {
        if (c.intArg(0) != 0 && !c.process().isSelf(c.intArg(0))) {
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

    /** getpgid and getsid: the process leads its own group and session, and knows no other process. */
    private static long ownGroup(Syscall c) {
        int pid = c.intArg(0);
        return pid == 0 || c.process().isSelf(pid) ? c.process().pid() : -Errno.ESRCH;
    }

    /** The mask's size in bytes, an unsigned int, as the affinity calls take it. */
    private static long affinitySize(Syscall c) {
        return c.arg(1) & 0xffffffffL;
    }

    /** Whether {@code pid} names this process or one of its threads (0: the caller). */
    private static boolean isOwnTask(Syscall c, long pid) {
        return pid == 0 || c.process().isSelf(pid) || c.process().scheduler().find(pid) != null;
    }

    static long schedGetaffinity(Syscall c) {
        long size = affinitySize(c);
        if (size < 8 || (size & 7) != 0) {
            return -Errno.EINVAL;
        }
        if (!isOwnTask(c, c.intArg(0))) {
            return -Errno.ESRCH;
        }
        c.memory().writeLong(c.arg(2), 1); // CPU 0 only: one vCPU per VM
        return 8;
    }

    /**
     * Accepted for any CPU the host has (the VM's one vCPU runs every thread), as Linux accepts a
     * mask with an online CPU in it; the mask is copied before the pid is looked up, as there.
     */
    static long schedSetaffinity(Syscall c) {
        byte[] mask = c.memory().readBytes(c.arg(2), (int) Math.min(affinitySize(c), 128));
        if (!isOwnTask(c, c.intArg(0))) {
            return -Errno.ESRCH;
        }
        int cpus = Math.min(Runtime.getRuntime().availableProcessors(), mask.length * 8);
        for (int cpu = 0; cpu < cpus; cpu++) {
            if ((mask[cpu / 8] & (1 << (cpu % 8))) != 0) {
                return 0;
            }
        }
        return -Errno.EINVAL;
    }

    private static final int PRIO_PROCESS = 0;
    private static final int PRIO_PGRP = 1;
    private static final int PRIO_USER = 2;

    /** 0 if getpriority/setpriority's {@code which} and {@code who} name this process, else -errno. */
    private static long priorityTarget(Syscall c) {
        int who = c.intArg(1);
        boolean ours = switch (c.intArg(0)) {
            case PRIO_PROCESS -> isOwnTask(c, who);
            case PRIO_PGRP -> who == 0 || c.process().isSelf(who);
            case PRIO_USER -> who == 0 || who == UID;
            default -> throw new SyscallError(Errno.EINVAL);
        };
        return ours ? 0 : -Errno.ESRCH;
    }

    /** Nice values are not kept (one VM, one vCPU): raising one is accepted, lowering it needs privilege. */
    static long setpriority(Syscall c) {
        long target = priorityTarget(c);
        if (target < 0) {
            return target;
        }
        return c.intArg(2) < 0 ? -Errno.EACCES : 0;
    }

    private static final int RUSAGE_SELF = 0;
    private static final int RUSAGE_CHILDREN = -1;
    private static final int RUSAGE_THREAD = 1;
    private static final int RUSAGE_SIZE = 144;

    /** getrusage: the guest's CPU time as user time (the process's and the thread's are the same clock); no children. */
    static long getrusage(Syscall c) {
        int who = c.intArg(0);
        if (who != RUSAGE_SELF && who != RUSAGE_CHILDREN && who != RUSAGE_THREAD) {
            return -Errno.EINVAL;
        }
        c.memory().writeBytes(c.arg(1), new byte[RUSAGE_SIZE]);
        if (who != RUSAGE_CHILDREN) {
            long nanos = c.process().timers().cpuClock();
            c.memory().writeLong(c.arg(1), nanos / 1_000_000_000L); // ru_utime.tv_sec
            c.memory().writeLong(c.arg(1) + 8, nanos % 1_000_000_000L / 1000); // ru_utime.tv_usec
            c.memory().writeLong(c.arg(1) + 32, c.memory().accessibleBytes() / 1024); // ru_maxrss, an upper bound
        }
        return 0;
    }

    private static final int WNOHANG = 1;
    private static final int WUNTRACED = 2;
    private static final int WEXITED = 4;
    private static final int WCONTINUED = 8;
    private static final int WNOWAIT = 0x1000000;
    private static final int WAIT_THREAD_FLAGS = 0x20000000 | 0x40000000 | 0x80000000; // __WNOTHREAD, __WALL, __WCLONE
    private static final int P_ALL = 0;
    private static final int P_PID = 1;
    private static final int P_PGID = 2;
    private static final int P_PIDFD = 3;

    /** wait4: a VM's process never has children (fork is refused): ECHILD once the options are valid. */
    static long wait4(Syscall c) {
        if ((c.intArg(2) & ~(WNOHANG | WUNTRACED | WCONTINUED | WAIT_THREAD_FLAGS)) != 0) {
            return -Errno.EINVAL;
        }
        return c.intArg(0) == Integer.MIN_VALUE ? -Errno.ESRCH : -Errno.ECHILD; // -INT_MIN names no group
    }

    /** waitid: as wait4, with its own checks of the id type and the options. */
    static long waitid(Syscall c) {
        int idtype = c.intArg(0);
        int options = c.intArg(3);
        int id = c.intArg(1);
        boolean validId = switch (idtype) {
            case P_ALL -> true;
            case P_PID -> id > 0;
            case P_PGID, P_PIDFD -> id >= 0;
            default -> false;
        };
        if (!validId || (options & ~(WNOHANG | WNOWAIT | WEXITED | WUNTRACED | WCONTINUED | WAIT_THREAD_FLAGS)) != 0
                || (options & (WEXITED | WUNTRACED | WCONTINUED)) == 0) {
            return -Errno.EINVAL;
        }
        return idtype == P_PIDFD ? -Errno.EBADF : -Errno.ECHILD; // no pidfd is ever given out
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
        // The engine's own signals (the vCPU's time slice) cut a large call short: go on until
        // the count, as Linux does for a program no signal reached, unless the VM was kicked.
        long total = 0;
        while (total < count) {
            long at = total;
            long n = HostFile.call(() -> LibC.syscall(SyscallNumbers.GETRANDOM, host + at, count - at, GRND_NONBLOCK,
                    0, 0, 0));
            if (n <= 0) {
                return total > 0 ? total : n;
            }
            total += n;
            if (c.waiter().isKicked()) {
                break;
            }
        }
        return total;
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
            case 1 -> c.arg(1) < 0 || c.arg(1) > SignalState.NSIG ? -Errno.EINVAL : 0; // PR_SET_PDEATHSIG
            case 4 -> c.arg(1) != 0 && c.arg(1) != 1 ? -Errno.EINVAL : 0; // PR_SET_DUMPABLE
            case 38 -> c.arg(1) != 1 || c.arg(2) != 0 || c.arg(3) != 0 || c.arg(4) != 0
                    ? -Errno.EINVAL : 0; // PR_SET_NO_NEW_PRIVS: it is always set here
            case 36 -> 0; // PR_SET_CHILD_SUBREAPER
            case 3 -> 1; // PR_GET_DUMPABLE: SUID_DUMP_USER, as Linux answers an ordinary process
            case 39 -> 1; // PR_GET_NO_NEW_PRIVS: always, in a sandbox
            case 22, 21 -> option == 21 ? 2 : -Errno.EINVAL; // seccomp: report filter mode, refuse new
            case 0x53564d41 -> 0; // PR_SET_VMA (naming anonymous memory)
            default -> -Errno.EINVAL;
        };
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
