/*
 * System calls the runtimes make at start-up besides memory and threads (issue 10), one check per
 * run:
 *
 *   kernel_calls close-range | capabilities | pkeys | sendfile-offset | epoll-closed-fd | vectors | corners |
 *               proc-stat | random-while-threads-run | lock-read-only FILE
 *
 * Each check prints "OK <check>: ..." or "FAIL <check>: ..." and exits 0 only if it passed. Where
 * Linux's answer depends on the host (root's capabilities, a CPU with protection keys) the check
 * accepts each answer Linux can give and prints which one it got.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <sys/random.h>
#include <sys/select.h>
#include <sys/uio.h>
#include <unistd.h>

#include "checks.h"

static const char *name(long r) {
    return r == -1 ? strerrorname_np(errno) : "0";
}

/* ---- close-range: closes or marks close-on-exec a range, unsigned bounds, EINVAL for bad input. ---- */

static int is_open(int fd) {
    return fcntl(fd, F_GETFD) != -1;
}

static void close_range_check(void) {
    for (int fd = 10; fd <= 15; fd++) {
        if (dup2(1, fd) != fd) {
            fail("dup2: %s", strerror(errno));
            return;
        }
    }
    if (syscall(SYS_close_range, 11, 13, 0) != 0) {
        fail("close_range(11, 13): %s", strerror(errno));
        return;
    }
    if (!is_open(10) || is_open(11) || is_open(12) || is_open(13) || !is_open(14)) {
        fail("close_range(11, 13) closed the wrong fds");
        return;
    }
    if (syscall(SYS_close_range, 14, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
        fail("close_range(14, ~0U, CLOEXEC): %s", strerror(errno));
        return;
    }
    if (fcntl(14, F_GETFD) != FD_CLOEXEC || fcntl(15, F_GETFD) != FD_CLOEXEC || fcntl(10, F_GETFD) != 0) {
        fail("CLOSE_RANGE_CLOEXEC: fd 14 %d, 15 %d, 10 %d", fcntl(14, F_GETFD), fcntl(15, F_GETFD), fcntl(10, F_GETFD));
        return;
    }
    long reversed = syscall(SYS_close_range, 5, 3, 0);
    const char *reversed_errno = name(reversed);
    long bad_flags = syscall(SYS_close_range, 20, 30, 1);
    const char *bad_flags_errno = name(bad_flags);
    long unshare = syscall(SYS_close_range, 14, 14, CLOSE_RANGE_UNSHARE);
    long past_limit = syscall(SYS_close_range, 0x7fffffff, ~0U, 0);
    if (strcmp(reversed_errno, "EINVAL") != 0 || strcmp(bad_flags_errno, "EINVAL") != 0) {
        fail("first > last: %s, unknown flag: %s", reversed_errno, bad_flags_errno);
    } else if (unshare != 0 || is_open(14) || past_limit != 0 || !is_open(15)) {
        fail("CLOSE_RANGE_UNSHARE %ld, past the table %ld", unshare, past_limit);
    } else if (write(1, "", 0) != 0) {
        fail("stdout closed");
    } else {
        ok("closed 11-13, marked 14-15 close-on-exec, EINVAL for first > last and unknown flags, UNSHARE closes");
    }
}

/* ---- capabilities: none in any set, and none can be raised. ---- */

static void capabilities(void) {
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0xff, sizeof data);
    if (syscall(SYS_capget, &header, data) != 0) {
        fail("capget: %s", strerror(errno));
        return;
    }
    int root = geteuid() == 0;
    if (!root && (data[0].effective | data[0].permitted | data[0].inheritable | data[1].effective
                  | data[1].permitted | data[1].inheritable) != 0) {
        fail("an unprivileged process has capabilities: %#x %#x", data[0].effective, data[0].permitted);
        return;
    }
    struct __user_cap_header_struct probe = {0, 0};
    long probed = syscall(SYS_capget, &probe, NULL);
    struct __user_cap_header_struct bad = {0x12345678, 0};
    long bad_version = syscall(SYS_capget, &bad, data);
    const char *bad_version_errno = name(bad_version);
    struct __user_cap_header_struct other = {_LINUX_CAPABILITY_VERSION_3, 999999};
    long other_pid = syscall(SYS_capget, &other, data);
    const char *other_errno = name(other_pid);
    struct __user_cap_header_struct negative = {_LINUX_CAPABILITY_VERSION_3, -1};
    long negative_pid = syscall(SYS_capget, &negative, data);
    const char *negative_errno = name(negative_pid);
    if (probed != 0 || probe.version != _LINUX_CAPABILITY_VERSION_3) {
        fail("capget with version 0 and no data: %ld, version %#x", probed, probe.version);
        return;
    }
    if (strcmp(bad_version_errno, "EINVAL") != 0 || bad.version != _LINUX_CAPABILITY_VERSION_3
        || strcmp(other_errno, "ESRCH") != 0 || strcmp(negative_errno, "EINVAL") != 0) {
        fail("bad version %s, other pid %s, pid -1 %s", bad_version_errno, other_errno, negative_errno);
        return;
    }
    struct __user_cap_data_struct none[2];
    memset(none, 0, sizeof none);
    header.pid = 0;
    long drop = syscall(SYS_capset, &header, none);
    const char *drop_errno = name(drop);
    none[0].effective = none[0].permitted = 1U << 10; /* CAP_NET_BIND_SERVICE */
    long raise = syscall(SYS_capset, &header, none);
    const char *raise_errno = name(raise);
    if (drop != 0 || strcmp(raise_errno, "EPERM") != 0) {
        fail("capset: dropping all %s, raising one %s", drop_errno, raise_errno);
        return;
    }
    long bset0 = prctl(PR_CAPBSET_READ, 0, 0, 0, 0);
    int last = -1;
    for (int cap = 0; cap < 64; cap++) {
        if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0) {
            if (errno != EINVAL) {
                fail("PR_CAPBSET_READ %d: %s", cap, strerror(errno));
                return;
            }
            break;
        }
        last = cap;
    }
    long drop_bset = prctl(PR_CAPBSET_DROP, 0, 0, 0, 0);
    const char *drop_bset_errno = name(drop_bset);
    long ambient_set = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 10, 0, 0);
    long ambient_raise = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 10, 0, 0);
    const char *ambient_raise_errno = name(ambient_raise);
    long ambient_clear = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    long ambient_bad = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 99, 0, 0);
    const char *ambient_bad_errno = name(ambient_bad);
    long securebits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
    if (last < 37 || (bset0 != 0 && bset0 != 1) || ambient_set != 0 || strcmp(ambient_raise_errno, "EPERM") != 0
        || ambient_clear != 0 || strcmp(ambient_bad_errno, "EINVAL") != 0 || securebits < 0) {
        fail("bounding set %ld up to %d, ambient is-set %ld raise %s clear %ld bad %s, securebits %ld", bset0, last,
             ambient_set, ambient_raise_errno, ambient_clear, ambient_bad_errno, securebits);
        return;
    }
    ok("%s, capset raise EPERM, bounding set read %ld for 0..%d then EINVAL, bounding set drop %s, ambient raise EPERM",
       root ? "root's capabilities dropped" : "no capabilities", bset0, last, drop_bset_errno);
}

