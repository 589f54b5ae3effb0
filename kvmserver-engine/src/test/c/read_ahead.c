/*
 * A server for the tests of accepts and reads the syscall entry answers in the guest on PVM hosts
 * (ReadAheadTest): the connection a request VM's listener keeps is accepted at the fd the host
 * would give, with the peer's address copied as Linux copies it, and the request is read from the
 * bytes the host read ahead, in pieces, by read and recvfrom, the rest through the host.
 *
 * Usage: read_ahead PORT MODE, where MODE is how the program accepts:
 *   full      accept4(l, &addr, &len, SOCK_CLOEXEC) with room for the address
 *   short     a length of 4: 4 bytes copied, the full length back
 *   null      accept(l, NULL, NULL), the old call
 *   negative  a length of -1 first (EINVAL), then a full accept
 *   badaddr   an unmapped address first (EFAULT), then a full accept
 *   badlen    an address with no length pointer first (EFAULT), then a full accept
 *   nonblock  a full accept with SOCK_NONBLOCK, its flags read (F_GETFL), set blocking (F_SETFL)
 *             and read again: "flags=0x802/0x2 " before "accept="
 *   banner    a full accept, then the server speaks first ("ready\n") and reads the request
 *             the client sends once it has that
 *   late      a full accept; once the request is read (said on stdout), 100 ms of reading the
 *             clock (the client resets the connection meanwhile), then the response's head is written and one byte
 *             read: prints "late: write=W read=R" on stdout (OK, a byte count, or the errno's name)
 *   forge     a full accept, then queue entries of its own before reading: an accept at another
 *             fd, a read of more than was read ahead, a read on stdin, and a claim that more than
 *             the read-ahead was read; the host must drop or contain every one
 * (a getpeername that fails says so on stderr: "getpeername: ENOTCONN" for a connection the peer
 * reset), and answers "MODE: accept=RESULT fd=FD" and the request as it read it: the head, then the body
 * (Content-Length bytes), read in pieces of 1, 7, 64, 3 and 500 bytes by read, recvfrom,
 * recvfrom(MSG_DONTWAIT) (a poll first when nothing is there), read, and recvfrom(MSG_PEEK)
 * followed by a read of as many.
 * The client compares what the program read with what it sent.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_request.h"

#define QUEUE 0xc000UL

static char request[65536];
static char response[70000];

/* Reads one piece of at most want bytes, the way piece i reads; 0 at the end, -1 on an error. */
static long piece(int fd, char *to, long want, int i) {
    static const char *names[] = {"read", "recvfrom", "recvfrom(MSG_DONTWAIT)", "read", "peek+read"};
    long n;
    switch (i % 5) {
    case 0:
    case 3:
        n = read(fd, to, want);
        break;
    case 1:
        n = recvfrom(fd, to, want, 0, NULL, NULL);
        break;
    case 2:
        n = recvfrom(fd, to, want, MSG_DONTWAIT, NULL, NULL);
        if (n < 0 && errno == EAGAIN) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            poll(&p, 1, 5000);
            n = recvfrom(fd, to, want, MSG_DONTWAIT, NULL, NULL);
        }
        break;
    default: {
        char peeked[500];
        long p = recv(fd, peeked, want, MSG_PEEK);
        n = p > 0 ? read(fd, to, p) : p;
        if (n > 0 && memcmp(peeked, to, n) != 0) {
            fprintf(stderr, "a peek and the read after it differ\n");
            return -1;
        }
        break;
    }
    }
    if (n < 0) {
        fprintf(stderr, "%s: %s\n", names[i % 5], strerror(errno));
    }
    return n;
}

/* The request head and its body, read in pieces; returns its length, or -1. */
static long read_request(int fd) {
    static const long sizes[] = {1, 7, 64, 3, 500};
    long got = 0;
    long end = -1;
    for (int i = 0; end < 0 || got < end; i++) {
        long want = sizes[i % 5];
        if (end >= 0 && want > end - got) {
            want = end - got;
        }
        if (got + want > (long) sizeof request - 1) {
            return -1;
        }
        long n = piece(fd, request + got, want, i);
        if (n <= 0) {
            return -1;
        }
        got += n;
        request[got] = 0;
        char *head_end = strstr(request, "\r\n\r\n");
        if (end < 0 && head_end) {
            char *length = strstr(request, "Content-Length: ");
            end = head_end + 4 - request + (length && length < head_end ? atol(length + 16) : 0);
        }
    }
    return got;
}

