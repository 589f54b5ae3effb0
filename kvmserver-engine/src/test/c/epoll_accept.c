/*
 * A server for the test of the zero-timeout epoll wait the PVM syscall entry answers after an
 * accept it answered (AcceptWaitTest): an event loop that waits for its listener with room for
 * one event, accepts, and then polls its instance with a zero timeout before it reads, as
 * python3's asyncio does. Usage: epoll_accept PORT MODE, where MODE is
 *   quiet   nothing else in the instance is ready: the poll finds nothing
 *   timer   a timerfd in the instance, armed once for 20 ms before the first wait: a request
 *           VM's wait (later) finds the listener and the timer ready and, with room for one
 *           event, reports the listener; the poll after the accept must find the timer
 *   spin    after the accept, the timerfd armed for 2 ms, a poll (nothing yet), 5 ms of reading
 *           the clock in the guest without a call, and the poll answered: it must find the timer
 * Answers "events=N data=D" for the poll after the accept (D: the data of its first event, or -).
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "http_request.h"

int main(int argc, char **argv) {
    int timer = argc > 2 && !strcmp(argv[2], "timer");
    int spin = argc > 2 && !strcmp(argv[2], "spin");
    int listener = listen_on_loopback(atoi(argv[1]));
    if (listener < 0) return 1;
    int ep = epoll_watching_listener(listener);
    struct epoll_event ev = {.events = EPOLLIN};
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    ev.data.u64 = 2;
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
    if (timer) {
        struct itimerspec soon = {.it_value = {.tv_nsec = 20000000}};
        timerfd_settime(tfd, 0, &soon, NULL);
    }
    for (;;) {
        uint64_t expirations;
        while (!timer && read(tfd, &expirations, sizeof expirations) > 0) {
        }
        struct epoll_event got;
        if (epoll_wait(ep, &got, 1, -1) < 1 || got.data.u64 != 1) {
            continue;
        }
        int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            continue;
        }
        struct epoll_event polled[4];
        int n = epoll_wait(ep, polled, 4, 0);
        if (spin) {
            struct itimerspec soon = {.it_value = {.tv_nsec = 2000000}};
            timerfd_settime(tfd, 0, &soon, NULL);
            epoll_wait(ep, polled, 4, 0);
            struct timespec start, now;
            clock_gettime(CLOCK_MONOTONIC, &start);
            do {
                clock_gettime(CLOCK_MONOTONIC, &now);
            } while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < 5000000L);
            n = epoll_wait(ep, polled, 4, 0);
        }
        char path[256];
        read_request_path(fd, path, sizeof path);
        char body[64], head[128];
        int b = n > 0 ? snprintf(body, sizeof body, "events=%d data=%llu", n, (unsigned long long) polled[0].data.u64)
                      : snprintf(body, sizeof body, "events=%d data=-", n);
        int h = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", b);
        write(fd, head, h);
        write(fd, body, b);
        close(fd);
    }
}
