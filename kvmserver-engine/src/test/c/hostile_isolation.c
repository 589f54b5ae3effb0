/*
 * An epoll HTTP server whose requests attack what request VMs share (issue 8), for the isolation
 * tests. One request per connection. Before it waits for connections it makes a pipe, a
 * socketpair, an eventfd and a timerfd holding known state, and if DIR/template.fifo is a FIFO,
 * opens it twice (a reader and a writer), writes into it and unlinks it. Paths:
 *   /shared/write        writes into the template's pipe, socketpair, eventfd and FIFO, disarms its timerfd
 *   /shared/read         what the template's objects hold: "pipe=.. pair=.. event=N timer=armed",
 *                        then " fifo=.." if there is a FIFO
 *   /listener/hijack     SO_REUSEPORT on the listener, then binds a socket of its own to the port
 *   /listener/break      shutdown, listen(0), SO_LINGER, SO_RCVBUF, TCP_DEFER_ACCEPT on the listener
 *   /listener/options    the listener's SO_RCVBUF, TCP_DEFER_ACCEPT and SO_LINGER as this VM sees them
 *   /fifo/read           opens DIR/fifo for reading (no writer) and reads it
 *   /fifo/write          opens DIR/fifo for writing (no reader): blocks
 *   /fifo/block          opens DIR/fifo read-write and reads: blocks
 *   /ppoll               ppoll of a pipe that never becomes ready with a timeout of LONG_MAX/2 s
 *   /readv/sparse        one readv of DIR/sparse (a sparse file) into 1024 buffers of 16 MiB (the
 *                        same one): 16 GiB asked for, a regular file's read that no signal cuts
 *   /stdout/flood        writes 8 MiB to stdout
 *   /console/huge        one write(1) of 1 GiB of mapped memory
 *   /memory/unmap        maps 3 GiB, madvise(DONTNEED)s it, maps over it with MAP_FIXED, unmaps it
 *   /memory/maps         maps pages until ENOMEM, then reads /proc/self/maps to the end
 *   /memory/scatter/G    maps one writable page in every 64 MiB from G GiB up until ENOMEM, touches
 *                        each: "scattered=N errno=NAME"
 *   /memory/far/MB       maps MB MiB at 100 GiB (memory no request touched before) and writes
 *                        every page: "touched=MB"
 *   /read-zero/MB        reads MB MiB of /dev/zero into fresh memory in one read(2)
 *   /mkdir/ro            mkdir of RODIR, an existing directory it may not write
 *   /sockopt             setsockopt of options that need host capabilities
 *   /names               a unix socket's name, readlink(/proc/self/exe), AT_EXECFN
 *   /rcvtimeo            recv on a socket with SO_RCVTIMEO 200 ms and nothing to read
 *   /lock/hold/MS        takes an fcntl write lock and a flock on DIR/lockfile, creates
 *                        DIR/locked, and holds them MS ms
 *   /lock/try            tries both locks without waiting
 *   /race/swap/MS        swaps DIR/d and DIR/s (renameat2 RENAME_EXCHANGE) for MS ms
 *   /linger/set          SO_LINGER {1, 60} on the connection: "linger=ONOFF,SECONDS" as it reads back
 *   /linger/flood        SO_LINGER {1, 60} on the connection, fills it (a client that does not
 *                        read) and waits: only the reset closes it
 *   /race/probe/MS       reads, creates, makes directories in and connects under DIR/d for MS ms,
 *                        counting what it reaches of OUTSIDE (the secret "outside-secret")
 *   /dirfd               renames a directory it holds open and opens a file through the dirfd
 *   /whiteout            renameat2 with RENAME_WHITEOUT
 *   /normal/N            answers "ok N"
 *   /slow/MS /crash /loop   sleeps MS ms and answers "slept"; faults; spins forever
 * Usage: hostile_isolation PORT DIR RODIR
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "http_request.h"

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif
#ifndef RENAME_WHITEOUT
#define RENAME_WHITEOUT (1 << 2)
#endif
#ifndef IP_TRANSPARENT
#define IP_TRANSPARENT 19
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif

static int port, ls, ep;
static int tpipe[2], tpair[2], tevent, ttimer, tfifo_r = -1, tfifo_w = -1;
static const char *dir, *rodir;

static const char *en(int e) {
    switch (e) {
    case 0: return "0";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EINTR: return "EINTR";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EXDEV: return "EXDEV";
    case ENOTDIR: return "ENOTDIR";
    case EINVAL: return "EINVAL";
    case ELOOP: return "ELOOP";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EADDRINUSE: return "EADDRINUSE";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ENXIO: return "ENXIO";
    default: return "E?";
    }
}

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void respond(int fd, const char *body) {
    char buf[4096];
    int n = snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     strlen(body), body);
    write(fd, buf, n);
}

static void path_in(char *out, size_t size, const char *name) {
    snprintf(out, size, "%s/%s", dir, name);
}

static void shared_write(char *body, size_t size) {
    write(tpipe[1], "LEAK", 4);
    send(tpair[1], "LEAK", 4, 0);
    eventfd_write(tevent, 100);
    struct itimerspec off = {0};
    timerfd_settime(ttimer, 0, &off, NULL);
    if (tfifo_w >= 0) write(tfifo_w, "LEAK", 4);
    snprintf(body, size, "wrote");
}

static void shared_read(char *body, size_t size) {
    char p[64] = {0}, q[64] = {0};
    int flags = fcntl(tpipe[0], F_GETFL);
    fcntl(tpipe[0], F_SETFL, flags | O_NONBLOCK);
    read(tpipe[0], p, sizeof p - 1);
    recv(tpair[0], q, sizeof q - 1, MSG_DONTWAIT);
    eventfd_t value = 0;
    int ef = fcntl(tevent, F_GETFL);
    fcntl(tevent, F_SETFL, ef | O_NONBLOCK);
    eventfd_read(tevent, &value);
    struct itimerspec t;
    timerfd_gettime(ttimer, &t);
    int n = snprintf(body, size, "pipe=%s pair=%s event=%llu timer=%s", p, q, (unsigned long long) value,
                     t.it_value.tv_sec > 1000 ? "armed" : "disarmed");
    if (tfifo_r >= 0) {
        char f[64] = {0};
        read(tfifo_r, f, sizeof f - 1);
        snprintf(body + n, size - n, " fifo=%s", f);
    }
}

static void listener_hijack(char *body, size_t size) {
    int one = 1;
    int reuse = setsockopt(ls, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int b = bind(s, (struct sockaddr *) &a, sizeof a);
    int e1 = b < 0 ? errno : 0;
    if (b == 0) listen(s, 16);
    int w = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(w, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    int e2 = bind(w, (struct sockaddr *) &a, sizeof a) < 0 ? errno : 0;
    int v6 = socket(AF_INET6, SOCK_STREAM, 0);
    setsockopt(v6, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = in6addr_any};
    int e3 = bind(v6, (struct sockaddr *) &a6, sizeof a6) < 0 ? errno : 0;
    snprintf(body, size, "reuseport=%d bind=%s wildcard=%s v6any=%s", reuse, en(e1), en(e2), en(e3));
    if (b == 0) { /* an escape: serve what comes, as the attack would */
        struct pollfd pf = {.fd = s, .events = POLLIN};
        if (poll(&pf, 1, 500) > 0) {
            int c = accept(s, NULL, NULL);
            respond(c, "HIJACKED");
            close(c);
        }
    }
}

