/* Exercises the waiting family outside a server: poll, ppoll, select, pselect, epoll with
 * timeouts, eventfd and timerfd. Prints one line per check. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(void) {
    int p[2];
    pipe2(p, O_NONBLOCK);
    struct pollfd pf = {.fd = p[0], .events = POLLIN};
    int r = poll(&pf, 1, 0);
    printf("poll empty=%d\n", r);
    write(p[1], "x", 1);
    r = poll(&pf, 1, 1000);
    printf("poll ready=%d revents_in=%d\n", r, (pf.revents & POLLIN) != 0);

    struct timespec ts = {0, 50 * 1000 * 1000};
    struct pollfd never = {.fd = -1, .events = POLLIN};
    double t0 = now();
    r = ppoll(&never, 1, &ts, NULL);
    printf("ppoll timeout=%d waited=%d\n", r, now() - t0 >= 0.045);

    struct pollfd bad = {.fd = 999, .events = POLLIN};
    r = poll(&bad, 1, 0);
    printf("poll badfd=%d nval=%d\n", r, (bad.revents & POLLNVAL) != 0);

    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    struct timeval tv = {1, 0};
    r = select(p[0] + 1, &rs, NULL, NULL, &tv);
    printf("select ready=%d isset=%d\n", r, FD_ISSET(p[0], &rs));
    char c;
    read(p[0], &c, 1);
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    struct timespec short_ts = {0, 20 * 1000 * 1000};
    printf("pselect timeout=%d\n", pselect(p[0] + 1, &rs, NULL, NULL, &short_ts, NULL));

    int efd = eventfd(0, EFD_NONBLOCK);
    uint64_t v = 0;
    r = (int) read(efd, &v, 8);
    printf("eventfd empty=%d errno_eagain=%d\n", r, errno == EAGAIN);
    v = 5;
    write(efd, &v, 8);
    v = 0;
    read(efd, &v, 8);
    printf("eventfd value=%llu\n", (unsigned long long) v);

    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1234567890ULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
    struct epoll_event out[4];
    t0 = now();
    r = epoll_wait(ep, out, 4, 30);
    printf("epoll timeout=%d waited=%d\n", r, now() - t0 >= 0.025);
    v = 1;
    write(efd, &v, 8);
    int n = epoll_wait(ep, out, 4, 1000);
    printf("epoll ready=%d data_ok=%d\n", n, n == 1 && out[0].data.u64 == 0x1234567890ULL);
    r = epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
    printf("epoll_ctl dup=%d errno_eexist=%d\n", r, errno == EEXIST);
    printf("epoll_ctl del=%d\n", epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL));

    int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec its = {.it_value = {0, 30 * 1000 * 1000}};
    timerfd_settime(tfd, 0, &its, NULL);
    uint64_t expirations = 0;
    t0 = now();
    read(tfd, &expirations, 8);
    double waited = now() - t0;
    printf("timerfd expirations=%llu waited=%d\n", (unsigned long long) expirations, waited >= 0.025);

    int sv[2];
    printf("socketpair=%d\n", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    write(sv[0], "ping", 4);
    char buf[8] = {0};
    read(sv[1], buf, sizeof buf - 1);
    printf("socketpair read=%s\n", buf);
    return 0;
}
