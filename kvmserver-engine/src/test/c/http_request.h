/*
 * The request side of the test servers: one HTTP request head read from a connection, and the
 * path of its GET. Each server answers one request per connection, so the head is all it reads.
 */
#ifndef KVMSERVER_TEST_HTTP_REQUEST_H
#define KVMSERVER_TEST_HTTP_REQUEST_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

#endif