static void listener_break(char *body, size_t size) {
    int sh = shutdown(ls, SHUT_RDWR);
    int li = listen(ls, 0);
    struct linger lg = {1, 0};
    setsockopt(ls, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    int small = 1024;
    setsockopt(ls, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    int defer = 30;
    setsockopt(ls, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof defer);
    snprintf(body, size, "broken shutdown=%d listen=%d", sh, li);
}

static void listener_options(char *body, size_t size) {
    int rcvbuf = 0, defer = 0;
    struct linger lg = {0};
    socklen_t l = sizeof rcvbuf;
    getsockopt(ls, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &l);
    l = sizeof defer;
    getsockopt(ls, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, &l);
    l = sizeof lg;
    getsockopt(ls, SOL_SOCKET, SO_LINGER, &lg, &l);
    snprintf(body, size, "rcvbuf=%d defer=%d linger=%d", rcvbuf, defer, lg.l_onoff);
}

static void fifo(char *body, size_t size, int mode) {
    char p[512];
    path_in(p, sizeof p, "fifo");
    int fd = open(p, mode);
    if (fd < 0) {
        snprintf(body, size, "open=%s", en(errno));
        return;
    }
    char c;
    long n = read(fd, &c, 1);
    snprintf(body, size, "read=%ld", n);
}

static void readv_sparse(char *body, size_t size) {
    char path[512];
    path_in(path, sizeof path, "sparse");
    int fd = open(path, O_RDONLY);
    static char buffer[16 << 20];
    static struct iovec many[1024];
    for (int i = 0; i < 1024; i++) many[i] = (struct iovec){buffer, sizeof buffer};
    ssize_t n = readv(fd, many, 1024);
    snprintf(body, size, "readv=%zd", n);
}

static void do_ppoll(char *body, size_t size) {
    int p[2];
    pipe(p);
    struct pollfd pf = {.fd = p[0], .events = POLLIN};
    struct timespec ts = {LONG_MAX / 2, 0};
    int n = ppoll(&pf, 1, &ts, NULL);
    snprintf(body, size, "returned=%d", n);
}

static void stdout_flood(char *body, size_t size) {
    static char chunk[65536];
    memset(chunk, 'x', sizeof chunk);
    long total = 0;
    for (int i = 0; i < 128; i++) {
        long n = write(1, chunk, sizeof chunk);
        if (n > 0) total += n;
    }
    snprintf(body, size, "flooded=%ld", total);
}

static void console_huge(char *body, size_t size) {
    size_t len = 1UL << 30;
    char *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    long n = p == MAP_FAILED ? -1 : write(2, p, len);
    snprintf(body, size, "wrote=%ld", n);
}

static void memory_unmap(char *body, size_t size) {
    size_t len = 3UL << 30;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        snprintf(body, size, "mmap=%s", en(errno));
        return;
    }
    int a = madvise(p, len, MADV_DONTNEED);
    char *q = mmap(p, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    int u = munmap(p, len);
    snprintf(body, size, "madvise=%d fixed=%s munmap=%d", a, q == p ? "ok" : en(errno), u);
}

static void memory_maps(char *body, size_t size) {
    /* A free gigabyte, then one page in every two of it: nothing to merge. */
    size_t span = 1UL << 30;
    char *base = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    munmap(base, span);
    long mapped = 0, enomem = 0;
    for (long i = 0; i < 1000000 && enomem < 16 && (size_t) (i * 8192) < span; i++) {
        void *at = base + i * 8192;
        void *r = mmap(at, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (r == MAP_FAILED) {
            if (errno == ENOMEM) enomem++;
        } else {
            mapped++;
        }
    }
    int fd = open("/proc/self/maps", O_RDONLY);
    long bytes = 0, lines = 0;
    static char buf[65536];
    long n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        bytes += n;
        for (long i = 0; i < n; i++) lines += buf[i] == '\n';
    }
    snprintf(body, size, "mapped=%ld enomem=%ld lines=%ld bytes=%ld", mapped, enomem, lines, bytes);
}

static void memory_scatter(char *body, size_t size, long gib) {
    long scattered = 0;
    int last = 0;
    for (long i = 0; i < 4096; i++) {
        char *at = (char *) (gib << 30) + (i << 26);
        char *r = mmap(at, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (r == MAP_FAILED) {
            last = errno;
            if (errno == EEXIST) continue; /* the program's own mappings near the top */
            break;
        }
        r[0] = 1;
        scattered++;
    }
    snprintf(body, size, "scattered=%ld errno=%s", scattered, en(last));
}

static void memory_far(char *body, size_t size, long mb) {
    char *at = (char *) (100UL << 30);
    char *p = mmap(at, (size_t) mb << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                   -1, 0);
    if (p == MAP_FAILED) {
        snprintf(body, size, "mmap=%s", en(errno));
        return;
    }
    for (size_t i = 0; i < (size_t) mb << 20; i += 4096) p[i] = 1;
    snprintf(body, size, "touched=%ld", mb);
}

static void read_zero(char *body, size_t size, long mb) {
    size_t len = (size_t) mb << 20;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    int fd = open("/dev/zero", O_RDONLY);
    long n = read(fd, p, len);
    snprintf(body, size, "read=%ld", n);
}

static void sockopts(char *body, size_t size) {
    int one = 1, seven = 7, three = 3;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int s6 = socket(AF_INET6, SOCK_STREAM, 0);
#define TRY(fd, lvl, name, v) (setsockopt(fd, lvl, name, &(v), sizeof(v)) < 0 ? errno : 0)
    int transparent = TRY(s, IPPROTO_IP, IP_TRANSPARENT, one);
    int freebind = TRY(s, IPPROTO_IP, IP_FREEBIND, one);
    int mark = TRY(s, SOL_SOCKET, SO_MARK, one);
    int prio7 = TRY(s, SOL_SOCKET, SO_PRIORITY, seven);
    int prio3 = TRY(s, SOL_SOCKET, SO_PRIORITY, three);
    int v6 = TRY(s6, IPPROTO_IPV6, IPV6_TRANSPARENT, one);
    snprintf(body, size, "transparent=%s freebind=%s mark=%s prio7=%s prio3=%s v6transparent=%s", en(transparent),
             en(freebind), en(mark), en(prio7), en(prio3), en(v6));
}

static void names(char *body, size_t size) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/u.sock", dir);
    unlink(a.sun_path);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    int b = bind(s, (struct sockaddr *) &a, sizeof a);
    struct sockaddr_un got = {0};
    socklen_t l = sizeof got;
    getsockname(s, (struct sockaddr *) &got, &l);
    char exe[512] = {0};
    readlink("/proc/self/exe", exe, sizeof exe - 1);
    const char *execfn = (const char *) getauxval(AT_EXECFN);
    snprintf(body, size, "bind=%d sock=%s exe=%s execfn=%s", b, got.sun_path, exe, execfn ? execfn : "");
    unlink(a.sun_path);
}

static void rcvtimeo(char *body, size_t size) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    struct timeval tv = {0, 200000};
    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char c;
    long t0 = now_ms();
    long n = recv(sv[0], &c, 1, 0);
    long took = now_ms() - t0;
    snprintf(body, size, "recv=%ld errno=%s waited=%s", n, en(n < 0 ? errno : 0), took >= 150 ? "yes" : "no");
}

static void lock_hold(char *body, size_t size, long ms) {
    char p[512], marker[512];
    path_in(p, sizeof p, "lockfile");
    path_in(marker, sizeof marker, "locked");
    int fd = open(p, O_RDWR | O_CREAT, 0644);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    int rc = fcntl(fd, F_SETLK, &fl);
    int f = open(p, O_RDONLY);
    int fr = flock(f, LOCK_EX | LOCK_NB);
    close(open(marker, O_CREAT | O_WRONLY, 0644));
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
    unlink(marker);
    snprintf(body, size, "held=%s flock=%s", en(rc < 0 ? errno : 0), en(fr < 0 ? errno : 0));
}

static void lock_try(char *body, size_t size) {
    char p[512];
    path_in(p, sizeof p, "lockfile");
    int fd = open(p, O_RDWR | O_CREAT, 0644);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    int rc = fcntl(fd, F_SETLK, &fl);
    int e1 = rc < 0 ? errno : 0;
    struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    fcntl(fd, F_GETLK, &q);
    int f = open(p, O_RDONLY);
    int fr = flock(f, LOCK_EX | LOCK_NB);
    snprintf(body, size, "try=%s getlk=%s flock=%s", en(e1), q.l_type == F_UNLCK ? "unlocked" : "locked",
             en(fr < 0 ? errno : 0));
}

static void race_swap(char *body, size_t size, long ms) {
    char d[512], s[512];
    path_in(d, sizeof d, "d");
    path_in(s, sizeof s, "s");
    long end = now_ms() + ms, swaps = 0;
    while (now_ms() < end) {
        if (syscall(SYS_renameat2, AT_FDCWD, d, AT_FDCWD, s, RENAME_EXCHANGE) == 0) swaps++;
    }
    /* leave d a directory again */
    struct stat st;
    if (lstat(d, &st) == 0 && S_ISLNK(st.st_mode)) syscall(SYS_renameat2, AT_FDCWD, d, AT_FDCWD, s, RENAME_EXCHANGE);
    snprintf(body, size, "swaps=%ld", swaps);
}

static void race_probe(char *body, size_t size, long ms) {
    char secret[512], sock[512], made[512];
    path_in(secret, sizeof secret, "d/secret");
    path_in(sock, sizeof sock, "d/sock");
    long end = now_ms() + ms, reads = 0, escapes = 0, created = 0, connects = 0, dirs = 0, i = 0;
    while (now_ms() < end) {
        i++;
        int fd = open(secret, O_RDONLY);
        if (fd >= 0) {
            char buf[64] = {0};
            read(fd, buf, sizeof buf - 1);
            close(fd);
            reads++;
            if (!strncmp(buf, "outside", 7)) escapes++;
        }
        snprintf(made, sizeof made, "%s/d/made-%ld", dir, i);
        fd = open(made, O_CREAT | O_WRONLY | O_EXCL, 0644);
        if (fd >= 0) {
            created++;
            close(fd);
            unlink(made);
        }
        snprintf(made, sizeof made, "%s/d/dir-%ld", dir, i);
        if (mkdir(made, 0755) == 0) {
            dirs++;
            rmdir(made);
        }
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof a.sun_path, "%.*s", (int) sizeof a.sun_path - 1, sock);
        if (connect(s, (struct sockaddr *) &a, sizeof a) == 0) connects++;
        close(s);
    }
    snprintf(body, size, "reads=%ld escapes=%ld created=%ld dirs=%ld connects=%ld", reads, escapes, created, dirs,
             connects);
}

