/*
 * A server built the way tokio's runtime builds itself: an I/O thread waits in epoll_wait before
 * the listening socket exists, and the main thread adds the listener later, through a duplicate
 * of the epoll fd, then waits on a futex forever. Every answer is "served=N", the requests this
 * process has served, this one included.
 * Usage: late_listener_server PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_request.h"

static int ep;
static int listener = -1;
static int served;

static void respond(int fd) {
    char path[256];
    read_request_path(fd, path, sizeof path);
    char body[64], out[256];
    int len = snprintf(body, sizeof body, "served=%d", ++served);
    int n = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len,
                     body);
    if (write(fd, out, n) != n) return;
}

static void *io_thread(void *arg) {
    (void) arg;
    for (;;) {
        struct epoll_event events[8];
        int n = epoll_wait(ep, events, 8, -1);
        for (int i = 0; i < n; i++) {
            if (events[i].data.fd != listener) continue;
            int conn;
            while ((conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
                respond(conn);
                close(conn);
            }
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8000;
    ep = epoll_create1(EPOLL_CLOEXEC);
    int wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = wake};
    epoll_ctl(ep, EPOLL_CTL_ADD, wake, &ev);
    int registry = fcntl(ep, F_DUPFD_CLOEXEC, 3);
    pthread_t t;
    pthread_create(&t, NULL, io_thread, NULL);
    struct timespec pause_io = {0, 20 * 1000 * 1000};
    nanosleep(&pause_io, NULL); /* the I/O thread waits first */
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *) &addr, sizeof addr) < 0 || listen(s, 128) < 0) {
        perror("bind/listen");
        return 1;
    }
    listener = s;
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = s};
    epoll_ctl(registry, EPOLL_CTL_ADD, s, &lev);
    printf("listening on 127.0.0.1:%d\n", port);
    fflush(stdout);
    pthread_join(t, NULL);
    return 0;
}