/* ---- pkeys: ENOSPC without protection keys; key -1 is plain mprotect; bad arguments EINVAL. ---- */

static void pkeys(void) {
    char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    long key = syscall(SYS_pkey_alloc, 0, 0);
    const char *alloc = key >= 0 ? "a key" : strerrorname_np(errno);
    long bad_flags = syscall(SYS_pkey_alloc, 1, 0);
    const char *bad_flags_errno = name(bad_flags);
    long bad_rights = syscall(SYS_pkey_alloc, 0, 4);
    const char *bad_rights_errno = name(bad_rights);
    long plain = syscall(SYS_pkey_mprotect, page, 4096, PROT_READ, -1);
    long unallocated = syscall(SYS_pkey_mprotect, page, 4096, PROT_READ, 9);
    const char *unallocated_errno = name(unallocated);
    long free_unallocated = syscall(SYS_pkey_free, 9);
    const char *free_errno = name(free_unallocated);
    if (key < 0 && strcmp(alloc, "ENOSPC") != 0) {
        fail("pkey_alloc: %s (a key or ENOSPC)", alloc);
    } else if (strcmp(bad_flags_errno, "EINVAL") != 0 || strcmp(bad_rights_errno, "EINVAL") != 0) {
        fail("pkey_alloc bad flags %s, bad rights %s", bad_flags_errno, bad_rights_errno);
    } else if (plain != 0 || strcmp(unallocated_errno, "EINVAL") != 0 || strcmp(free_errno, "EINVAL") != 0) {
        fail("pkey_mprotect -1 %ld, unallocated key %s, pkey_free unallocated %s", plain, unallocated_errno,
             free_errno);
    } else {
        ok("pkey_alloc %s, bad arguments EINVAL, pkey_mprotect -1 is mprotect, unallocated keys EINVAL", alloc);
    }
}

