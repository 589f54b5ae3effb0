/*
 * Every pointer argument of every implemented system call that takes one, given bad addresses:
 * NULL, an unmapped user page, a kernel-range address, an address above the guest's memory,
 * the engine's own pages (descriptor tables, trap stub), the page-table pool, and a range that
 * starts mapped and runs into an unmapped page (straddling; for strings: no NUL before it).
 * Each must fail with EFAULT; the program prints one MISMATCH line per call that does not, and
 * a summary. Other arguments are valid, so that the pointer is the only thing wrong.
 *
 * Usage: hostile_pointers POOL_ADDRESS
 * Also runs natively (as an oracle while writing the table): pass 0 for the pool address.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define P(n) (1u << (n))

/* Flags per pointer position: NULL is a valid value here (skip it). */
struct entry {
    const char *name;
    long nr;
    long a[6];
    unsigned pointers;  /* positions to attack */
    unsigned null_ok;   /* positions where NULL means "not given" */
};

static long raw(long nr, const long *a) {
    long r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    return r < 0 ? -errno : r;
}

static char buf[8192] __attribute__((aligned(4096)));
static char buf2[4096] __attribute__((aligned(4096)));

int main(int argc, char **argv) {
    long pool = argc > 1 ? strtol(argv[1], NULL, 0) : 0;
    /* A page followed by an unmapped one: the straddling pointer is 2 bytes before the gap. */
    char *two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(two + 4096, 4096);
    memset(two, 'x', 4096);
    long straddle = (long) (two + 4096 - 2);
    long unmapped = (long) (two + 4096);
    long bad[] = {0, unmapped, (long) 0xffff800000000000UL, 0x7fff00000000L, 0x1000, 0x3000, straddle, pool};
    const char *bad_name[] = {"null", "unmapped", "kernel", "above-memory", "gdt", "stub", "straddle", "pool"};
    int nbad = pool ? 8 : 7;

    int zero = open("/dev/zero", O_RDONLY);
    int null = open("/dev/null", O_WRONLY);
    int self = open("/proc/self/exe", O_RDONLY);
    int dir = open("/", O_RDONLY | O_DIRECTORY);
    int udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int sp[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp);
    int pipes[2];
    pipe2(pipes, O_NONBLOCK);
    int ep = epoll_create1(0);
    int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    if (zero < 0 || null < 0 || self < 0 || dir < 0 || udp < 0 || ep < 0 || tfd < 0) {
        printf("setup failed: %d %d %d %d %d %d %d\n", zero, null, self, dir, udp, ep, tfd);
        return 2;
    }
    long B = (long) buf, B2 = (long) buf2;
    strcpy(buf + 4096, "/dev/null");
    long PATH = (long) (buf + 4096);
    /* Valid structures in buf2: timespec zero, iovec, msghdr, sockaddr, rlimit, fd_set... */
    struct timespec *ts0 = (struct timespec *) buf2;                 /* {0, 0} */
    struct iovec *iov = (struct iovec *) (buf2 + 64);
    iov->iov_base = buf;
    iov->iov_len = 16;
    struct sockaddr_in *sin = (struct sockaddr_in *) (buf2 + 128);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(9);
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t *len = (socklen_t *) (buf2 + 160);
    *len = 16;
    struct msghdr *msg = (struct msghdr *) (buf2 + 192);
    memset(msg, 0, sizeof *msg);
    msg->msg_iov = iov;
    msg->msg_iovlen = 1;
    struct rlimit *rl = (struct rlimit *) (buf2 + 256);
    getrlimit(RLIMIT_NOFILE, rl);
    fd_set *rfds = (fd_set *) (buf2 + 512);
    FD_ZERO(rfds);
    FD_SET(zero, rfds);
    struct pollfd *pfd = (struct pollfd *) (buf2 + 1024);
    pfd->fd = zero;
    pfd->events = POLLIN;
    struct epoll_event *ev = (struct epoll_event *) (buf2 + 1088);
    ev->events = EPOLLIN;
    struct itimerspec *its = (struct itimerspec *) (buf2 + 1152);
    memset(its, 0, sizeof *its);
    int *one = (int *) (buf2 + 1216);
    *one = 1;
    struct timespec *tiny = (struct timespec *) (buf2 + 1280);
    tiny->tv_sec = 0;
    tiny->tv_nsec = 1;
    uint32_t *futexword = (uint32_t *) (buf2 + 1344);
    *futexword = 7;
    long *offset = (long *) (buf2 + 1408);
    *offset = 0;
    struct { const sigset_t *ss; size_t len; } *pss = (void *) (buf2 + 1472);
    pss->ss = (sigset_t *) (buf2 + 1536);
    pss->len = 8;
    long SS = (long) (buf2 + 1536); /* an empty sigset */

    struct entry table[] = {
        {"read", SYS_read, {zero, B, 16}, P(1), 0},
        {"write", SYS_write, {null, B, 16}, P(1), 0},
        {"open", SYS_open, {PATH, O_RDONLY}, P(0), 0},
        {"stat", SYS_stat, {PATH, B}, P(0) | P(1), 0},
        {"fstat", SYS_fstat, {zero, B}, P(1), 0},
        {"lstat", SYS_lstat, {PATH, B}, P(0) | P(1), 0},
        {"poll", SYS_poll, {(long) pfd, 1, 0}, P(0), 0},
        {"rt_sigaction", SYS_rt_sigaction, {SIGUSR1, 0, B, 8}, P(1) | P(2), P(1) | P(2)},
        {"rt_sigprocmask", SYS_rt_sigprocmask, {SIG_BLOCK, 0, B, 8}, P(1) | P(2), P(1) | P(2)},
        {"pread64", SYS_pread64, {self, B, 16, 0}, P(1), 0},
        {"pwrite64", SYS_pwrite64, {null, B, 16, 0}, P(1), 0},
        {"readv", SYS_readv, {zero, (long) iov, 1}, P(1), 0},
        {"writev", SYS_writev, {null, (long) iov, 1}, P(1), 0},
        {"access", SYS_access, {PATH, F_OK}, P(0), 0},
        {"pipe", SYS_pipe, {B}, P(0), 0},
        {"select", SYS_select, {zero + 1, (long) rfds, 0, 0, (long) ts0}, P(1) | P(4), P(1) | P(4)},
        {"nanosleep", SYS_nanosleep, {(long) tiny, 0}, P(0), 0},
        {"sendfile", SYS_sendfile, {null, self, (long) offset, 16}, P(2), P(2)},
        {"connect", SYS_connect, {udp, (long) sin, 16}, P(1), 0},
        {"sendto", SYS_sendto, {udp, B, 16, 0, (long) sin, 16}, P(1) | P(4), P(4)},
        {"recvfrom", SYS_recvfrom, {sp[0], B, 16, 0, B2 + 2048, (long) len}, P(1) | P(4) | P(5), P(4) | P(5)},
        {"sendmsg", SYS_sendmsg, {sp[0], (long) msg, 0}, P(1), 0},
        {"recvmsg", SYS_recvmsg, {sp[0], (long) msg, 0}, P(1), 0},
        {"bind", SYS_bind, {udp, (long) sin, 16}, P(1), 0},
        {"getsockname", SYS_getsockname, {udp, B, (long) len}, P(1) | P(2), 0},
        {"getpeername", SYS_getpeername, {sp[0], B, (long) len}, P(1) | P(2), 0},
        {"socketpair", SYS_socketpair, {AF_UNIX, SOCK_STREAM, 0, B}, P(3), 0},
        {"setsockopt", SYS_setsockopt, {udp, SOL_SOCKET, SO_REUSEADDR, (long) one, 4}, P(3), 0},
        {"getsockopt", SYS_getsockopt, {udp, SOL_SOCKET, SO_TYPE, B, (long) len}, P(3) | P(4), 0},
        {"uname", SYS_uname, {B}, P(0), 0},
        {"fcntl(F_GETLK)", SYS_fcntl, {self, F_GETLK, B}, P(2), 0},
        {"fcntl(F_SETLK)", SYS_fcntl, {self, F_SETLK, B}, P(2), 0},
        {"getcwd", SYS_getcwd, {B, 4096}, P(0), 0},
        {"chdir", SYS_chdir, {PATH}, P(0), 0},
        {"rename(from)", SYS_rename, {0, PATH}, P(0), 0},
        {"rename(to)", SYS_rename, {PATH, 0}, P(1), 0},
        {"mkdir", SYS_mkdir, {PATH, 0755}, P(0), 0},
        {"rmdir", SYS_rmdir, {PATH}, P(0), 0},
        {"creat", SYS_creat, {PATH, 0644}, P(0), 0},
        {"unlink", SYS_unlink, {PATH}, P(0), 0},
        {"readlink(path)", SYS_readlink, {PATH, B, 64}, P(0), 0},
        {"readlink(buf)", SYS_readlink, {(long) "/proc/self/exe", B, 64}, P(1), 0},
        {"gettimeofday", SYS_gettimeofday, {B, B + 64}, P(0) | P(1), P(0) | P(1)},
        {"getrlimit", SYS_getrlimit, {RLIMIT_NOFILE, B}, P(1), 0},
        {"getrusage", SYS_getrusage, {0, B}, P(1), 0},
        {"sysinfo", SYS_sysinfo, {B}, P(0), 0},
        {"times", SYS_times, {B}, P(0), P(0)},
        {"getresuid", SYS_getresuid, {B, B + 8, B + 16}, P(0) | P(1) | P(2), 0},
        {"getresgid", SYS_getresgid, {B, B + 8, B + 16}, P(0) | P(1) | P(2), 0},
        {"sched_getparam", SYS_sched_getparam, {0, B}, P(1), 0},
        {"sigaltstack", SYS_sigaltstack, {0, B}, P(0) | P(1), P(0) | P(1)},
        {"prctl(PR_SET_NAME)", SYS_prctl, {15, B + 4096}, P(1), 0},
        {"prctl(PR_GET_NAME)", SYS_prctl, {16, B}, P(1), 0},
        {"arch_prctl(ARCH_GET_FS)", SYS_arch_prctl, {0x1003, B}, P(1), 0},
        {"arch_prctl(ARCH_GET_GS)", SYS_arch_prctl, {0x1004, B}, P(1), 0},
        {"setrlimit", SYS_setrlimit, {RLIMIT_NOFILE, (long) rl}, P(1), 0},
        {"time", SYS_time, {B}, P(0), P(0)},
        {"futex(WAIT)", SYS_futex, {(long) futexword, FUTEX_WAIT_PRIVATE, 8, 0}, P(0), 0},
        {"sched_getaffinity", SYS_sched_getaffinity, {0, 128, B}, P(2), 0},
        {"getdents64", SYS_getdents64, {dir, B, 4096}, P(1), 0},
        {"clock_gettime", SYS_clock_gettime, {CLOCK_MONOTONIC, B}, P(1), 0},
        {"clock_getres", SYS_clock_getres, {CLOCK_MONOTONIC, B}, P(1), P(1)},
        {"clock_nanosleep", SYS_clock_nanosleep, {CLOCK_MONOTONIC, 0, (long) tiny, 0}, P(2), 0},
        {"epoll_wait", SYS_epoll_wait, {ep, B, 1, 0}, P(1), 0},
        {"epoll_ctl", SYS_epoll_ctl, {ep, EPOLL_CTL_ADD, pipes[0], (long) ev}, P(3), 0},
        {"openat", SYS_openat, {AT_FDCWD, PATH, O_RDONLY}, P(1), 0},
        {"mkdirat", SYS_mkdirat, {AT_FDCWD, PATH, 0755}, P(1), 0},
        {"newfstatat", SYS_newfstatat, {AT_FDCWD, PATH, B, 0}, P(1) | P(2), 0},
        {"unlinkat", SYS_unlinkat, {AT_FDCWD, PATH, 0}, P(1), 0},
        {"renameat(from)", SYS_renameat, {AT_FDCWD, 0, AT_FDCWD, PATH}, P(1), 0},
        {"renameat(to)", SYS_renameat, {AT_FDCWD, PATH, AT_FDCWD, 0}, P(3), 0},
        {"readlinkat", SYS_readlinkat, {AT_FDCWD, PATH, B, 64}, P(1), 0},
        {"faccessat", SYS_faccessat, {AT_FDCWD, PATH, F_OK}, P(1), 0},
        {"pselect6", SYS_pselect6, {zero + 1, (long) rfds, 0, 0, (long) ts0, (long) pss}, P(1) | P(4) | P(5),
         P(1) | P(4) | P(5)},
        {"ppoll", SYS_ppoll, {(long) pfd, 1, (long) ts0, SS, 8}, P(0) | P(2) | P(3), P(2) | P(3)},
        {"epoll_pwait", SYS_epoll_pwait, {ep, B, 1, 0, SS, 8}, P(1) | P(4), P(4)},
        {"timerfd_settime", SYS_timerfd_settime, {tfd, 0, (long) its, B}, P(2) | P(3), P(3)},
        {"timerfd_gettime", SYS_timerfd_gettime, {tfd, B}, P(1), 0},
        {"pipe2", SYS_pipe2, {B, 0}, P(0), 0},
        {"preadv", SYS_preadv, {self, (long) iov, 1, 0}, P(1), 0},
        {"pwritev", SYS_pwritev, {null, (long) iov, 1, 0}, P(1), 0},
        {"prlimit64(new)", SYS_prlimit64, {0, RLIMIT_NOFILE, (long) rl, 0}, P(2), P(2)},
        {"prlimit64(old)", SYS_prlimit64, {0, RLIMIT_NOFILE, 0, B}, P(3), P(3)},
        {"getcpu", SYS_getcpu, {B, B + 8, 0}, P(0) | P(1), P(0) | P(1)},
        {"renameat2", SYS_renameat2, {AT_FDCWD, 0, AT_FDCWD, PATH, 0}, P(1), 0},
        {"getrandom", SYS_getrandom, {B, 16, 0}, P(0), 0},
        {"statx(path)", SYS_statx, {AT_FDCWD, 0, 0, 0x7ff, B}, P(1), 0},
        {"statx(buf)", SYS_statx, {AT_FDCWD, PATH, 0, 0x7ff, B}, P(4), 0},
        {"faccessat2", SYS_faccessat2, {AT_FDCWD, PATH, F_OK, 0}, P(1), 0},
        {"epoll_pwait2", SYS_epoll_pwait2, {ep, B, 1, (long) ts0, SS, 8}, P(1) | P(3) | P(4), P(3) | P(4)},
        {"ioctl(FIONBIO)", SYS_ioctl, {pipes[0], FIONBIO, (long) one}, P(2), 0},
        {"ioctl(FIONREAD)", SYS_ioctl, {pipes[0], FIONREAD, B}, P(2), 0},
    };
    int n = sizeof table / sizeof table[0];
    int checked = 0, mismatches = 0;
    for (int i = 0; i < n; i++) {
        struct entry *e = &table[i];
        for (int pos = 0; pos < 6; pos++) {
            if (!(e->pointers & P(pos))) continue;
            for (int b = 0; b < nbad; b++) {
                if (bad[b] == 0 && (e->null_ok & P(pos))) continue;
                long a[6];
                memcpy(a, e->a, sizeof a);
                a[pos] = bad[b];
                /* Calls before may have written through the straddling pointer or changed *len. */
                two[4094] = two[4095] = 'x';
                *len = 16;
                long r = raw(e->nr, a);
                checked++;
                long want = -EFAULT;
                /* sched_getparam(2): "EINVAL Invalid arguments: param is NULL"; futex(2) checks
                 * the word's alignment before touching it. */
                if ((e->nr == SYS_sched_getparam && bad[b] == 0) || (e->nr == SYS_futex && bad[b] == straddle)) {
                    want = -EINVAL;
                }
                if (e->nr == SYS_getpeername && bad[b] == straddle && pos == 1) {
                    want = 0; /* the peer of a socketpair is unnamed: 2 bytes, which fit */
                }
                if (r != want) {
                    mismatches++;
                    printf("MISMATCH %s arg%d=%s: %ld\n", e->name, pos, bad_name[b], r);
                }
            }
        }
    }
    /* Pointers inside structures: an iovec's base, a msghdr's iovec and name. */
    long inner[6];
    for (int b = 0; b < nbad; b++) {
        struct iovec bad_iov = {(void *) bad[b], 16};
        memcpy(buf2 + 3072, &bad_iov, sizeof bad_iov);
        long biov = (long) (buf2 + 3072);
        struct { const char *name; long nr; long a[6]; } nested[] = {
            {"readv(iov_base)", SYS_readv, {zero, biov, 1}},
            {"writev(iov_base)", SYS_writev, {null, biov, 1}},
            {"preadv(iov_base)", SYS_preadv, {self, biov, 1, 0}},
            {"pwritev(iov_base)", SYS_pwritev, {null, biov, 1, 0}},
        };
        for (unsigned k = 0; k < sizeof nested / sizeof nested[0]; k++) {
            memcpy(inner, nested[k].a, sizeof inner);
            long r = raw(nested[k].nr, inner);
            checked++;
            if (r != -EFAULT) {
                mismatches++;
                printf("MISMATCH %s=%s: %ld\n", nested[k].name, bad_name[b], r);
            }
        }
        struct msghdr m = {0};
        m.msg_iov = (struct iovec *) bad[b];
        m.msg_iovlen = 1;
        long r = sendmsg(sp[0], &m, 0) < 0 ? -errno : 0;
        checked++;
        if (r != -EFAULT) {
            mismatches++;
            printf("MISMATCH sendmsg(msg_iov)=%s: %ld\n", bad_name[b], r);
        }
        m.msg_iov = (struct iovec *) biov;
        r = sendmsg(sp[0], &m, 0) < 0 ? -errno : 0;
        checked++;
        if (r != -EFAULT) {
            mismatches++;
            printf("MISMATCH sendmsg(iov_base)=%s: %ld\n", bad_name[b], r);
        }
        if (bad[b] != 0) {
            m.msg_iov = iov;
            m.msg_name = (void *) bad[b];
            m.msg_namelen = 16;
            r = sendmsg(udp, &m, 0) < 0 ? -errno : 0;
            checked++;
            if (r != -EFAULT) {
                mismatches++;
                printf("MISMATCH sendmsg(msg_name)=%s: %ld\n", bad_name[b], r);
            }
        }
    }
    printf("checked=%d mismatches=%d\n", checked, mismatches);
    return 0;
}