static void dirfd_rename(char *body, size_t size) {
    char a[512], b[512], f[600];
    path_in(a, sizeof a, "dd");
    path_in(b, sizeof b, "dd-renamed");
    mkdir(a, 0755);
    snprintf(f, sizeof f, "%s/f", a);
    int w = open(f, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    write(w, "in dd", 5);
    close(w);
    int dfd = open(a, O_RDONLY | O_DIRECTORY);
    int r = rename(a, b);
    char buf[32] = {0};
    int fd = openat(dfd, "f", O_RDONLY);
    if (fd >= 0) read(fd, buf, sizeof buf - 1);
    snprintf(body, size, "rename=%d content=%s", r, fd >= 0 ? buf : en(errno));
}

static void whiteout(char *body, size_t size) {
    char a[512], b[512];
    path_in(a, sizeof a, "w1");
    path_in(b, sizeof b, "w2");
    close(open(a, O_CREAT | O_WRONLY, 0644));
    int rc = syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_WHITEOUT);
    snprintf(body, size, "whiteout=%s", en(rc < 0 ? errno : 0));
}

/* A lingering close waits until the peer took the data, up to l_linger seconds. */
static void linger_set(int fd, char *body, size_t size) {
    struct linger lg = {1, 60};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    struct linger back = {0};
    socklen_t l = sizeof back;
    getsockopt(fd, SOL_SOCKET, SO_LINGER, &back, &l);
    snprintf(body, size, "linger=%d,%d", back.l_onoff, back.l_linger);
}