/* ---- sendfile-offset: without an offset pointer, the file's offset moves by what was sent, no more. ---- */

static void sendfile_offset(void) {
    /* A file larger than the pipe: the program if static, else the C library it loaded. */
    int in = open("/proc/self/exe", O_RDONLY);
    if (in >= 0 && lseek(in, 0, SEEK_END) < (1 << 18)) {
        close(in);
        in = open("/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY);
    }
    if (in >= 0) lseek(in, 0, SEEK_SET);
    int p[2];
    if (in < 0 || pipe2(p, O_NONBLOCK) < 0) {
        fail("open or pipe2: %s", strerrorname_np(errno));
        return;
    }
    /* The pipe takes 64 KiB: the send stops there, with more of the file read than fits. */
    ssize_t sent = sendfile(p[1], in, NULL, 1 << 20);
    off_t at = lseek(in, 0, SEEK_CUR);
    static char piped[1 << 17], file[1 << 17];
    ssize_t got = read(p[0], piped, sizeof piped);
    ssize_t same = pread(in, file, sizeof file, 0);
    if (sent <= 0 || at != sent || got != sent || same < got || memcmp(piped, file, (size_t) got) != 0) {
        fail("sent %zd, the file's offset then %lld, %zd bytes in the pipe (%s the file's first)", sent,
             (long long) at, got, same >= got && got > 0 && memcmp(piped, file, (size_t) got) == 0 ? "equal to" : "not");
        return;
    }
    /* The next send goes on from there. */
    ssize_t next = sendfile(p[1], in, NULL, 4096);
    ssize_t more = read(p[0], piped, sizeof piped);
    ssize_t again = pread(in, file, 4096, sent);
    if (next != 4096 || more != 4096 || again != 4096 || memcmp(piped, file, 4096) != 0
        || lseek(in, 0, SEEK_CUR) != sent + 4096) {
        fail("the next send: %zd bytes, %zd in the pipe", next, more);
        return;
    }
    ok("sent %zd bytes of %d and the file's offset moved by exactly that", sent, 1 << 20);
}

/* ---- epoll-closed-fd: closing the last fd of a file drops its registration; a new file there has none. ---- */

static void epoll_closed_fd(void) {
    int ep = epoll_create1(0);
    int p[2];
    if (ep < 0 || pipe(p) < 0) {
        fail("epoll_create1 or pipe: %s", strerrorname_np(errno));
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 111};
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    int number = p[0];
    close(p[0]);
    close(p[1]);
    int efd = eventfd(1, 0); /* readable at once, at the lowest free number: the pipe's */
    struct epoll_event got[4];
    int n = epoll_wait(ep, got, 4, 0);
    int readd = epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) == 0 ? 0 : errno;
    int m = epoll_wait(ep, got, 4, 0);
    if (efd != number || n != 0 || readd != 0 || m != 1) {
        fail("eventfd at %d (pipe at %d): %d ready before it was added, add %s, %d after", efd, number, n,
             readd ? strerrorname_np(readd) : "0", m);
        return;
    }
    ok("a file at a closed file's number is not registered until added");
}

/* ---- vectors: readv and writev make one transfer of the vector, cut at MAX_RW_COUNT in all. ---- */

