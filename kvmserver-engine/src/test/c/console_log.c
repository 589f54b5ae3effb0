/*
 * A server for the test of writes to the console answered in the guest (ConsoleWriteTest): a
 * server that logs a line per request to stderr and one to stdout, as most do.
 * Usage: console_log PORT; each request's path says what it does:
 *   /log     "request N" to stderr and "served N" to stdout (a write each), then answers "logged N"
 *   /checks  the answers Linux gives to writes to the console with bad arguments, an empty one, a
 *            sendto, and one larger than the entry takes (compared with a native run)
 *   /partial "partial N" to stderr without a newline, then answers "partial N"
 *   /forge   (in the engine only) queue entries the entry never makes: two writes to stderr of
 *            3000 bytes each, more together than the console bytes the host set aside; answers
 *            "survived"
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "http_request.h"

#define QUEUE 0xc000
#define QUEUE_DATA (QUEUE + 608)

static long result(long r) {
    return r < 0 ? -errno : r;
}

static int checks(char *out, size_t size) {
    long engine = result(write(2, (void *) 0xb000, 16));
    long past_end = result(write(2, (void *) (0x7ffffffff000L - 8), 16));
    long empty = result(write(2, "x", 0));
    long sent = result(sendto(2, "x\n", 2, 0, NULL, 0));
    static char big[5000];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\n';
    long large = result(write(1, big, sizeof big));
    return snprintf(out, size, "engine=%ld past_end=%ld empty=%ld sendto=%ld large=%ld", engine, past_end, empty, sent,
                    large);
}

static void forge(void) {
    getppid(); /* through the host: the queue is empty after it */
    volatile uint32_t *q = (uint32_t *) QUEUE;
    char *data = (char *) QUEUE_DATA;
    memset(data, '.', 3000);
    memcpy(data, "FORGED", 6);
    data[2999] = '\n';
    volatile uint32_t *e = q + 32;
    e[0] = 1, e[1] = 2, e[2] = 0, e[3] = 3000;
    e[4] = 1, e[5] = 2, e[6] = 0, e[7] = 3000;
    q[0] = 2;
    getppid();
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    signal(SIGPIPE, SIG_IGN); /* a client that left (the native run's readiness probe) */
    int listener = listen_on_loopback(atoi(argv[1]));
    if (listener < 0) return 1;
    int ep = epoll_watching_listener(listener);
    unsigned long served = 0;
    for (;;) {
        int fd = accept_when_reported(ep, listener);
        if (fd < 0) {
            continue;
        }
        char path[64], body[256], line[64];
        read_request_path(fd, path, sizeof path);
        int b;
        served++;
        if (!strcmp(path, "/log")) {
            int n = snprintf(line, sizeof line, "request %lu\n", served);
            write(2, line, n);
            n = snprintf(line, sizeof line, "served %lu\n", served);
            write(1, line, n);
            b = snprintf(body, sizeof body, "logged %lu", served);
        } else if (!strcmp(path, "/partial")) {
            int n = snprintf(line, sizeof line, "partial %lu", served);
            write(2, line, n);
            b = snprintf(body, sizeof body, "partial %lu", served);
        } else if (!strcmp(path, "/checks")) {
            b = checks(body, sizeof body);
        } else if (!strcmp(path, "/forge")) {
            forge();
            b = snprintf(body, sizeof body, "survived");
        } else {
            b = snprintf(body, sizeof body, "unknown");
        }
        write_response(fd, body, b);
        close(fd);
    }
}
