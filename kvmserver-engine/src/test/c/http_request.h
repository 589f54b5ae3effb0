/*
 * What the test servers share: their non-blocking listener on loopback (and an epoll instance
 * watching it), and one HTTP request head
 * read from a connection with the path of its GET. Each server answers one request per
 * connection, so the head is all it reads.
 */
#ifndef KVMSERVER_TEST_HTTP_REQUEST_H
#define KVMSERVER_TEST_HTTP_REQUEST_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* A non-blocking TCP listener on 127.0.0.1:port (SO_REUSEADDR, backlog 64), or -1. */
static inline int listen_on_loopback(int port) {
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(listener, (struct sockaddr *) &a, sizeof a) || listen(listener, 64)) {
        return -1;
    }
    return listener;
}

/* An epoll instance (close-on-exec) that watches listener for EPOLLIN, with data 1. */
static inline int epoll_watching_listener(int listener) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    return ep;
}

/* Whether one of the n events a wait returned is the listener's (data 1). */
static inline int listener_reported(const struct epoll_event *got, int n) {
    for (int i = 0; i < n; i++) {
        if (got[i].data.u64 == 1) return 1;
    }
    return 0;
}

/* Waits on ep (which watches listener with data 1) until the listener is reported, and accepts
 * (close-on-exec): the connection, or -1 when another took it first. */
static inline int accept_when_reported(int ep, int listener) {
    struct epoll_event got[8];
    if (!listener_reported(got, epoll_wait(ep, got, 8, -1))) {
        return -1;
    }
    return accept4(listener, NULL, NULL, SOCK_CLOEXEC);
}

/* As accept_when_reported, and *client is the last byte of the client's address (127.0.0.N): how
 * the tests that must act before reading anything tell a server what to do. */
static inline int accept_from_client(int ep, int listener, int *client) {
    struct epoll_event got[8];
    if (!listener_reported(got, epoll_wait(ep, got, 8, -1))) {
        return -1;
    }
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    int fd = accept4(listener, (struct sockaddr *) &peer, &len, SOCK_CLOEXEC);
    *client = fd < 0 ? 0 : (int) (ntohl(peer.sin_addr.s_addr) & 0xff);
    return fd;
}

/* Reads the head of a request (up to 2 KiB) and writes its GET path to path ("/" if none). */
static inline void read_request_path(int fd, char *path, size_t path_size) {
    char req[2048];
    int got = 0;
    while (got < (int) sizeof req - 1) {
        int n = read(fd, req + got, sizeof req - 1 - got);
        if (n <= 0) break;
        got += n;
        req[got] = 0;
        if (strstr(req, "\r\n\r\n")) break;
    }
    req[got] = 0;
    char format[32];
    snprintf(format, sizeof format, "GET %%%zus", path_size - 1);
    snprintf(path, path_size, "/");
    sscanf(req, format, path);
}

/* Answers 200 with body (length bytes) and Connection: close, in two writes: the head, then the body. */
static inline void write_response(int fd, const char *body, int length) {
    char head[128];
    int h = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", length);
    write(fd, head, h);
    write(fd, body, length);
}

#endif