static void vectors(void) {
    int d[2], st[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, d) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, st) < 0) {
        fail("socketpair: %s", strerrorname_np(errno));
        return;
    }
    /* A writev on a datagram socket is one datagram. */
    struct iovec two[2] = {{"abc", 3}, {"def", 3}};
    char got[32] = {0};
    ssize_t w = writev(d[0], two, 2);
    ssize_t r = recv(d[1], got, sizeof got, MSG_DONTWAIT);
    if (w != 6 || r != 6 || memcmp(got, "abcdef", 6) != 0) {
        fail("writev of 3+3 bytes on a datagram socket: wrote %zd, the first datagram %zd bytes '%.*s'", w, r,
             (int) (r > 0 ? r : 0), got);
        return;
    }
    /* A readv on a datagram socket takes one datagram, never part of the next. */
    send(d[0], "ghijkl", 6, 0);
    send(d[0], "mnopqr", 6, 0);
    char a[3], b[8];
    struct iovec parts[2] = {{a, sizeof a}, {b, sizeof b}};
    r = readv(d[1], parts, 2);
    ssize_t next = recv(d[1], got, sizeof got, MSG_DONTWAIT);
    if (r != 6 || memcmp(a, "ghi", 3) != 0 || memcmp(b, "jkl", 3) != 0 || next != 6 || memcmp(got, "mnopqr", 6) != 0) {
        fail("readv of a 6-byte datagram into 3+8 bytes: %zd, then %zd", r, next);
        return;
    }
    /* A blocking readv on a stream returns what is there: 4 of 8 bytes, at once. */
    send(st[0], "wxyz", 4, 0);
    char c[4], e[4];
    struct iovec halves[2] = {{c, sizeof c}, {e, sizeof e}};
    alarm(5); /* a readv waiting for the second half would end the check here */
    r = readv(st[1], halves, 2);
    alarm(0);
    if (r != 4 || memcmp(c, "wxyz", 4) != 0) {
        fail("blocking readv with 4 bytes there: %zd", r);
        return;
    }
    /* Linux cuts a vector at MAX_RW_COUNT in all, refuses a negative length (EINVAL, before any
     * other check) and a buffer beyond user space (EFAULT), though the cut would have left it out. */
    size_t chunk = 4UL << 20;
    char *untouched = mmap(NULL, chunk, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int null = open("/dev/null", O_WRONLY);
    static struct iovec many[1024]; /* 4 GiB in all, from one 4 MiB buffer */
    for (int i = 0; i < 1024; i++) many[i] = (struct iovec){untouched, chunk};
    ssize_t capped = writev(null, many, 1024);
    int capped_errno = capped < 0 ? errno : 0;
    struct iovec negative[1] = {{untouched, (size_t) -1}};
    long neg = writev(null, negative, 1) == -1 ? errno : 0;
    struct iovec beyond[2] = {{untouched, chunk}, {untouched, 1UL << 62}};
    long far = writev(null, beyond, 2) == -1 ? errno : 0;
    struct iovec both[2] = {{untouched, 1UL << 62}, {untouched, (size_t) -1}};
    long first = writev(null, both, 2) == -1 ? errno : 0;
    if (untouched == MAP_FAILED || null < 0 || capped != 0x7ffff000 || neg != EINVAL || far != EFAULT || first != EINVAL) {
        fail("writev of 4 GiB to /dev/null: %zd (%s), a negative length %s, beyond user space %s, both %s", capped,
             capped < 0 ? strerrorname_np(capped_errno) : "-", strerrorname_np((int) neg), strerrorname_np((int) far), strerrorname_np((int) first));
        return;
    }
    ok("one datagram each way, a partial blocking read, 4 GiB cut at 0x7ffff000, EINVAL and EFAULT as Linux");
}

/* ---- corners: answers Linux gives that programs rely on, found by the review of 2026-12-04 late. ---- */

static void corners(void) {
    /* select with nfds past FD_SETSIZE: cut at the fd table's size, not EINVAL. */
    fd_set none;
    FD_ZERO(&none);
    struct timeval zero = {0, 0};
    int selected = select(2000, &none, NULL, NULL, &zero);
    /* connect(AF_UNSPEC) dissolves a datagram socket's association; a send then has no peer. */
    int d[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, d);
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    int dissolved = connect(d[0], &unspec, sizeof unspec);
    ssize_t orphan = send(d[0], "x", 1, MSG_DONTWAIT);
    int orphan_errno = errno;
    /* sendmsg with a name of length 0 has no name: it goes to the peer. */
    int e[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, e);
    struct sockaddr_un ignored;
    struct iovec one = {"hello", 5};
    struct msghdr msg = {.msg_name = &ignored, .msg_namelen = 0, .msg_iov = &one, .msg_iovlen = 1};
    ssize_t named = sendmsg(e[0], &msg, 0);
    /* A pipe's size: read, shrunk; grown past the default: Linux's pipe-max-size (1 MiB) allows
     * it, the engine refuses it as past that limit (EPERM); not a pipe: EBADF. */
    int p[2];
    pipe(p);
    int size = fcntl(p[0], F_GETPIPE_SZ);
    int shrunk = fcntl(p[1], F_SETPIPE_SZ, 4096);
    int grown = fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
    int grown_errno = errno;
    int not_pipe = fcntl(d[1], F_GETPIPE_SZ) == -1 ? errno : 0;
    if (selected != 0 || dissolved != 0 || orphan != -1 || orphan_errno != ENOTCONN || named != 5 || size != 65536
        || shrunk != 4096 || !(grown == 1 << 20 || (grown == -1 && grown_errno == EPERM)) || not_pipe != EBADF) {
        fail("select %d, AF_UNSPEC connect %d then send %zd %s, sendmsg with a 0-length name %zd, pipe size %d,"
             " shrunk %d, grown %d %s, not a pipe %s", selected, dissolved, orphan, strerrorname_np(orphan_errno), named,
             size, shrunk, grown, grown < 0 ? strerrorname_np(grown_errno) : "", strerrorname_np(not_pipe));
        return;
    }
    ok("select cut at the table, AF_UNSPEC disconnects, a 0-length name is none, pipe grown %s",
       grown < 0 ? "EPERM" : "to 1 MiB");
}