static void linger_flood(int fd, char *body, size_t size) {
    struct linger lg = {1, 60};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    static char chunk[65536];
    memset(chunk, 'x', sizeof chunk);
    long sent = 0;
    for (int i = 0; i < 4096; i++) {
        ssize_t n = write(fd, chunk, sizeof chunk);
        if (n <= 0) break;
        sent += n;
    }
    snprintf(body, size, "sent=%ld", sent);
    for (;;) pause(); /* until the time limit: the reset closes the connection */
}

static void handle(int fd) {
    char path[256];
    read_request_path(fd, path, sizeof path);
    char body[2048];
    snprintf(body, sizeof body, "unknown");
    if (!strcmp(path, "/shared/write")) shared_write(body, sizeof body);
    else if (!strcmp(path, "/shared/read")) shared_read(body, sizeof body);
    else if (!strcmp(path, "/listener/hijack")) listener_hijack(body, sizeof body);
    else if (!strcmp(path, "/listener/break")) listener_break(body, sizeof body);
    else if (!strcmp(path, "/listener/options")) listener_options(body, sizeof body);
    else if (!strcmp(path, "/fifo/read")) fifo(body, sizeof body, O_RDONLY);
    else if (!strcmp(path, "/fifo/write")) fifo(body, sizeof body, O_WRONLY);
    else if (!strcmp(path, "/fifo/block")) fifo(body, sizeof body, O_RDWR);
    else if (!strcmp(path, "/ppoll")) do_ppoll(body, sizeof body);
    else if (!strcmp(path, "/readv/sparse")) readv_sparse(body, sizeof body);
    else if (!strcmp(path, "/stdout/flood")) stdout_flood(body, sizeof body);
    else if (!strcmp(path, "/console/huge")) console_huge(body, sizeof body);
    else if (!strcmp(path, "/memory/unmap")) memory_unmap(body, sizeof body);
    else if (!strcmp(path, "/memory/maps")) memory_maps(body, sizeof body);
    else if (!strncmp(path, "/memory/scatter/", 16)) memory_scatter(body, sizeof body, atol(path + 16));
    else if (!strncmp(path, "/memory/far/", 12)) memory_far(body, sizeof body, atol(path + 12));
    else if (!strncmp(path, "/read-zero/", 11)) read_zero(body, sizeof body, atol(path + 11));
    else if (!strcmp(path, "/mkdir/ro")) snprintf(body, sizeof body, "mkdir=%s", en(mkdir(rodir, 0755) < 0 ? errno : 0));
    else if (!strcmp(path, "/sockopt")) sockopts(body, sizeof body);
    else if (!strcmp(path, "/names")) names(body, sizeof body);
    else if (!strcmp(path, "/rcvtimeo")) rcvtimeo(body, sizeof body);
    else if (!strncmp(path, "/lock/hold/", 11)) lock_hold(body, sizeof body, atol(path + 11));
    else if (!strcmp(path, "/lock/try")) lock_try(body, sizeof body);
    else if (!strncmp(path, "/race/swap/", 11)) race_swap(body, sizeof body, atol(path + 11));
    else if (!strncmp(path, "/race/probe/", 12)) race_probe(body, sizeof body, atol(path + 12));
    else if (!strcmp(path, "/dirfd")) dirfd_rename(body, sizeof body);
    else if (!strcmp(path, "/whiteout")) whiteout(body, sizeof body);
    else if (!strcmp(path, "/linger/set")) linger_set(fd, body, sizeof body);
    else if (!strcmp(path, "/linger/flood")) linger_flood(fd, body, sizeof body);
    else if (!strncmp(path, "/normal/", 8)) snprintf(body, sizeof body, "ok %s", path + 8);
    else if (!strncmp(path, "/slow/", 6)) {
        long ms = atol(path + 6);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
        snprintf(body, sizeof body, "slept");
    } else if (!strcmp(path, "/crash")) {
        *(volatile int *) (long) atoi("16") = 1;
    } else if (!strcmp(path, "/loop")) {
        for (volatile long i = 0;; i++) {
        }
    }
    respond(fd, body);
}

