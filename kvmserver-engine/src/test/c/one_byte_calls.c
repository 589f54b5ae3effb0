/*
 * A server that makes many small calls of one kind in a row, for FullQueueTest: more than the
 * syscall entry's queue holds (16 calls) between two exits on PVM hosts, so that the calls past
 * the full queue go to the host, which must return to the program as from any other call.
 *
 * Usage: one_byte_calls PORT MODE. For each connection it reads the request line one byte at a
 * time up to its newline, by
 *   read      glibc's read(c, p, 1)
 *   sysread   syscall(SYS_read, c, p, 1)
 *   recv      recv(c, p, 1, 0)
 *   writes    read(c, p, 1), and the response, with " " and 32 dots before its newline, written
 *             one byte per write (more than 40 writes)
 *   calls     read(c, p, 1), then 20 each of setsockopt(TCP_NODELAY), ioctl(FIONBIO, 0),
 *             fcntl(F_GETFL), fcntl(F_SETFL), rt_sigaction (20 different signals), getsockname,
 *             gettid, munmap (of 20 pages mapped one by one), each result checked
 * and answers "MODE got N" (N: the bytes before the newline), then " calls=OK" in mode calls (or
 * the first call that failed and its errno) or the dots in mode writes, then "\n", and closes the
 * connection.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CALLS 20

static void on_signal(int sig) {
    (void) sig;
}

/* CALLS of each kind; "OK", or the first that failed. */
static const char *many_calls(int c, char *why, size_t room) {
    int one = 1, zero = 0;
    for (int i = 0; i < CALLS; i++) {
        if (setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one)) {
            snprintf(why, room, "setsockopt %d: %s", i, strerror(errno));
            return why;
        }
    }
    for (int i = 0; i < CALLS; i++) {
        if (ioctl(c, FIONBIO, &zero)) {
            snprintf(why, room, "ioctl %d: %s", i, strerror(errno));
            return why;
        }
    }
    for (int i = 0; i < CALLS; i++) {
        int flags = fcntl(c, F_GETFL);
        if (flags < 0 || (flags & O_NONBLOCK) || fcntl(c, F_SETFL, flags)) {
            snprintf(why, room, "fcntl %d: %d %s", i, flags, strerror(errno));
            return why;
        }
    }
    for (int i = 0; i < CALLS; i++) {
        struct sigaction act = {.sa_handler = on_signal}, old;
        sigemptyset(&act.sa_mask);
        if (sigaction(SIGRTMIN + i, &act, &old)) {
            snprintf(why, room, "sigaction %d: %s", i, strerror(errno));
            return why;
        }
    }
    for (int i = 0; i < CALLS; i++) {
        struct sockaddr_in a;
        socklen_t length = sizeof a;
        if (getsockname(c, (struct sockaddr *) &a, &length) || length != sizeof a || ntohs(a.sin_port) == 0) {
            snprintf(why, room, "getsockname %d: %s", i, strerror(errno));
            return why;
        }
    }
    pid_t tid = syscall(SYS_gettid); /* the host's answer; the entry's must be the same */
    for (int i = 0; i < CALLS; i++) {
        if (gettid() != tid) {
            snprintf(why, room, "gettid %d", i);
            return why;
        }
    }
    char *pages[CALLS];
    for (int i = 0; i < CALLS; i++) {
        pages[i] = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (pages[i] == MAP_FAILED) {
            snprintf(why, room, "mmap %d: %s", i, strerror(errno));
            return why;
        }
        pages[i][0] = 1;
    }
    for (int i = 0; i < CALLS; i++) {
        if (munmap(pages[i], 4096)) {
            snprintf(why, room, "munmap %d: %s", i, strerror(errno));
            return why;
        }
    }
    return "OK";
}

int main(int argc, char **argv) {
    const char *mode = argc > 2 ? argv[2] : "read";
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(s, (struct sockaddr *) &a, sizeof a) || listen(s, 16)) {
        perror("listen");
        return 1;
    }
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) {
            continue;
        }
        char line[4096];
        int n = 0;
        while (n < (int) sizeof line - 1) {
            long r;
            if (strcmp(mode, "sysread") == 0) {
                r = syscall(SYS_read, c, line + n, 1);
            } else if (strcmp(mode, "recv") == 0) {
                r = recv(c, line + n, 1, 0);
            } else {
                r = read(c, line + n, 1);
            }
            if (r <= 0 || line[n] == '\n') {
                break;
            }
            n++;
        }
        char out[512], why[256];
        int length = snprintf(out, sizeof out, "%s got %d", mode, n);
        if (strcmp(mode, "calls") == 0) {
            length += snprintf(out + length, sizeof out - length, " calls=%s", many_calls(c, why, sizeof why));
        }
        if (strcmp(mode, "writes") == 0) {
            length += snprintf(out + length, sizeof out - length, " %s", "................................");
        }
        length += snprintf(out + length, sizeof out - length, "\n");
        if (strcmp(mode, "writes") == 0) {
            for (int i = 0; i < length; i++) {
                if (write(c, out + i, 1) != 1) {
                    break;
                }
            }
        } else {
            write(c, out, length);
        }
        close(c);
    }
}
