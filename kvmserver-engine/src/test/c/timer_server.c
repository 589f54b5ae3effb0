/*
 * An event loop the way node, bun and deno run one: epoll_wait's timeout is the time to the next
 * timer. At start-up the program arms one timer, DELAY_MS ahead; when it fires, the loop runs it
 * ("timer work") and waits without a timeout from then on. Every answer is
 * "fired-before=B fired-here=H": whether the timer had fired before this request's wait began
 * (in a template, before it froze), and whether it fired during this request.
 * Usage: timer_server PORT DELAY_MS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_request.h"

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8000;
    long delay = argc > 2 ? atol(argv[2]) : 300;
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *) &addr, sizeof addr) < 0 || listen(ls, 64) < 0) {
        perror("bind/listen");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    long due = now_ms() + delay;
    int fired = 0;
    int fired_here = 0;
    for (;;) {
        long timeout = fired ? -1 : due - now_ms();
        if (timeout < 0 && !fired) timeout = 0;
        int before = fired;
        fired_here = 0;
        struct epoll_event events[4];
        int n = epoll_wait(ep, events, 4, (int) timeout);
        if (!fired && now_ms() >= due) {
            fired = 1; /* the timer's work */
            fired_here = 1;
        }
        if (n <= 0) continue;
        int conn = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0) continue;
        char path[256];
        read_request_path(conn, path, sizeof path);
        char body[64], out[256];
        int len = snprintf(body, sizeof body, "fired-before=%d fired-here=%d", before, fired_here);
        int m = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
                         len, body);
        if (write(conn, out, m) != m) perror("write");
        close(conn);
    }
}
