/* One line per system call with edge-case arguments, "name=result" with the errno's name when it
 * fails, printed the same way natively and in the engine (LinuxAnswersTest compares the engine's
 * lines with the ones recorded from Linux 6.18 as an unprivileged user). The calls are those a
 * differential review found answered differently (2026-12-04 night).
 *   linux_answers DIR   DIR: a writable directory for the files sendfile needs */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <asm/prctl.h>

static void show(const char *name, long rc) {
    if (rc < 0) {
        printf("%s=-1 %s\n", name, strerrorname_np(errno));
    } else {
        printf("%s=%ld\n", name, rc);
    }
}

static long raw(long nr, long a, long b, long c) {
    return syscall(nr, a, b, c);
}

int main(int argc, char **argv) {
    char path[4096];
    /* epoll */
    show("epoll_create(-1)", raw(SYS_epoll_create, 0xffffffffL, 0, 0));
    int ep = epoll_create1(0);
    int p[2];
    pipe(p);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE};
    show("epoll_ctl add exclusive", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    show("epoll_ctl mod exclusive", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
    ev.events = 0xffffffff;
    show("epoll_ctl add all bits", epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev));
    int outer = epoll_create1(0);
    ev.events = EPOLLIN;
    show("epoll_ctl add an epoll", epoll_ctl(outer, EPOLL_CTL_ADD, ep, &ev));
    /* sendfile */
    snprintf(path, sizeof path, "%s/in", argv[1]);
    int in = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    write(in, "hello", 5);
    snprintf(path, sizeof path, "%s/appended", argv[1]);
    int appended = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    snprintf(path, sizeof path, "%s/out", argv[1]);
    int out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int readonly = open(path, O_RDONLY);
    off_t offset = -1;
    show("sendfile offset -1", sendfile(out, in, &offset, 5));
    offset = 0;
    show("sendfile to O_APPEND", sendfile(appended, in, &offset, 5));
    offset = 0;
    show("sendfile to read-only", sendfile(readonly, in, &offset, 5));
    write(p[1], "x", 1);
    show("sendfile from pipe", sendfile(out, p[0], NULL, 1));
    write(p[1], "y", 1);
    off_t pipe_offset = 0;
    show("sendfile from pipe with offset", sendfile(out, p[0], &pipe_offset, 1));
    char drained;
    read(p[0], &drained, 1);
    int zero = open("/dev/zero", O_RDONLY);
    show("sendfile from /dev/zero", sendfile(out, zero, NULL, 4));
    int q[2];
    pipe(q);
    fcntl(q[1], F_SETFL, O_APPEND);
    offset = 0;
    show("sendfile to an appending pipe", sendfile(q[1], in, &offset, 4));
    offset = 0;
    show("sendfile", sendfile(out, in, &offset, 5));
    /* select normalizes a timeout's microseconds */
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(p[0], &readable);
    struct timeval two_seconds = {0, 2000000};
    show("select usec 2000000 ready", select(p[0] + 1, &readable, NULL, NULL, &two_seconds));
    struct timeval borrowed = {-1, 1100000};
    show("select -1 s 1100000 usec", syscall(SYS_select, 0, NULL, NULL, NULL, &borrowed));
    struct timeval overflow = {0x7fffffffffffffffL, 999999999};
    show("select overflowing", syscall(SYS_select, 0, NULL, NULL, NULL, &overflow));
    /* arch_prctl: a segment base at or above TASK_SIZE_MAX */
    show("arch_prctl set gs 0x7ffffffff000", raw(SYS_arch_prctl, ARCH_SET_GS, 0x7ffffffff000L, 0));
    show("arch_prctl set gs 0x7fffffffe000", raw(SYS_arch_prctl, ARCH_SET_GS, 0x7fffffffe000L, 0));
    raw(SYS_arch_prctl, ARCH_SET_GS, 0, 0);
    /* getdents64 with a count past INT_MAX */
    int dir = open(argv[1], O_RDONLY | O_DIRECTORY);
    show("getdents64 count -1", raw(SYS_getdents64, dir, (long) path, 0xffffffffL));
    /* sched_getaffinity: the length is an unsigned int */
    unsigned long mask[16];
    show("sched_getaffinity len 2^40", raw(SYS_sched_getaffinity, 0, 1L << 40, (long) mask) > 0 ? 1 : -1);
    show("sched_getaffinity len 4", raw(SYS_sched_getaffinity, 0, 4, (long) mask));
    show("sched_getaffinity pid 999999", raw(SYS_sched_getaffinity, 999999, sizeof mask, (long) mask));
    show("sched_setaffinity empty", raw(SYS_sched_setaffinity, 0, 0, (long) mask));
    memset(mask, 0, sizeof mask);
    mask[0] = 1UL << 40;
    show("sched_setaffinity cpu 40 only", raw(SYS_sched_setaffinity, 0, sizeof mask, (long) mask));
    show("sched_setaffinity bad pointer bad pid", raw(SYS_sched_setaffinity, 999999, sizeof mask, 8));
    show("sched_getscheduler pid 999999", raw(SYS_sched_getscheduler, 999999, 0, 0));
    show("sched_getscheduler pid -1", raw(SYS_sched_getscheduler, -1, 0, 0));
    show("sched_getscheduler self", raw(SYS_sched_getscheduler, 0, 0, 0));
    int param = -1;
    show("sched_getparam pid 999999", raw(SYS_sched_getparam, 999999, (long) &param, 0));
    show("sched_getparam self", raw(SYS_sched_getparam, 0, (long) &param, 0));
    /* clone: the legacy call's flags are an int (here a thread with a TLS past user space: EPERM) */
    show("clone thread upper flags bad tls", syscall(SYS_clone, (1L << 32) | CLONE_VM | CLONE_FS | CLONE_FILES
            | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS, 0L, 0L, 0L, 1L << 62));
    /* priorities */
    errno = 0;
    show("getpriority which 9", raw(SYS_getpriority, 9, 0, 0));
    show("getpriority pid 999999", raw(SYS_getpriority, PRIO_PROCESS, 999999, 0));
    show("getpriority self", raw(SYS_getpriority, PRIO_PROCESS, 0, 0));
    show("setpriority which 9", raw(SYS_setpriority, 9, 0, 0));
    show("setpriority pid 999999", raw(SYS_setpriority, PRIO_PROCESS, 999999, 0));
    struct rusage usage;
    show("getrusage who 5", raw(SYS_getrusage, 5, (long) &usage, 0));
    /* wait for no children */
    int status;
    show("wait4 any", raw(SYS_wait4, -1, (long) &status, 0));
    show("wait4 bad options", raw(SYS_wait4, -1, (long) &status, 0x100));
    siginfo_t info;
    show("waitid options 0", waitid(P_ALL, 0, &info, 0));
    show("waitid idtype 9", raw(SYS_waitid, 9, 0, (long) &info));
    show("waitid exited", waitid(P_ALL, 0, &info, WEXITED));
    show("waitid pid 0", waitid(P_PID, 0, &info, WEXITED));
    show("waitid pgid -1", raw(SYS_waitid, P_PGID, -1, (long) &info) == 0 ? 0 : -1);
    show("wait4 INT_MIN", raw(SYS_wait4, (int) 0x80000000, (long) &status, 0));
    /* prctl arguments */
    show("prctl pdeathsig 65", prctl(PR_SET_PDEATHSIG, 65, 0, 0, 0));
    show("prctl dumpable 2", prctl(PR_SET_DUMPABLE, 2, 0, 0, 0));
    show("prctl no_new_privs 2", prctl(PR_SET_NO_NEW_PRIVS, 2, 0, 0, 0));
    show("prctl no_new_privs 1 extra", prctl(PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0));
    show("prctl no_new_privs 1", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    /* sigaltstack: the size is unsigned */
    stack_t ss = {.ss_sp = malloc(65536), .ss_size = (size_t) -1};
    show("sigaltstack size -1", sigaltstack(&ss, NULL));
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    /* CPU clocks: PROF and VIRT of the process and the thread */
    struct timespec ts;
    for (int clock = -8; clock <= -1; clock++) {
        char name[64];
        snprintf(name, sizeof name, "clock_gettime %d", clock);
        show(name, clock_gettime(clock, &ts));
    }
    /* fcntl record locks are the process's: one taken through one fd is released through another,
     * or by closing any fd of the file; an OFD lock is another owner's, which sees them */
    snprintf(path, sizeof path, "%s/locked", argv[1]);
    int la = open(path, O_RDWR | O_CREAT, 0600), lb = open(path, O_RDWR), lc = open(path, O_RDWR);
    struct flock whole = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    struct flock unlock = {.l_type = F_UNLCK, .l_whence = SEEK_SET};
    show("posix lock through a", fcntl(la, F_SETLK, &whole));
    show("posix lock through b, the same process", fcntl(lb, F_SETLK, &whole));
    struct flock probe = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    fcntl(lb, F_GETLK, &probe);
    show("getlk through b sees no conflict", probe.l_type == F_UNLCK ? 0 : -1);
    show("ofd lock through c while locked", fcntl(lc, F_OFD_SETLK, &whole));
    show("posix unlock through b", fcntl(lb, F_SETLK, &unlock));
    show("ofd lock through c once unlocked", fcntl(lc, F_OFD_SETLK, &whole));
    fcntl(lc, F_OFD_SETLK, &unlock);
    show("posix lock through a again", fcntl(la, F_SETLK, &whole));
    close(lb);
    show("ofd lock through c once b is closed", fcntl(lc, F_OFD_SETLK, &whole));
    fcntl(lc, F_OFD_SETLK, &unlock);
    /* dup2 over an fd of the same description closes it first: the process's locks end */
    show("posix lock through a, third time", fcntl(la, F_SETLK, &whole));
    int ld = dup(la);
    dup2(la, ld);
    show("ofd lock through c once dup2 closed a copy", fcntl(lc, F_OFD_SETLK, &whole));
    fcntl(lc, F_OFD_SETLK, &unlock);
    /* SQLite's pattern on one read-write fd: a read lock, then a write lock over it (an upgrade) */
    struct flock first_byte = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    int lu = open(path, O_RDWR);
    show("read lock through a fresh read-write fd", fcntl(lu, F_SETLK, &first_byte));
    first_byte.l_type = F_WRLCK;
    show("then a write lock over it", fcntl(lu, F_SETLK, &first_byte));
    close(lu);
    int lp = open(path, O_PATH);
    show("posix lock through an O_PATH fd", fcntl(lp, F_SETLK, &whole));
    close(lp);
    close(ld);
    close(la);
    close(lc);
    /* process creation: refused here as at the process limit (natively it works: a deliberate difference) */
    pid_t child = fork();
    if (child == 0) {
        _exit(0);
    }
    if (child > 0) {
        waitpid(child, NULL, 0);
    }
    show("fork", child > 0 ? 0 : -1);
    /* extended attributes and fallocate, on a file system without them here */
    char buffer[256];
    snprintf(path, sizeof path, "%s/in", argv[1]);
    show("listxattr", listxattr(path, buffer, sizeof buffer) >= 0 ? 0 : -1);
    show("getxattr missing file", getxattr("/nonexistent/file", "user.x", buffer, sizeof buffer));
    show("fallocate bad length", fallocate(in, 0, 0, 0));
    errno = posix_fallocate(in, 0, 8192);
    show("posix_fallocate", errno == 0 ? 0 : -1);
    show("madvise wipeonfork", madvise(ss.ss_sp - ((long) ss.ss_sp & 4095), 4096, MADV_WIPEONFORK) == 0 ? 0 : -1);
    /* a count past user space is EFAULT; the upper half of a system call number is ignored */
    size_t huge = (size_t) -1;
    show("write count -1", write(1, "x", huge));
    show("getpid with high bits", raw(39 | (1L << 32), 0, 0, 0) == getpid() ? 0 : -1);
    fflush(stdout);
    /* times() and getrusage count the CPU time the clocks count */
    struct timespec start;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &start);
    do {
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    } while ((ts.tv_sec - start.tv_sec) * 1000000000L + ts.tv_nsec - start.tv_nsec < 150000000L);
    struct tms t;
    times(&t);
    getrusage(RUSAGE_SELF, &usage);
    long usage_ms = usage.ru_utime.tv_sec * 1000 + usage.ru_utime.tv_usec / 1000
                    + usage.ru_stime.tv_sec * 1000 + usage.ru_stime.tv_usec / 1000;
    printf("times counts cpu=%d\n", (t.tms_utime + t.tms_stime) * 1000 / sysconf(_SC_CLK_TCK) >= 100);
    printf("getrusage counts cpu=%d\n", usage_ms >= 100);
    return 0;
}
