/*
 * A C version of the benchmark's load client, to check that the Java client adds little:
 * N sequential "GET /" requests to 127.0.0.1:PORT, each on a new TCP connection, timed from
 * before connect() to the end of the response (EOF). Prints one line per successful request
 * with its nanoseconds; failures go to stderr. Stops after N requests or MAX_SECONDS.
 * Usage: http_client PORT N [MAX_SECONDS]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "monotonic.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: http_client PORT N [MAX_SECONDS]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    long n = atol(argv[2]);
    long deadline = now_ns() + (long) ((argc > 3 ? atof(argv[3]) : 60.0) * 1e9);
    static const char request[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    long failed = 0;
    for (long i = 0; i < n && now_ns() < deadline; i++) {
        char buf[4096];
        int total = 0, r, one = 1;
        long t0 = now_ns();
        int s = socket(AF_INET, SOCK_STREAM, 0);
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(s, (struct sockaddr *) &addr, sizeof addr) < 0
            || write(s, request, sizeof request - 1) != (ssize_t) (sizeof request - 1)) {
            perror("connect/write");
            close(s);
            failed++;
            continue;
        }
        while (total < (int) sizeof buf - 1 && (r = read(s, buf + total, sizeof buf - 1 - total)) > 0) {
            total += r;
        }
        long t1 = now_ns();
        close(s);
        buf[total] = 0;
        if (strncmp(buf, "HTTP/1.1 200 ", 13) != 0 || total < 5 || strcmp(buf + total - 5, "hello") != 0) {
            fprintf(stderr, "bad response: %.80s\n", buf);
            failed++;
            continue;
        }
        printf("%ld\n", t1 - t0);
    }
    return failed > 0;
}
