/*
 * A server on two ports with one event loop (ListenerWaitTest), as python3's asyncio serving
 * two addresses is: both listeners in one epoll instance, each connection answered with which
 * listener took it. Usage: two_listeners PORT1 PORT2. Answers "listener=N" (1 or 2).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_request.h"

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    int listeners[2] = {listen_on_loopback(atoi(argv[1])), listen_on_loopback(atoi(argv[2]))};
    if (listeners[0] < 0 || listeners[1] < 0) return 1;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < 2; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = i + 1};
        epoll_ctl(ep, EPOLL_CTL_ADD, listeners[i], &ev);
    }
    for (;;) {
        struct epoll_event got[4];
        int n = epoll_wait(ep, got, 4, -1);
        for (int i = 0; i < n; i++) {
            int which = (int) got[i].data.u64;
            int fd = accept4(listeners[which - 1], NULL, NULL, SOCK_CLOEXEC);
            if (fd < 0) continue;
            char path[256];
            read_request_path(fd, path, sizeof path);
            char body[32];
            write_response(fd, body, snprintf(body, sizeof body, "listener=%d", which));
            close(fd);
        }
    }
}
