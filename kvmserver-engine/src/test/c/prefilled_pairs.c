/*
 * A server whose template fills N socketpairs (each written until it would block, about 230 KiB
 * a pair here) before it listens, for TemplateFilesTest: every request VM starts with a copy of
 * what they hold, which the engine keeps, so past a bound the template cannot be frozen. Answers
 * "pairs=N" to every request.
 * With "dgram", the pairs are datagram pairs filled with one-byte datagrams both ways.
 * Usage: prefilled_pairs PORT N [dgram]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_request.h"

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    int pairs = atoi(argv[2]);
    int dgram = argc > 3 && strcmp(argv[3], "dgram") == 0;
    static char chunk[65536];
    for (int i = 0; i < pairs; i++) {
        int sv[2];
        if (socketpair(AF_UNIX, (dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK, 0, sv) != 0) return 1;
        while (write(sv[0], chunk, dgram ? 1 : sizeof chunk) > 0) {
        }
        while (dgram && write(sv[1], chunk, 1) > 0) {
        }
    }
    int listener = listen_on_loopback(atoi(argv[1]));
    if (listener < 0) return 1;
    fcntl(listener, F_SETFL, 0); /* a blocking accept: where the template freezes */
    char answer[32];
    int n = snprintf(answer, sizeof answer, "pairs=%d", pairs);
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) continue;
        char path[256];
        read_request_path(fd, path, sizeof path);
        write_response(fd, answer, n);
        close(fd);
    }
}
