package io.kvmserver.linux;

import io.kvmserver.host.Errno;
import io.kvmserver.host.SyscallNumbers;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The system call trace a user turns on ({@code trace}) to see why a program fails: one line per
 * call on the logger {@value #LOGGER_NAME} at INFO, in the style of strace, with the VM, the
 * thread, the call, its arguments decoded, its result, and the permission denial it met:
 *
 * <pre>
 * template tid 1: openat(AT_FDCWD, "/etc/shadow", 0x80000, 0) = -EACCES [denied read /etc/shadow: allow it with --allow-read ...]
 * </pre>
 *
 * <p>Arguments are decoded by a signature per call: file descriptors and sizes in decimal, flags
 * and pointers in hex, paths and other short strings read from guest memory (only where the
 * program could read them itself, and at most {@value #MAX_STRING} bytes), and the first bytes of
 * a buffer being written. Reading guest memory here never records a host write and never fails
 * the call: an unreadable pointer is printed as a pointer.
 *
 * <p>One instance per VM, used only on its vCPU thread. The vCPU loop holds no instance when the
 * trace is off, so that tracing costs one null check per call then.
 */
public final class SyscallTrace {

    /** The logger of the trace. */
    public static final String LOGGER_NAME = "io.kvmserver.trace";

    /** The longest string argument printed, in bytes. */
    static final int MAX_STRING = 256;
    /** The most bytes of a written buffer printed. */
    static final int MAX_BUFFER = 32;
    private static final int AT_FDCWD = -100;

    private static final Logger log = LoggerFactory.getLogger(LOGGER_NAME);

    /**
     * How each call's arguments read, one letter per argument, then optionally {@code :} and the
     * result's letter: {@code f} file descriptor, {@code d} int, {@code l} long (sizes, offsets),
     * {@code x} flags in hex, {@code p} pointer, {@code s} string, {@code b} buffer whose length is
     * the next argument, {@code o} octal mode. A call without a signature shows six hex arguments.
     */
    private static final String[] SIGNATURES = signatures(
            "read fpl", "write fbl", "open sxo", "close f", "stat sp", "fstat fp", "lstat sp", "poll pdd",
            "lseek fld", "mmap plxxfx:p", "mprotect plx", "munmap pl", "brk p:p", "rt_sigaction dppl",
            "rt_sigprocmask dppl", "rt_sigreturn ", "ioctl fxp", "pread64 fpll", "pwrite64 fbll", "readv fpd",
            "writev fpd", "access so", "pipe p", "select dpppp", "sched_yield ", "mremap pllxp:p", "msync plx",
            "mincore plp", "madvise pld", "shmget xlx", "shmat dpx:p", "shmctl ddp", "dup f", "dup2 ff", "pause ",
            "nanosleep pp", "getitimer dp", "alarm d", "setitimer dpp", "getpid ", "sendfile ffpl", "socket ddd",
            "connect fpd", "accept fpp", "sendto fblxpd", "recvfrom fplxpp", "sendmsg fpx", "recvmsg fpx",
            "shutdown fd", "bind fpd", "listen fd", "getsockname fpp", "getpeername fpp", "socketpair dddp",
            "setsockopt fddpd", "getsockopt fddpp", "clone xpppx", "fork ", "vfork ", "execve spp", "exit d",
            "wait4 dpxp", "kill dd", "uname p", "fcntl fdx", "flock fx", "fsync f", "fdatasync f", "truncate sl",
            "ftruncate fl", "getcwd pl", "chdir s", "fchdir f", "rename ss", "mkdir so", "rmdir s", "creat so",
            "link ss", "unlink s", "symlink ss", "readlink spl", "chmod so", "fchmod fo", "chown sdd", "fchown fdd",
            "lchown sdd", "umask o", "gettimeofday pp", "getrlimit dp", "getrusage dp", "sysinfo p", "times p",
            "getuid ", "getgid ", "setuid d", "setgid d", "geteuid ", "getegid ", "setpgid dd", "getppid ",
            "getpgrp ", "setsid ", "getgroups dp", "getresuid ppp", "getresgid ppp", "getpgid d", "getsid d",
            "capget pp", "capset pp", "rt_sigpending pl", "rt_sigtimedwait pppl", "rt_sigsuspend pl",
            "sigaltstack pp", "statfs sp", "fstatfs fp", "getpriority dd", "setpriority ddd", "sched_getparam dp",
            "sched_getscheduler d", "mlock pl", "munlock pl", "mlockall x", "munlockall ", "prctl dxxxx",
            "arch_prctl xp", "setrlimit dp", "gettid ", "tkill dd", "time p", "futex pxdppd",
            "sched_setaffinity dlp", "sched_getaffinity dlp", "set_tid_address p", "getdents64 fpl",
            "clock_gettime dp", "clock_getres dp", "clock_nanosleep dxpp", "exit_group d", "epoll_wait fpdd",
            "epoll_ctl fdfp", "tgkill ddd", "openat fsxo", "mkdirat fso", "fchownat fsddx", "newfstatat fspx",
            "unlinkat fsx", "renameat fsfs", "linkat fsfsx", "symlinkat sfs", "readlinkat fspl", "fchmodat fso",
            "faccessat fso", "pselect6 dppppp", "ppoll pdppl", "set_robust_list pl", "get_robust_list dpp",
            "splice fpfplx", "utimensat fspx", "epoll_pwait fpddpl", "timerfd_create dx", "eventfd d",
            "fallocate fxll", "timerfd_settime fxpp", "timerfd_gettime fp", "accept4 fppx", "eventfd2 dx",
            "epoll_create d", "epoll_create1 x", "dup3 ffx", "pipe2 px", "preadv fpdl", "pwritev fpdl",
            "prlimit64 ddpp", "sendmmsg fpdx", "recvmmsg fpdxp", "getcpu ppp", "getrandom plx",
            "memfd_create sx", "membarrier dxd", "statx fsxxp", "rseq pdxx", "pkey_mprotect plxd",
            "pkey_alloc xx", "pkey_free d", "close_range ddx", "clone3 pl", "openat2 fspl", "faccessat2 fsox",
            "epoll_pwait2 fpdppl", "fadvise64 flld", "renameat2 fsfsx", "timer_create dpp",
            "signalfd4 fplx", "sched_setscheduler ddp", "execveat fsppx");

    private final String vm;
    private final StringBuilder line = new StringBuilder(256);

    private SyscallTrace(String vm) {
        this.vm = vm;
    }

    /** The trace of the template VM. */
    public static SyscallTrace template() {
        return new SyscallTrace("template");
    }

    /** The trace of request VM {@code number}. */
    public static SyscallTrace requestVm(int number) {
        return new SyscallTrace("request VM " + number);
    }

    /**
     * Logs the call that {@code call} just handled on thread {@code tid}, which returned
     * {@code result} (unless it ended the program or froze the template: then {@code ?}).
     */
    public void log(int tid, Syscall call, long result) {
        if (!log.isInfoEnabled()) {
            return;
        }
        line.setLength(0);
        line.append(vm).append(" tid ").append(tid).append(": ");
        int nr = (int) call.number();
        line.append(SyscallNumbers.name(call.number())).append('(');
        String signature = nr >= 0 && nr < SIGNATURES.length ? SIGNATURES[nr] : null;
        char resultKind = 'd';
        if (signature == null) {
            for (int i = 0; i < 6; i++) {
                separate(i);
                hex(call.arg(i));
            }
        } else {
            int colon = signature.indexOf(':');
            int count = colon < 0 ? signature.length() : colon;
            resultKind = colon < 0 ? 'd' : signature.charAt(colon + 1);
            for (int i = 0; i < count; i++) {
                separate(i);
                argument(signature.charAt(i), call, i);
            }
        }
        line.append(") = ");
        if (call.exitRequested() || call.freezeRequested()) {
            line.append('?');
        } else if (result == Syscall.RESTART) {
            line.append("? [waits: the thread parks while the others run]");
        } else if (result < 0 && result >= -4095) {
            line.append('-').append(Errno.name((int) -result));
        } else if (resultKind == 'p') {
            hex(result);
        } else {
            line.append(result);
        }
        if (call.freezeRequested()) {
            line.append(" [the template freezes here: waiting for connections]");
        }
        if (call.deniedKind() != null) {
            line.append(" [denied ").append(call.deniedKind().tag()).append(' ')
                    .append(Denials.printable(call.deniedTarget()))
                    .append(": ").append(call.kernel().denials().hint(call.deniedKind(), call.deniedTarget()))
                    .append(']');
        }
        log.info(line.toString());
    }

    private void separate(int i) {
        if (i > 0) {
            line.append(", ");
        }
    }

    private void argument(char kind, Syscall call, int i) {
        long value = call.arg(i);
        switch (kind) {
            case 'f' -> {
                int fd = (int) value;
                if (fd == AT_FDCWD) {
                    line.append("AT_FDCWD");
                } else {
                    line.append(fd);
                }
            }
            case 'd' -> line.append((int) value);
            case 'l' -> line.append(value);
            case 'o' -> line.append(value == 0 ? "" : "0").append(Long.toOctalString(value & 0xffffffffL));
            case 's' -> string(call.memory(), value);
            case 'b' -> buffer(call.memory(), value, i + 1 < 6 ? call.arg(i + 1) : 0);
            case 'p' -> {
                if (value == 0) {
                    line.append("NULL");
                } else {
                    hex(value);
                }
            }
            default -> hex(value);
        }
    }

    private void hex(long value) {
        line.append("0x").append(Long.toHexString(value));
    }

    /** A NUL-terminated string, quoted, cut at {@link #MAX_STRING} bytes; the pointer if unreadable. */
    private void string(AddressSpace memory, long address) {
        byte[] bytes = readable(memory, address, MAX_STRING);
        if (bytes == null) {
            hex(address);
            return;
        }
        int end = 0;
        while (end < bytes.length && bytes[end] != 0) {
            end++;
        }
        quote(bytes, end, end == bytes.length && bytes.length == MAX_STRING);
    }

    /** The first bytes of a buffer of {@code length} bytes, quoted; the pointer if unreadable. */
    private void buffer(AddressSpace memory, long address, long length) {
        int shown = (int) Math.max(0, Math.min(length, MAX_BUFFER));
        byte[] bytes = shown == 0 ? new byte[0] : readable(memory, address, shown);
        if (bytes == null) {
            hex(address);
            return;
        }
        quote(bytes, bytes.length, length > bytes.length);
    }

    /**
     * Up to {@code max} bytes from {@code address}, as far as they are readable page by page (the
     * first unreadable page ends them), or null when not even the first byte is.
     */
    private static byte[] readable(AddressSpace memory, long address, int max) {
        byte[] out = new byte[max];
        int n = 0;
        while (n < max) {
            long at = address + n;
            int chunk = (int) Math.min(max - n, AddressSpace.pageUp(at + 1) - at);
            if (at < 0 || chunk <= 0) {
                break;
            }
            try {
                byte[] piece = memory.readBytes(at, chunk);
                System.arraycopy(piece, 0, out, n, chunk);
            } catch (SyscallError e) {
                break;
            }
            boolean nul = false;
            for (int i = n; i < n + chunk && !nul; i++) {
                nul = out[i] == 0;
            }
            n += chunk;
            if (nul) {
                break;
            }
        }
        return n == 0 ? null : java.util.Arrays.copyOf(out, n);
    }

    /** Bytes as a C string literal: printable ASCII as is, the rest escaped, "..." when cut. */
    private void quote(byte[] bytes, int length, boolean cut) {
        line.append('"');
        for (int i = 0; i < length; i++) {
            int c = bytes[i] & 0xff;
            switch (c) {
                case '\n' -> line.append("\\n");
                case '\t' -> line.append("\\t");
                case '\r' -> line.append("\\r");
                case '"' -> line.append("\\\"");
                case '\\' -> line.append("\\\\");
                default -> {
                    if (c >= 0x20 && c < 0x7f) {
                        line.append((char) c);
                    } else {
                        line.append("\\x").append(Character.forDigit(c >> 4, 16)).append(Character.forDigit(c & 15, 16));
                    }
                }
            }
        }
        line.append('"');
        if (cut) {
            line.append("...");
        }
    }

    private static String[] signatures(String... entries) {
        java.util.Map<String, Integer> numbers = new java.util.HashMap<>();
        for (int nr = 0; nr < SyscallNumbers.COUNT; nr++) {
            numbers.put(SyscallNumbers.name(nr), nr);
        }
        String[] table = new String[SyscallNumbers.COUNT];
        for (String entry : entries) {
            int space = entry.indexOf(' ');
            Integer nr = numbers.get(entry.substring(0, space));
            if (nr == null) {
                throw new IllegalStateException("no system call named " + entry.substring(0, space));
            }
            table[nr] = entry.substring(space + 1);
        }
        return table;
    }
}