static void forge(void) {
    volatile uint32_t *q = (uint32_t *) QUEUE;
    uint32_t n = q[0];
    if (n + 3 > 8) {
        return;
    }
    volatile uint32_t *e = q + 32 + 4 * n;
    e[0] = 288, e[1] = 3, e[2] = 0, e[3] = 9;         /* accept4 at fd 9 */
    e[4] = 0, e[5] = q[25], e[6] = 100000, e[7] = 0;  /* a read of more than was read ahead */
    e[8] = 0, e[9] = 0, e[10] = 10, e[11] = 0;        /* a read of stdin */
    q[0] = n + 3;
    q[26] = 0xfffffff0u; /* more bytes "read" than were read ahead */
}

int main(int argc, char **argv) {
    const char *mode = argc > 2 ? argv[2] : "full";
    int listener = listen_on_loopback(atoi(argv[1]));
    if (listener < 0) return 1;
    for (;;) {
        struct pollfd p = {.fd = listener, .events = POLLIN};
        poll(&p, 1, -1);
        struct sockaddr_in peer;
        memset(&peer, 0xaa, sizeof peer);
        socklen_t length = sizeof peer;
        char result[160] = "";
        int fd;
        if (!strcmp(mode, "short")) {
            length = 4;
            fd = accept4(listener, (struct sockaddr *) &peer, &length, SOCK_CLOEXEC);
        } else if (!strcmp(mode, "null")) {
            fd = accept(listener, NULL, NULL);
        } else {
            int first = 0;
            if (!strcmp(mode, "negative")) {
                length = (socklen_t) -1;
                first = accept4(listener, (struct sockaddr *) &peer, &length, SOCK_CLOEXEC);
            } else if (!strcmp(mode, "badaddr")) {
                first = accept4(listener, (struct sockaddr *) 16, &length, SOCK_CLOEXEC);
            } else if (!strcmp(mode, "badlen")) {
                first = accept4(listener, (struct sockaddr *) &peer, NULL, SOCK_CLOEXEC);
            }
            if (first) {
                snprintf(result, sizeof result, "first=%s ", first < 0 ? strerrorname_np(errno) : "accepted");
            }
            length = sizeof peer;
            int nonblock = !strcmp(mode, "nonblock");
            fd = accept4(listener, (struct sockaddr *) &peer, &length, SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0));
            if (nonblock && fd >= 0) {
                int before = fcntl(fd, F_GETFL);
                fcntl(fd, F_SETFL, before & ~O_NONBLOCK);
                snprintf(result, sizeof result, "flags=%#x/%#x ", before, fcntl(fd, F_GETFL));
            }
        }
        if (fd < 0) {
            continue;
        }
        struct sockaddr_in actual;
        socklen_t actual_length = sizeof actual;
        if (getpeername(fd, (struct sockaddr *) &actual, &actual_length) != 0) {
            fprintf(stderr, "getpeername: %s\n", strerrorname_np(errno));
        }
        const char *address = "none";
        if (!strcmp(mode, "short")) {
            address = length == sizeof actual && !memcmp(&peer, &actual, 4) && ((unsigned char *) &peer)[4] == 0xaa
                          ? "cut" : "wrong";
        } else if (strcmp(mode, "null")) {
            address = length == sizeof actual && !memcmp(&peer, &actual, sizeof actual) ? "peer" : "wrong";
        }
        if (!strcmp(mode, "forge")) {
            forge();
        }
        if (!strcmp(mode, "banner")) {
            write(fd, "ready\n", 6);
        }
        long got = read_request(fd);
        if (!strcmp(mode, "late")) {
            printf("late: request read\n");
            fflush(stdout);
            struct timespec start, now;
            clock_gettime(CLOCK_MONOTONIC, &start);
            do {
                clock_gettime(CLOCK_MONOTONIC, &now);
            } while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < 100000000L);
            long w = write(fd, "HTTP/1.1 200 OK\r\n\r\n", 19);
            const char *wrote = w < 0 ? strerrorname_np(errno) : "OK";
            char byte;
            long r = read(fd, &byte, 1);
            printf("late: write=%s read=%s\n", wrote, r < 0 ? strerrorname_np(errno) : r == 0 ? "0" : "1");
            fflush(stdout);
            close(fd);
            continue;
        }
        int n = snprintf(response, sizeof response, "%s: %saccept=%s fd=%d read=%ld\n", mode, result, address, fd, got);
        if (got > 0) {
            memcpy(response + n, request, got);
            n += got;
        }
        char head[128];
        int h = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", n);
        write(fd, head, h);
        for (int sent = 0; sent < n;) {
            long w = write(fd, response + sent, n - sent);
            if (w <= 0) break;
            sent += w;
        }
        close(fd);
    }
}
