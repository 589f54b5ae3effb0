/*
 * A server for the test of the zero-timeout epoll waits the PVM syscall entry answers with 0
 * because the host polled the instance before the entry and found nothing ready
 * (QuietWaitTest), as python3's asyncio polls between its accept and its close. The loop: wait
 * for the listener (data 1), accept, add the connection (EPOLLIN, data 7), wait, read the
 * request; then, by MODE:
 *   quiet     getppid (a call the host answers), then five zero-timeout waits
 *   more      a "+" written once the request is read, 300 ms asleep (the client, seeing the
 *             "+", sends more bytes meanwhile), then one zero-timeout wait
 *   eventfd   an eventfd in the instance (data 2) written, then one zero-timeout wait
 *   timer     a timerfd in the instance (data 3) armed for 2 ms, getppid (the host looks, before
 *             the timer is due), 5 ms of reading the clock in the guest, one zero-timeout wait
 *   listener  as more, and another client connects when the first sees the "+" (the VM is not
 *             ephemeral, so its listener may accept it), then one zero-timeout wait
 *   unread    getppid before the request is read (the host looks while its bytes wait), then,
 *             the request read, five zero-timeout waits
 *   unread-ended  as unread for a client that shuts its side down after the request: the end of
 *             the stream awaited (poll for POLLRDHUP) before the host looks
 *   partial   getppid before the request is read, one byte of it read, one zero-timeout wait
 *             (the rest is still there), then the rest read
 *   big       as partial for a request larger than the host reads ahead (3584 bytes): those
 *             read, one zero-timeout wait (more is there), then the rest read
 *   writable  as unread, with the connection added for EPOLLIN | EPOLLOUT: one zero-timeout wait
 *             after the request is read finds it writable
 * Answers "waits=R1,R2,... data=D" (each wait's result; D: the first event's data of the last
 * wait that found one, or -).
 * Usage: epoll_quiet PORT MODE
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "http_request.h"

int main(int argc, char **argv) {
    const char *mode = argc > 2 ? argv[2] : "quiet";
    int listener = listen_on_loopback(atoi(argv[1]));
    if (listener < 0) return 1;
    int ep = epoll_watching_listener(listener);
    struct epoll_event ev = {.events = EPOLLIN};
    int efd = -1;
    if (!strcmp(mode, "eventfd")) {
        efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        ev.data.u64 = 2;
        epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
    }
    int tfd = -1;
    if (!strcmp(mode, "timer")) {
        tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        ev.data.u64 = 3;
        epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
    }
    int shut_down = !strcmp(mode, "unread-ended");
    int waits = !strcmp(mode, "quiet") || !strcmp(mode, "unread") || shut_down ? 5 : 1;
    int unread = !strcmp(mode, "unread") || !strcmp(mode, "partial") || !strcmp(mode, "big")
                 || !strcmp(mode, "writable") || shut_down;
    for (;;) {
        struct epoll_event got[8];
        int fd = accept_when_reported(ep, listener);
        if (fd < 0) {
            continue;
        }
        ev.events = !strcmp(mode, "writable") ? EPOLLIN | EPOLLOUT : EPOLLIN;
        ev.data.u64 = 7;
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        epoll_wait(ep, got, 8, 1000);
        char path[256];
        if (unread) {
            if (shut_down) {
                /* The client's end of the stream too, before the host looks: it may come after
                 * the request (a client's write and its shutdown are two calls). */
                struct pollfd end = {.fd = fd, .events = POLLRDHUP};
                poll(&end, 1, 1000);
            }
            syscall(SYS_getppid);
        }
        static char head_part[3584];
        if (!strcmp(mode, "partial")) {
            read(fd, head_part, 1);
        } else if (!strcmp(mode, "big")) {
            for (int got_bytes = 0, n; got_bytes < (int) sizeof head_part; got_bytes += n) {
                n = read(fd, head_part + got_bytes, sizeof head_part - got_bytes);
                if (n <= 0) break;
            }
        } else {
            read_request_path(fd, path, sizeof path);
        }
        if (!strcmp(mode, "quiet")) {
            syscall(SYS_getppid);
        } else if (tfd >= 0) {
            struct itimerspec soon = {.it_value = {.tv_nsec = 2000000}};
            timerfd_settime(tfd, 0, &soon, NULL);
            syscall(SYS_getppid);
            struct timespec start, now;
            clock_gettime(CLOCK_MONOTONIC, &start);
            do {
                clock_gettime(CLOCK_MONOTONIC, &now);
            } while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < 5000000L);
        } else if (efd >= 0) {
            uint64_t one = 1;
            write(efd, &one, sizeof one);
        } else if (unread) {
            /* the waits below */
        } else if (!strcmp(mode, "more") || !strcmp(mode, "listener")) {
            /* The client sends more when it sees this: after the read, whatever the load. */
            write(fd, "+", 1);
            struct timespec nap = {.tv_nsec = 300000000};
            nanosleep(&nap, NULL);
        } else {
            struct timespec nap = {.tv_nsec = 100000000};
            nanosleep(&nap, NULL);
        }
        char body[128];
        int b = snprintf(body, sizeof body, "waits=");
        unsigned long long data = 0;
        int found = 0;
        for (int i = 0; i < waits; i++) {
            int r = epoll_wait(ep, got, 8, 0);
            if (r > 0) {
                data = got[0].data.u64;
                found = 1;
            }
            b += snprintf(body + b, sizeof body - b, i ? ",%d" : "%d", r);
        }
        b += found ? snprintf(body + b, sizeof body - b, " data=%llu", data) : snprintf(body + b, sizeof body - b, " data=-");
        if (efd >= 0 || tfd >= 0) {
            uint64_t count;
            read(efd >= 0 ? efd : tfd, &count, sizeof count);
        }
        if (!strcmp(mode, "partial") || !strcmp(mode, "big")) {
            read_request_path(fd, path, sizeof path);
        }
        if (!strcmp(mode, "more")) {
            char extra[5]; /* read before the close, which would otherwise reset the connection */
            read(fd, extra, sizeof extra);
        }
        epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
        write_response(fd, body, b);
        close(fd);
    }
}
