/*
 * Serves its clocks: listens on 127.0.0.1:argv[1] and answers every connection (one HTTP
 * request, Connection: close) with "started=S mono=M real=R boot=B raw=W" in nanoseconds, read
 * through the C library (so through the vDSO); S is CLOCK_MONOTONIC read once at start, before
 * listening, which request VMs inherit from the template.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
    long long started = now(CLOCK_MONOTONIC);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(ls, (struct sockaddr *) &a, sizeof a) < 0 || listen(ls, 64) < 0) {
        perror("bind/listen");
        return 1;
    }
    for (;;) {
        int c = accept(ls, NULL, NULL);
        if (c < 0) {
            continue;
        }
        char request[2048];
        size_t got = 0;
        while (got < sizeof request - 1) {
            ssize_t n = read(c, request + got, sizeof request - 1 - got);
            if (n <= 0) {
                break;
            }
            got += n;
            request[got] = 0;
            if (strstr(request, "\r\n\r\n") != NULL) {
                break;
            }
        }
        /* In this order (the order of a call's arguments is the compiler's choice). */
        long long mono = now(CLOCK_MONOTONIC);
        long long real = now(CLOCK_REALTIME);
        long long boot = now(CLOCK_BOOTTIME);
        long long raw = now(CLOCK_MONOTONIC_RAW);
        char body[256], response[512];
        int length = snprintf(body, sizeof body, "started=%lld mono=%lld real=%lld boot=%lld raw=%lld", started,
                              mono, real, boot, raw);
        int total = snprintf(response, sizeof response,
                             "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", length, body);
        write(c, response, total);
        close(c);
    }
}
