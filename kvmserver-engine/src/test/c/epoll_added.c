/*
 * A server for the test of the epoll wait the PVM syscall entry answers right after the
 * program adds the connection to its instance (WaitAfterAddTest), as nginx and python3's asyncio
 * do: wait for the listener, accept, add the connection, wait. Usage: epoll_added PORT MODE,
 * where MODE is
 *   plain    EPOLLIN: the wait, then the read, the response and the close, nothing else
 *   level    EPOLLIN, and a second zero-timeout wait before the read: level-triggered, the
 *            connection is still readable
 *   edge     EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET (nginx's): a second zero-timeout wait
 *            before the read finds nothing, the edge having been reported
 *   oneshot  EPOLLIN | EPOLLONESHOT: a second zero-timeout wait finds nothing
 *   out      EPOLLOUT only: the bytes waiting do not make it report EPOLLIN
 *   busy     an eventfd in the instance, written after the accept (a call the host answers):
 *            the wait after the add finds it too
 *   early    the request is read before the add (a zero-timeout wait then finds nothing to read)
 *   badfd    before the accept, an add of fd -1 (EBADF), then as plain
 *   badbuf   the wait gets an events array outside the address space (EFAULT), then one with
 *            maxevents 0 (EINVAL), then a good one
 *   python   EPOLLIN, as python3's asyncio: the wait, the read of the request, a zero-timeout
 *            wait (nothing left to read: 0), the DEL of the connection, another (0)
 *   pybig    the same for a request of 5000 bytes of which the server reads 3584 (what the host
 *            reads ahead), so the wait after the read finds the rest (1)
 * Answers "n=N events=0xE data=D second=S" (the wait after the add: how many, the first one's
 * events and data; S: what a second zero-timeout wait returned, or -2 when not made), and for
 * badbuf "efault=A einval=B n=N events=0xE"; badfd prefixes "badfd=E "; python and pybig
 * "n=N events=0xE read=R deleted=D" (R, D: the waits after the read and after the DEL).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_request.h"

static int mode_is(const char *mode, const char *name) {
    return !strcmp(mode, name);
}

int main(int argc, char **argv) {
    const char *mode = argc > 2 ? argv[2] : "plain";
    int listener = listen_on_loopback(atoi(argv[1]));
    if (listener < 0) return 1;
    int ep = epoll_watching_listener(listener);
    struct epoll_event ev = {.events = EPOLLIN};
    int efd = -1;
    if (mode_is(mode, "busy")) {
        efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        ev.data.u64 = 2;
        epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
    }
    uint32_t wanted = EPOLLIN;
    if (mode_is(mode, "edge")) wanted = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    if (mode_is(mode, "oneshot")) wanted = EPOLLIN | EPOLLONESHOT;
    if (mode_is(mode, "out")) wanted = EPOLLOUT;
    int second_wait = mode_is(mode, "level") || mode_is(mode, "edge") || mode_is(mode, "oneshot");
    for (;;) {
        struct epoll_event got[8];
        if (!listener_reported(got, epoll_wait(ep, got, 8, -1))) {
            continue;
        }
        int badfd = -2;
        if (mode_is(mode, "badfd")) {
            ev.events = EPOLLIN;
            badfd = epoll_ctl(ep, EPOLL_CTL_ADD, -1, &ev) < 0 ? errno : 0;
        }
        int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            continue;
        }
        if (efd >= 0) {
            uint64_t one = 1;
            write(efd, &one, sizeof one);
        }
        char path[256];
        if (mode_is(mode, "early")) read_request_path(fd, path, sizeof path);
        ev.events = wanted;
        ev.data.u64 = 7;
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        char body[128];
        int b;
        if (mode_is(mode, "python") || mode_is(mode, "pybig")) {
            int n = epoll_wait(ep, got, 8, 1000);
            static char request[3584];
            if (mode_is(mode, "pybig")) {
                for (int got_bytes = 0, r; got_bytes < (int) sizeof request; got_bytes += r) {
                    r = read(fd, request + got_bytes, sizeof request - got_bytes);
                    if (r <= 0) break;
                }
            } else {
                read_request_path(fd, path, sizeof path);
            }
            int after_read = epoll_wait(ep, got + 4, 4, 0);
            epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
            int after_delete = epoll_wait(ep, got + 4, 4, 0);
            if (after_read > 0) {
                read(fd, request, sizeof request); /* the rest: closing with it unread would reset */
            }
            b = snprintf(body, sizeof body, "n=%d events=0x%x read=%d deleted=%d", n, n > 0 ? got[0].events : 0,
                         after_read, after_delete);
        } else if (mode_is(mode, "badbuf")) {
            int efault = epoll_wait(ep, (struct epoll_event *) 8, 8, 1000) < 0 ? errno : 0;
            int einval = epoll_wait(ep, got, 0, 1000) < 0 ? errno : 0;
            int n = epoll_wait(ep, got, 8, 1000);
            b = snprintf(body, sizeof body, "efault=%d einval=%d n=%d events=0x%x", efault, einval, n,
                         n > 0 ? got[0].events : 0);
        } else {
            int n = epoll_wait(ep, got, 8, mode_is(mode, "early") ? 0 : 1000);
            int s = second_wait ? epoll_wait(ep, got + 4, 4, 0) : -2;
            b = badfd != -2 ? snprintf(body, sizeof body, "badfd=%d ", badfd) : 0;
            b += snprintf(body + b, sizeof body - b, "n=%d events=0x%x data=%llu second=%d", n, n > 0 ? got[0].events : 0,
                         n > 0 ? (unsigned long long) got[0].data.u64 : 0ULL, s);
        }
        if (!mode_is(mode, "early") && !mode_is(mode, "python") && !mode_is(mode, "pybig")) {
            read_request_path(fd, path, sizeof path);
        }
        write_response(fd, body, b);
        close(fd);
    }
}
