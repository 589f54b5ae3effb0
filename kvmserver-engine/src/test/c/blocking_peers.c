/*
 * Waits that poll cannot end, for BlockingPeersTest; argv[1] is a writable directory, argv[2] the
 * case. Each prints what its calls returned and how long the wait took (ms; a loaded machine
 * makes it longer than asked, never shorter):
 *   dgram-full    an unconnected unix datagram socket sends (blocking, SO_SNDTIMEO 1 s) to a
 *                 receiver that never reads: once its queue is full the send waits, and after
 *                 the timeout is EAGAIN; natively the sender sleeps (unix_wait_for_peer), and the
 *                 engine must not spin meanwhile: "cpu=" is the process's CPU time (ms) over the
 *                 wait, which in the engine counts the engine's work on the call too
 *   unix-backlog  two blocking connects (SO_SNDTIMEO 300 ms) to a unix listener of backlog 0
 *                 that never accepts: the first is queued, the second waits the timeout, EAGAIN
 *   waitall PORT  recv(MSG_WAITALL) of 10 bytes from a TCP peer at 127.0.0.1:PORT that writes 3
 *                 bytes, then 7 more 200 ms later: the 10 bytes in one call
 *   waitall-msg PORT  the same with recvmsg into two buffers of 4 and 6 bytes
 *   waitall-timeout PORT  the same with SO_RCVTIMEO 500 ms, from a peer that sends a byte every
 *                 300 ms: the timeout is the whole call's, so not all 10 bytes come ("all=0")
 *   two-readers PORT  two threads each in a blocking 1-byte recv from a TCP peer that sends "a",
 *                 then "b" 300 ms later: both come ("got=ab" or "got=ba")
 *   select-left   select(2) writes back the time it did not wait: 0 after a 200 ms timeout
 *                 passed, more than 4 of 5 s when a pipe was ready at once; a pselect6 whose
 *                 timespec is read-only still answers (Linux ignores the failed write-back)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

static long cpu_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

static struct sockaddr_un at(const char *dir, const char *name) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", dir, name);
    unlink(a.sun_path);
    return a;
}

static void send_timeout(int fd, long ms) {
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static int dgram_full(const char *dir) {
    struct sockaddr_un a = at(dir, "dgram.sock");
    int receiver = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (bind(receiver, (struct sockaddr *) &a, sizeof a) != 0) return 1;
    int sender = socket(AF_UNIX, SOCK_DGRAM, 0);
    send_timeout(sender, 1000);
    char datagram[1000] = {0};
    int sent = 0;
    long start = 0, cpu = 0;
    for (;;) {
        if (sendto(sender, datagram, sizeof datagram, 0, (struct sockaddr *) &a, sizeof a) < 0) break;
        sent++;
        start = now_ms(); /* the last send that went through: the wait starts after it */
        cpu = cpu_ms();
    }
    int e = errno;
    long waited = now_ms() - start;
    printf("sent>0=%d errno=%d waited=%ld cpu=%ld\n", sent > 0, e, waited, cpu_ms() - cpu);
    unlink(a.sun_path);
    return 0;
}

static int unix_backlog(const char *dir) {
    struct sockaddr_un a = at(dir, "full.sock");
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(listener, (struct sockaddr *) &a, sizeof a) != 0 || listen(listener, 0) != 0) return 1;
    int first = socket(AF_UNIX, SOCK_STREAM, 0);
    int r1 = connect(first, (struct sockaddr *) &a, sizeof a);
    int second = socket(AF_UNIX, SOCK_STREAM, 0);
    send_timeout(second, 300);
    long start = now_ms();
    int r2 = connect(second, (struct sockaddr *) &a, sizeof a);
    int e = errno;
    printf("first=%d second=%d errno=%d waited=%ld\n", r1, r2, r2 < 0 ? e : 0, now_ms() - start);
    unlink(a.sun_path);
    return 0;
}

static int waitall(int port, int msg, int timeout_ms) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000001)};
    if (connect(fd, (struct sockaddr *) &peer, sizeof peer) != 0) return 1;
    if (timeout_ms > 0) {
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char b[16] = {0};
        long n = recv(fd, b, 10, MSG_WAITALL);
        printf("waitall-timeout all=%d\n", n == 10);
        return 0;
    }
    if (!msg) {
        char b[16] = {0};
        long n = recv(fd, b, 10, MSG_WAITALL);
        printf("waitall=%ld [%s]\n", n, b);
        return 0;
    }
    char head[5] = {0}, rest[7] = {0};
    struct iovec iov[2] = {{head, 4}, {rest, 6}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
    long n = recvmsg(fd, &m, MSG_WAITALL);
    printf("waitall=%ld [%s|%s]\n", n, head, rest);
    return 0;
}

static int reader_fd;
static char got[3];
static int got_count;
static pthread_mutex_t got_lock = PTHREAD_MUTEX_INITIALIZER;

static void *read_one(void *unused) {
    (void) unused;
    char c;
    if (recv(reader_fd, &c, 1, 0) == 1) {
        pthread_mutex_lock(&got_lock);
        got[got_count++] = c;
        pthread_mutex_unlock(&got_lock);
    }
    return NULL;
}

static int two_readers(int port) {
    reader_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000001)};
    if (connect(reader_fd, (struct sockaddr *) &peer, sizeof peer) != 0) return 1;
    pthread_t t;
    pthread_create(&t, NULL, read_one, NULL);
    read_one(NULL);
    pthread_join(t, NULL);
    printf("got=%d\n", got_count);
    return 0;
}

static int select_left(void) {
    struct timeval passed = {0, 200000};
    int n1 = select(0, NULL, NULL, NULL, &passed);
    int p[2];
    if (pipe(p) != 0 || write(p[1], "x", 1) != 1) return 1;
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(p[0], &readable);
    struct timeval budget = {5, 0};
    int n2 = select(p[0] + 1, &readable, NULL, NULL, &budget);
    static const struct timespec read_only = {0, 1000000};
    long n3 = syscall(SYS_pselect6, 0, NULL, NULL, NULL, &read_only, NULL);
    printf("passed=%d left=%ld.%06ld ready=%d left>4=%d read-only=%ld\n", n1, (long) passed.tv_sec,
           (long) passed.tv_usec, n2, budget.tv_sec >= 4 && budget.tv_sec <= 5, n3 < 0 ? -errno : n3);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    if (strcmp(argv[2], "dgram-full") == 0) return dgram_full(argv[1]);
    if (strcmp(argv[2], "unix-backlog") == 0) return unix_backlog(argv[1]);
    if (strcmp(argv[2], "select-left") == 0) return select_left();
    if (strcmp(argv[2], "two-readers") == 0 && argc > 3) return two_readers(atoi(argv[3]));
    if (strcmp(argv[2], "waitall") == 0 && argc > 3) return waitall(atoi(argv[3]), 0, 0);
    if (strcmp(argv[2], "waitall-msg") == 0 && argc > 3) return waitall(atoi(argv[3]), 1, 0);
    if (strcmp(argv[2], "waitall-timeout") == 0 && argc > 3) return waitall(atoi(argv[3]), 0, 500);
    return 2;
}