int main(int argc, char **argv) {
    port = argc > 1 ? atoi(argv[1]) : 8000;
    dir = argc > 2 ? argv[2] : "/tmp";
    rodir = argc > 3 ? argv[3] : "/";
    signal(SIGPIPE, SIG_IGN);
    pipe(tpipe);
    write(tpipe[1], "template-pipe", 13);
    socketpair(AF_UNIX, SOCK_STREAM, 0, tpair);
    send(tpair[1], "template-pair", 13, 0);
    tevent = eventfd(5, 0);
    ttimer = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec hour = {.it_value = {3600, 0}};
    timerfd_settime(ttimer, 0, &hour, NULL);
    char fifo[512];
    path_in(fifo, sizeof fifo, "template.fifo");
    struct stat fst;
    if (stat(fifo, &fst) == 0 && S_ISFIFO(fst.st_mode)) {
        /* Unlinked, the FIFO is this process's own channel, as a pipe is: never another request's. */
        tfifo_r = open(fifo, O_RDONLY | O_NONBLOCK);
        tfifo_w = open(fifo, O_WRONLY | O_NONBLOCK);
        write(tfifo_w, "template-fifo", 13);
        unlink(fifo);
    }
    ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* As nginx's "reuseport": the host would let any socket with SO_REUSEPORT share the port. */
    setsockopt(ls, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *) &addr, sizeof addr) < 0 || listen(ls, 128) < 0) {
        perror("bind/listen");
        return 1;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    for (;;) {
        struct epoll_event events[16];
        int n = epoll_wait(ep, events, 16, -1);
        if (n < 0 && errno == EINTR) continue;
        for (int i = 0; i < n; i++) {
            if (events[i].data.fd == ls) {
                int conn;
                while ((conn = accept4(ls, NULL, NULL, 0)) >= 0) {
                    handle(conn);
                    close(conn);
                }
            }
        }
    }
}
