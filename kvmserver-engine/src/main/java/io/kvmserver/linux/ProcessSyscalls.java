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
        t.register(SyscallNumbers.GETPID, c -> LinuxProcess.PID);
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
        t.register(SyscallNumbers.SYSINFO, ProcessSyscalls::sysinfo);
        t.register(SyscallNumbers.GETRUSAGE, c -> {
            c.memory().writeBytes(c.arg(1), new byte[144]);
            return 0;
        });
        // Refused: one VM is one process, and nothing in it may reach the host's processes.
        t.register(SyscallNumbers.EXECVE, c -> refuseExec(c, c.arg(0)));
        t.register(SyscallNumbers.EXECVEAT, c -> refuseExec(c, c.arg(1)));
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
            case 1, 38, 4, 36 -> 0; // PDEATHSIG, NO_NEW_PRIVS, SET_DUMPABLE, CHILD_SUBREAPER
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
