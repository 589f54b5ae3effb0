/*
 * A server for the test of reads at the end of a stream (EndOfStreamTest), as redis reads its
 * client's end of stream before it closes: accept, then read until a read returns 0 or fails,
 * counting the bytes, and answer "bytes=N end=R" (R: the last read's result, 0 at the end of the
 * stream, or -errno), then close. The client shuts its side down after what it sends.
 * Usage: read_eof PORT [late|badbuf], where badbuf first reads with a count that runs past the
 * end of user space (Linux: EFAULT, whatever the socket holds; the answer then starts
 * "bad=-14 "), and late first makes a call the host answers (which reads
 * ahead what the client sent so far) and then sleeps 100 ms (the client sends more bytes and its
 * end of stream meanwhile; the host, finding the connection untouched since it read ahead, does
 * not read ahead again)
 * (the answers were checked natively, on Linux 6.18).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http_request.h"

int main(int argc, char **argv) {
    int late = argc > 2 && !strcmp(argv[2], "late");
    int badbuf = argc > 2 && !strcmp(argv[2], "badbuf");
    int listener = listen_on_loopback(atoi(argv[1]));
    if (listener < 0) return 1;
    int ep = epoll_watching_listener(listener);
    static char buf[8192];
    for (;;) {
        int fd = accept_when_reported(ep, listener);
        if (fd < 0) {
            continue;
        }
        if (late) {
            getppid();
            struct timespec nap = {.tv_nsec = 100000000};
            nanosleep(&nap, NULL);
        }
        volatile long past_user_space = 1L << 47;
        long bad = badbuf ? read(fd, buf, past_user_space) : 0;
        if (bad < 0) {
            bad = -errno;
        }
        long total = 0, r;
        while ((r = read(fd, buf, sizeof buf)) > 0) {
            total += r;
        }
        long end = r < 0 ? (long) -errno : r;
        char body[128];
        int b = badbuf ? snprintf(body, sizeof body, "bad=%ld ", bad) : 0;
        b += snprintf(body + b, sizeof body - b, "bytes=%ld end=%ld", total, end);
        write_response(fd, body, b);
        close(fd);
    }
}
