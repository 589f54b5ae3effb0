/*
 * The sample's guest: a plain epoll HTTP/1.1 server, nothing kvmserver-specific. It counts the
 * requests it has served in a global variable; under kvmserver in ephemeral mode every
 * connection is served by a fresh copy of the process, so the count is always 1.
 * Usage: hello-server [port [address]]   (default 8000 on 127.0.0.1; 0.0.0.0 for every interface,
 * as in a container whose clients come from outside)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static long served;

static void handle(int fd) {
    char request[4096];
    int got = 0;
    while (got < (int) sizeof request - 1) {
        int n = read(fd, request + got, sizeof request - 1 - got);
        if (n <= 0) break;
        got += n;
        request[got] = 0;
        if (strstr(request, "\r\n\r\n")) break;
    }
    served++;
    char body[256];
    int length = snprintf(body, sizeof body,
                          "Hello from a KVM-isolated C server! Requests this process has served: %ld\n", served);
    char response[512];
    int n = snprintf(response, sizeof response,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                     "Connection: close\r\n\r\n%s", length, body);
    write(fd, response, n);
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8000;
    const char *host = argc > 2 ? argv[2] : "127.0.0.1";
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host, &address.sin_addr) != 1) {
        fprintf(stderr, "hello-server: '%s' is not an IPv4 address\n", host);
        return 2;
    }
    if (bind(listener, (struct sockaddr *) &address, sizeof address) < 0) {
        perror("bind");
        return 1;
    }
    if (listen(listener, 128) < 0) {
        perror("listen");
        return 1;
    }
    printf("hello-server listening on %s:%d\n", host, port);
    fflush(stdout);
    int epoll = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);
    for (;;) {
        struct epoll_event events[16];
        int n = epoll_wait(epoll, events, 16, -1);
        if (n < 0 && errno == EINTR) continue;
        for (int i = 0; i < n; i++) {
            int connection;
            while ((connection = accept4(listener, NULL, NULL, 0)) >= 0) {
                handle(connection);
                close(connection);
            }
        }
    }
}