/* ---- proc-stat: /proc/self/stat and statm describe the program (node's memoryUsage reads them). ---- */

static void proc_stat(void) {
    char buf[1024] = {0};
    FILE *f = fopen("/proc/self/stat", "r");
    if (f == NULL || fgets(buf, sizeof buf, f) == NULL) {
        fail("/proc/self/stat: %s", strerrorname_np(errno));
        return;
    }
    fclose(f);
    long pid = atol(buf);
    char *after = strrchr(buf, ')');
    /* Fields from 3 (state) on, after the command name; rss is field 24, num_threads 20. */
    char *field[64];
    int n = 0;
    for (char *t = strtok(after + 2, " \n"); t != NULL && n < 64; t = strtok(NULL, " \n")) {
        field[n++] = t;
    }
    long threads = n > 17 ? atol(field[17]) : -1;
    long rss = n > 21 ? atol(field[21]) : -1;
    long resident = -1;
    f = fopen("/proc/self/statm", "r");
    long size = -1;
    if (f == NULL || fscanf(f, "%ld %ld", &size, &resident) != 2) {
        fail("/proc/self/statm: %s", strerrorname_np(errno));
        return;
    }
    fclose(f);
    char own[64];
    snprintf(own, sizeof own, "/proc/%d/statm", getpid());
    int by_pid = open(own, O_RDONLY);
    if (by_pid < 0) {
        fail("%s: %s", own, strerrorname_np(errno));
        return;
    }
    close(by_pid);
    if (pid != getpid() || n != 50 || threads != 1 || rss <= 0 || resident <= 0) {
        fail("stat: pid %ld (getpid %d), %d fields after the name, threads %ld, rss %ld; statm resident %ld", pid,
             getpid(), n, threads, rss, resident);
        return;
    }
    ok("stat and statm describe the program, also by its pid");
}

/* ---- lock-read-only FILE: a read lock through a read-only fd, held for 5 s (KernelCallsTest looks
 * at the host meanwhile: the file must not be open for writing there, or it could not be run). ---- */

static void lock_read_only(const char *file) {
    int fd = open(file, O_RDONLY);
    struct flock read_lock = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
    if (fd < 0 || fcntl(fd, F_SETLK, &read_lock) != 0) {
        printf("FAIL lock-read-only: open or F_SETLK of %s: %s\n", file, strerrorname_np(errno));
        return;
    }
    struct timespec hold = {5, 0};
    nanosleep(&hold, NULL);
    printf("OK lock-read-only: held a read lock on %s\n", file);
}

/* ---- random-while-threads-run: large reads of randomness are whole while another thread runs. ---- */

static volatile int stop_spinning;

static void *spin(void *arg) {
    (void) arg;
    while (!stop_spinning) {
    }
    return NULL;
}

static void random_while_threads_run(void) {
    /* Another runnable thread: the engine's time slice signals the vCPU's host thread every 10 ms. */
    pthread_t spinner;
    pthread_create(&spinner, NULL, spin, NULL);
    size_t size = 16 << 20;
    char *buffer = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ssize_t drawn = getrandom(buffer, size, 0);
    int urandom = open("/dev/urandom", O_RDONLY);
    ssize_t read_n = urandom < 0 ? -1 : read(urandom, buffer, size);
    stop_spinning = 1;
    pthread_join(spinner, NULL);
    if (drawn != (ssize_t) size || read_n != (ssize_t) size) {
        fail("getrandom of 16 MiB gave %zd, a read of /dev/urandom %zd (%s)", drawn, read_n,
             urandom < 0 ? strerrorname_np(errno) : "opened");
        return;
    }
    ok("16 MiB from getrandom and from /dev/urandom, whole, while another thread ran");
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "lock-read-only") == 0) {
        lock_read_only(argv[2]);
        return 0;
    }
    static const struct check checks[] = {
        {"random-while-threads-run", random_while_threads_run},
        {"corners", corners},
        {"proc-stat", proc_stat},
        {"vectors", vectors},
        {"epoll-closed-fd", epoll_closed_fd},
        {"close-range", close_range_check},
        {"capabilities", capabilities},
        {"pkeys", pkeys},
        {"sendfile-offset", sendfile_offset},
    };
    return run_check(argc, argv, checks, sizeof checks / sizeof checks[0]);
}
