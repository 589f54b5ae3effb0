/*
 * A server for the tests of the calls the syscall entry answers in the guest on PVM hosts
 * (GuestCallsTest): a non-blocking listener polled like an event loop's, one request per
 * connection, and a request that tries again to accept (EAGAIN) before it waits. Paths:
 *   /parts/N      the response in N writes (header, then the body a byte per write): queued in the
 *                 guest up to 8 at a time, the rest through the host, all in order
 *   /sendto       the response by sendto(..., MSG_NOSIGNAL, NULL, 0)
 *   /shutdown     the response, then shutdown(SHUT_WR) and a write (EPIPE): "shutdown=0
 *                 write=EPIPE" on stderr; then it reads to the client's end
 *   /fcntl        the connection's status flags as php -S reads and sets them (F_GETFL, F_SETFL
 *                 with O_NONBLOCK), read back, a read that then fails with EAGAIN, the flags set
 *                 back, O_APPEND set and read back, and F_GETFL with bits above the 32 of cmd:
 *                 "getfl=0x2 setfl=0 nonblock=0x802 read=EAGAIN back=0 0x2 append=0 0x402 wide=0x2"
 *   /shutrdwr     the response, then shutdown(SHUT_RDWR), a write (EPIPE) and a read (0):
 *                 "rdwr=0 write=EPIPE read=0" on stderr
 *   /php          what php -S does on its connection: F_GETFL, F_SETFL with O_NONBLOCK, the
 *                 response, shutdown(SHUT_RDWR): "php"
 *   /writev/N     the response by one writev of N iovecs (the header, then a byte each): up to 8
 *                 queued in the guest, more through the host
 *   /badiov       writev from an unmapped iovec array, and of an iovec whose base is unmapped:
 *                 "efault efault"
 *   /big          a 12000-byte body in one write: more than the guest queue takes
 *   /efault       a write from an unmapped address and one that runs into an unmapped page:
 *                 "efault efault" when both fail with EFAULT, as on Linux
 *   /spin/MS      the response, then MS milliseconds of computing without a call: the client
 *                 must have the response long before the close
 *   /crash        the response, then a fault that kills the program: the response still arrives
 *   /options      FIONBIO and TCP_NODELAY set (queued) and read back (through the host, after the
 *                 queue), getsockname whole, cut short (4 bytes, the full length back) and with a
 *                 negative length, the three with bad pointers, keepalive set as Go and redis set
 *                 it and read back, and the keepalive values at the edges of Linux's ranges:
 *                 "nonblock=1 nodelay=1 name=A.B.C.D:PORT/16 short=2/16 EINVAL EFAULT EFAULT EFAULT
 *                 keepalive=1/30/5/4 E0EEE0E"
 *   /epoll        zero-timeout waits that find nothing (three in a row), then ones that must find
 *                 what a call made ready since (a pipe written, a ready fd added; a removal keeps it
 *                 empty): "0 0 0 pipe=1 del=0 add=1"
 *   /epollctl     the connection added to and removed from an epoll instance, each change seen
 *                 by the next wait, as Linux answers them (queued in the guest where the host
 *                 published the registration): "add=0 wait=1 data=ok exist=EEXIST del=0
 *                 noent=ENOENT wait=0 add=0 wait=1 del=0 fault=EFAULT excl=0"
 *   /polls/N      N zero-timeout waits in a row on an instance with nothing ready: "polled"
 *   /spinpoll     writes "ready\n", then polls the connection with zero-timeout waits and nothing
 *                 else until the client's next byte arrives (at most 5 s): "saw X" or "starved"
 *   /accept       accept4 on the listener after the request's connection: "EAGAIN EINVAL EBADF"
 *                 for valid flags, unknown flags and fd -1
 *   /answers      reads the answer page and the queue page's connection fd ("fd=FD conn=FD
 *                 accept=FD queued=FD flags=F listener=FD" as the program saw them while it had
 *                 written nothing) and tries to write the answer page: "protected" if that faults
 *   /forge        writes queue entries of its own after what it queued (to stdout, outside the
 *                 data area, too many), makes a call, and answers "survived": the host must drop
 *                 every one of them
 * Usage: guest_calls PORT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "http_request.h"

#define ANSWERS 0xb000UL
#define QUEUE 0xc000UL

static sigjmp_buf escape;

static void on_segv(int sig) {
    (void) sig;
    siglongjmp(escape, 1);
}

static void header(int fd, size_t length) {
    char h[128];
    int n = snprintf(h, sizeof h, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", length);
    write(fd, h, n);
}

static void respond(int fd, const char *body) {
    header(fd, strlen(body));
    write(fd, body, strlen(body));
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void serve(int listener, int fd, const char *path) {
    if (!strncmp(path, "/parts/", 7)) {
        int n = atoi(path + 7);
        header(fd, n - 1);
        for (int i = 1; i < n; i++) {
            char c = 'a' + i % 26;
            write(fd, &c, 1);
        }
    } else if (!strcmp(path, "/sendto")) {
        const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsendto";
        sendto(fd, r, strlen(r), MSG_NOSIGNAL, NULL, 0);
    } else if (!strcmp(path, "/shutdown")) {
        /* the response, then shut down for writing: a write after it fails with EPIPE (what
           happened goes to stderr), and the client's end can still be read */
        respond(fd, "shut");
        int r1 = shutdown(fd, SHUT_WR);
        int w = write(fd, "late", 4);
        int ew = errno;
        fprintf(stderr, "shutdown=%d write=%s\n", r1, w == -1 && ew == EPIPE ? "EPIPE" : "other");
        char rest[16];
        while (read(fd, rest, sizeof rest) > 0) {
        }
    } else if (!strcmp(path, "/fcntl")) {
        char result[160];
        int before = fcntl(fd, F_GETFL);
        int set = fcntl(fd, F_SETFL, before | O_NONBLOCK);
        int after = fcntl(fd, F_GETFL);
        char c;
        long r = read(fd, &c, 1);
        int er = errno;
        int back = fcntl(fd, F_SETFL, before);
        int again = fcntl(fd, F_GETFL);
        int append = fcntl(fd, F_SETFL, before | O_APPEND);
        int appended = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, before);
        long wide = syscall(SYS_fcntl, fd, F_GETFL | (1ul << 32));
        snprintf(result, sizeof result, "getfl=%#x setfl=%d nonblock=%#x read=%s back=%d %#x append=%d %#x wide=%#lx",
                 before, set, after, r == -1 && er == EAGAIN ? "EAGAIN" : "other", back, again, append, appended, wide);
        respond(fd, result);
    } else if (!strcmp(path, "/shutrdwr")) {
        respond(fd, "rdwr");
        int rs = shutdown(fd, SHUT_RDWR);
        int w = write(fd, "late", 4);
        int ew = errno;
        char rest[16];
        long r = read(fd, rest, sizeof rest);
        fprintf(stderr, "rdwr=%d write=%s read=%ld\n", rs, w == -1 && ew == EPIPE ? "EPIPE" : "other", r);
    } else if (!strcmp(path, "/php")) {
        int flags = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
        respond(fd, "php");
        shutdown(fd, SHUT_RDWR);
    } else if (!strncmp(path, "/writev/", 8)) {
        int n = atoi(path + 8);
        char h[128], body[64];
        struct iovec iov[64];
        int hl = snprintf(h, sizeof h, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", n - 1);
        iov[0] = (struct iovec){h, hl};
        for (int i = 1; i < n; i++) {
            body[i] = 'a' + i % 26;
            iov[i] = (struct iovec){body + i, 1};
        }
        writev(fd, iov, n);
    } else if (!strcmp(path, "/badiov")) {
        char result[64];
        struct iovec *volatile nowhere = (struct iovec *) 16;
        long r1 = writev(fd, nowhere, 1);
        int e1 = errno;
        struct iovec bad[2] = {{"x", 1}, {(void *) 16, 4}};
        long r2 = writev(fd, bad, 2);
        int e2 = errno;
        snprintf(result, sizeof result, "%s %s", r1 == -1 && e1 == EFAULT ? "efault" : "wrote",
                 r2 == -1 && e2 == EFAULT ? "efault" : "wrote");
        respond(fd, result);
    } else if (!strcmp(path, "/big")) {
        static char body[12000];
        for (size_t i = 0; i < sizeof body; i++) body[i] = 'A' + i % 26;
        header(fd, sizeof body);
        write(fd, body, sizeof body);
    } else if (!strcmp(path, "/efault")) {
        char result[64];
        void *volatile nowhere = (void *) 16;
        long r1 = write(fd, nowhere, 10);
        int e1 = errno;
        char *two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        memset(two, 'x', 8192);
        munmap(two + 4096, 4096);
        long r2 = write(fd, two + 4000, 200);
        int e2 = errno;
        snprintf(result, sizeof result, "%s %s", r1 == -1 && e1 == EFAULT ? "efault" : "wrote",
                 r2 == -1 && e2 == EFAULT ? "efault" : "wrote");
        respond(fd, result);
    } else if (!strncmp(path, "/spin/", 6)) {
        respond(fd, "spinning");
        double until = now_ms() + atoi(path + 6);
        volatile unsigned long spins = 0;
        while (now_ms() < until) spins++; /* clock_gettime is the vDSO's: no call */
    } else if (!strcmp(path, "/crash")) {
        respond(fd, "crashing");
        volatile int *volatile null_page = (int *) 8;
        *null_page = 1;
    } else if (!strcmp(path, "/options")) {
        char result[256];
        int one = 1, value = 0;
        socklen_t vlen = sizeof value;
        ioctl(fd, FIONBIO, &one);
        int nonblock = (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, &vlen);
        struct sockaddr_in name;
        socklen_t nlen = sizeof name;
        getsockname(fd, (struct sockaddr *) &name, &nlen);
        struct sockaddr_in cut = {0};
        socklen_t clen = 4;
        getsockname(fd, (struct sockaddr *) &cut, &clen);
        socklen_t negative = (socklen_t) -1;
        int rn = getsockname(fd, (struct sockaddr *) &cut, &negative);
        int en = errno;
        void *volatile nowhere = (void *) 16;
        int rb = getsockname(fd, nowhere, &nlen);
        int eb = errno;
        int rs = setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, nowhere, sizeof one);
        int es = errno;
        int ri = ioctl(fd, FIONBIO, nowhere);
        int ei = errno;
        /* keepalive as Go and redis set it: each value read back, then the ranges' edges */
        int idle = 30, intvl = 5, cnt = 4, got[4];
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
        const int options[4][2] = {{SOL_SOCKET, SO_KEEPALIVE}, {IPPROTO_TCP, TCP_KEEPIDLE},
                                   {IPPROTO_TCP, TCP_KEEPINTVL}, {IPPROTO_TCP, TCP_KEEPCNT}};
        for (int i = 0; i < 4; i++) {
            vlen = sizeof got[i];
            getsockopt(fd, options[i][0], options[i][1], &got[i], &vlen);
        }
        const int edges[][3] = {{TCP_KEEPIDLE, 0}, {TCP_KEEPIDLE, 32767}, {TCP_KEEPIDLE, 32768},
                                {TCP_KEEPINTVL, -1}, {TCP_KEEPINTVL, 32768}, {TCP_KEEPCNT, 127}, {TCP_KEEPCNT, 128}};
        char edge[64] = "";
        for (unsigned i = 0; i < sizeof edges / sizeof edges[0]; i++) {
            int rc = setsockopt(fd, IPPROTO_TCP, edges[i][0], &edges[i][1], sizeof(int));
            strcat(edge, rc == 0 ? "0" : errno == EINVAL ? "E" : "?");
        }
        unsigned char *ip = (unsigned char *) &name.sin_addr;
        snprintf(result, sizeof result,
                 "nonblock=%d nodelay=%d name=%d.%d.%d.%d:%d/%u short=%d/%u %s %s %s %s keepalive=%d/%d/%d/%d %s",
                 nonblock, value != 0, ip[0], ip[1], ip[2], ip[3], ntohs(name.sin_port), (unsigned) nlen,
                 cut.sin_family, (unsigned) clen, rn == -1 && en == EINVAL ? "EINVAL" : "other",
                 rb == -1 && eb == EFAULT ? "EFAULT" : "other", rs == -1 && es == EFAULT ? "EFAULT" : "other",
                 ri == -1 && ei == EFAULT ? "EFAULT" : "other", got[0] != 0, got[1], got[2], got[3], edge);
        int zero = 0;
        ioctl(fd, FIONBIO, &zero);
        respond(fd, result);
    } else if (!strcmp(path, "/epoll")) {
        char result[96];
        struct epoll_event ev[4];
        int ep = epoll_create1(EPOLL_CLOEXEC);
        int p[2], q[2];
        pipe(p);
        pipe(q);
        write(q[1], "q", 1);
        struct epoll_event in = {.events = EPOLLIN};
        epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &in);
        int a = epoll_wait(ep, ev, 4, 0), b = epoll_wait(ep, ev, 4, 0), c = epoll_wait(ep, ev, 4, 0);
        write(p[1], "p", 1);
        int d = epoll_wait(ep, ev, 4, 0);
        epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL);
        int e = epoll_wait(ep, ev, 4, 0);
        epoll_ctl(ep, EPOLL_CTL_ADD, q[0], &in);
        int f = epoll_wait(ep, ev, 4, 0);
        snprintf(result, sizeof result, "%d %d %d pipe=%d del=%d add=%d", a, b, c, d, e, f);
        respond(fd, result);
    } else if (!strcmp(path, "/epollctl")) {
        char result[160];
        int ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event out = {.events = EPOLLOUT, .data.u64 = 0x1122334455667788ULL}, ev[4];
        struct epoll_event excl = {.events = EPOLLOUT | EPOLLEXCLUSIVE};
        int add1 = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &out);
        int wait1 = epoll_wait(ep, ev, 4, 0);
        int data = wait1 == 1 && ev[0].data.u64 == 0x1122334455667788ULL && (ev[0].events & EPOLLOUT);
        int exist = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &out) == -1 && errno == EEXIST;
        int del1 = epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
        int noent = epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL) == -1 && errno == ENOENT;
        int wait2 = epoll_wait(ep, ev, 4, 0);
        int add2 = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &out);
        int wait3 = epoll_wait(ep, ev, 4, 0);
        int del2 = epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
        struct epoll_event *volatile nowhere = (struct epoll_event *) 16;
        int fault = epoll_ctl(ep, EPOLL_CTL_ADD, fd, nowhere) == -1 && errno == EFAULT;
        int ex = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &excl);
        snprintf(result, sizeof result,
                 "add=%d wait=%d data=%s exist=%s del=%d noent=%s wait=%d add=%d wait=%d del=%d fault=%s excl=%d",
                 add1, wait1, data ? "ok" : "wrong", exist ? "EEXIST" : "other", del1, noent ? "ENOENT" : "other",
                 wait2, add2, wait3, del2, fault ? "EFAULT" : "other", ex);
        respond(fd, result);
    } else if (!strncmp(path, "/polls/", 7)) {
        int ep = epoll_create1(EPOLL_CLOEXEC), p[2];
        struct epoll_event in = {.events = EPOLLIN}, ev[2];
        pipe(p);
        epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &in);
        for (int i = atoi(path + 7); i > 0; i--) epoll_wait(ep, ev, 2, 0);
        respond(fd, "polled");
    } else if (!strcmp(path, "/spinpoll")) {
        int ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event in = {.events = EPOLLIN}, ev[2];
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &in);
        header(fd, 6 + 5);
        write(fd, "ready\n", 6);
        double until = now_ms() + 5000;
        int n = 0;
        while (n == 0 && now_ms() < until) n = epoll_wait(ep, ev, 2, 0);
        char c = '?', result[16];
        if (n > 0) read(fd, &c, 1);
        snprintf(result, sizeof result, n > 0 ? "saw %c" : "starv", c);
        write(fd, result, 5);
    } else if (!strcmp(path, "/accept")) {
        char result[64];
        int a = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        int e1 = errno;
        int b = accept4(listener, NULL, NULL, 0x40);
        int e2 = errno;
        int c = accept4(-1, NULL, NULL, 0);
        int e3 = errno;
        snprintf(result, sizeof result, "%s %s %s", a == -1 && e1 == EAGAIN ? "EAGAIN" : "accepted",
                 b == -1 && e2 == EINVAL ? "EINVAL" : "other", c == -1 && e3 == EBADF ? "EBADF" : "other");
        respond(fd, result);
    } else if (!strcmp(path, "/answers")) {
        char result[128];
        volatile int32_t *answers = (int32_t *) ANSWERS;
        volatile int32_t *queue = (int32_t *) QUEUE;
        snprintf(result, sizeof result, "fd=%d conn=%d accept=%d queued=%d flags=%d listener=%d", fd, answers[0],
                 answers[40], queue[25], answers[1], answers[2]);
        signal(SIGSEGV, on_segv);
        const char *protection = "writable";
        if (sigsetjmp(escape, 1) == 0) {
            answers[2] = fd; /* would make the entry answer EAGAIN for the connection */
        } else {
            protection = "protected";
        }
        strcat(result, " ");
        strcat(result, protection);
        respond(fd, result);
    } else if (!strcmp(path, "/forge")) {
        volatile uint32_t *q = (uint32_t *) QUEUE;
        const char *forged = "FORGED\n";
        memcpy((char *) (QUEUE + 608), forged, strlen(forged)); /* the queued writes' bytes (GuestCallPages.DATA) */
        /* after what the program queued: a write to stdout, a write past the data area, then a
           count of a thousand */
        uint32_t n = q[0] < 7 ? q[0] : 6;
        volatile uint32_t *e = q + 32 + 4 * n;
        e[0] = 1, e[1] = 1, e[2] = 0, e[3] = (uint32_t) strlen(forged);
        e[4] = 1, e[5] = (uint32_t) fd, e[6] = 4000, e[7] = 1000;
        q[0] = n + 2;
        getppid();
        q[0] = 1000;
        getppid();
        q[0] = 0xffffffffu;
        getppid();
        respond(fd, "survived");
    } else {
        respond(fd, "unknown");
    }
}

int main(int argc, char **argv) {
    /* a client that left (a probe that connects and closes) must not end the server natively */
    signal(SIGPIPE, SIG_IGN);
    int listener = listen_on_loopback(atoi(argv[1]));
    if (listener < 0) return 1;
    for (;;) {
        struct pollfd p = {.fd = listener, .events = POLLIN};
        poll(&p, 1, -1);
        for (;;) {
            int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
            if (fd < 0) break;
            char path[256];
            read_request_path(fd, path, sizeof path);
            serve(listener, fd, path);
            close(fd);
        }
    }
}
