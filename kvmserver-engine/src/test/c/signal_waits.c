/*
 * Waits a signal handler interrupts, and threads' polls that add up, for SignalWaitsTest (the
 * eighth review, 2026-12-05, fourth session). A handler with SA_RESTART, a one-shot 50 ms timer
 * before each wait of 2 s:
 *   nanosleep, clock_nanosleep  EINTR, and rem the time not slept (it was left unwritten, so
 *                 a sleep loop began the whole time again after each signal)
 *   recv on a socket with SO_RCVTIMEO, a timed FUTEX_WAIT  EINTR: Linux never restarts a call with
 *                 a timeout of its own after a handler (the engine restarted it with its timeout
 *                 begun again: a periodic signal kept it waiting for ever)
 *   SA_RESETHAND  the action after one delivery: SIG_DFL, its flags (SA_SIGINFO) as they were
 *   a 10 ms periodic timer whose signal is blocked for 105 ms: sigtimedwait takes it with the
 *                 expiries it missed meanwhile as si_overrun (9 or 10; the engine said 0)
 *   poll of 400 sockets in each of three threads, then a fourth thread's poll of a socket written
 *                 100 ms later: the fourth wakes (the host poll took the first 1024 entries only)
 * Prints one line per wait, its result against Linux's: "ok" or what was wrong.
 * With a PORT: a server whose three threads each poll the same 400 sockets for ever while a
 * fourth accepts on 127.0.0.1:PORT and answers "ok" (the listener was past the host poll's 1024
 * entries: no client was answered until the request's time limit reset the VM).
 */
#define _GNU_SOURCE /* POLLRDHUP */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 2000L

static void handler(int sig) {
    (void) sig;
}

static void info_handler(int sig, siginfo_t *info, void *context) {
    (void) sig;
    (void) info;
    (void) context;
}

static void arm(void) {
    struct itimerval once = {{0, 0}, {0, 50000}};
    setitimer(ITIMER_REAL, &once, 0);
}

static long since(struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* EINTR, and (for a sleep) a rem that is what was not slept: less than the whole, more than none. */
static void report(const char *what, long r, int error, struct timespec *rem) {
    long rem_ms = rem ? rem->tv_sec * 1000 + rem->tv_nsec / 1000000 : 1;
    if (r == 0 || error != EINTR) {
        printf("%s: r=%ld errno=%d (not interrupted)\n", what, r, error);
    } else if (rem_ms <= 0 || rem_ms >= WAIT_MS - 20) {
        printf("%s: rem %ld ms of %ld\n", what, rem_ms, WAIT_MS);
    } else {
        printf("%s: ok\n", what);
    }
}

static int sockets[400][2];
static int pipe_ends[2];
static volatile long late_woken_ms = -1;

/*
 * A poll of the 400 sockets for arg ms (-1: for ever), each thread asking other events of them
 * (POLLIN, with POLLPRI, with POLLRDHUP): 1,200 pairs of fd and events, 400 fds.
 */
static int next_events;

static void *many(void *arg) {
    static const short asked[] = {POLLIN, POLLIN | POLLPRI, POLLIN | POLLRDHUP};
    short events = asked[__sync_fetch_and_add(&next_events, 1) % 3];
    static __thread struct pollfd fds[400];
    for (int i = 0; i < 400; i++) {
        fds[i].fd = sockets[i][0];
        fds[i].events = events;
    }
    poll(fds, 400, (int) (long) arg);
    return 0;
}

static void *late(void *arg) {
    struct timespec *start = arg;
    struct pollfd p = {.fd = pipe_ends[0], .events = POLLIN};
    poll(&p, 1, 10000);
    late_woken_ms = since(start);
    return 0;
}

static int port;

static void *acceptor(void *arg) {
    (void) arg;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in at = {.sin_family = AF_INET, .sin_port = htons(port)};
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *) &at, sizeof at) != 0 || listen(listener, 16) != 0) {
        exit(1);
    }
    for (;;) {
        int c = accept(listener, 0, 0);
        if (c < 0) {
            continue;
        }
        char request[512];
        read(c, request, sizeof request);
        static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
        write(c, answer, sizeof answer - 1);
        close(c);
    }
}

/* Three pollers, then the acceptor: a thread made after them, as a runtime's I/O thread. */
static int serve(void) {
    for (int i = 0; i < 400; i++) {
        sockets[i][0] = socket(AF_INET, SOCK_DGRAM, 0); /* host sockets, each an entry of the host poll */
    }
    pthread_t threads[4];
    for (int i = 0; i < 3; i++) {
        pthread_create(&threads[i], 0, many, (void *) -1L);
    }
    usleep(10000);
    pthread_create(&threads[3], 0, acceptor, 0);
    pthread_join(threads[3], 0);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1) {
        port = atoi(argv[1]);
        return serve();
    }
    setvbuf(stdout, 0, _IONBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, 0);

    struct timespec whole = {WAIT_MS / 1000, 0}, rem = {9, 0};
    arm();
    errno = 0;
    long r = nanosleep(&whole, &rem);
    report("nanosleep", r, errno, &rem);
    rem.tv_sec = 9;
    arm();
    int error = clock_nanosleep(CLOCK_MONOTONIC, 0, &whole, &rem);
    report("clock_nanosleep", error ? -1 : 0, error, &rem);

    int pair[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
    struct timeval timeout = {WAIT_MS / 1000, 0};
    setsockopt(pair[0], SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    char c;
    arm();
    errno = 0;
    r = recv(pair[0], &c, 1, 0);
    report("recv with SO_RCVTIMEO", r, errno, 0);
    static int word;
    arm();
    errno = 0;
    r = syscall(SYS_futex, &word, 0 /* FUTEX_WAIT */, 0, &whole, 0, 0);
    report("timed FUTEX_WAIT", r, errno, 0);

    struct sigaction once, after;
    memset(&once, 0, sizeof once);
    once.sa_sigaction = info_handler;
    once.sa_flags = SA_RESETHAND | SA_SIGINFO;
    sigaction(SIGUSR1, &once, 0);
    raise(SIGUSR1);
    sigaction(SIGUSR1, 0, &after);
    printf("SA_RESETHAND: %s\n", after.sa_handler == SIG_DFL && (after.sa_flags & SA_SIGINFO) ? "ok"
           : "flags changed");

    timer_t timer;
    struct sigevent event;
    memset(&event, 0, sizeof event);
    event.sigev_notify = SIGEV_SIGNAL;
    event.sigev_signo = SIGRTMIN;
    timer_create(CLOCK_MONOTONIC, &event, &timer);
    sigset_t rt;
    sigemptyset(&rt);
    sigaddset(&rt, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &rt, 0);
    struct itimerspec every = {{0, 10000000}, {0, 10000000}};
    timer_settime(timer, 0, &every, 0);
    struct timespec blocked = {0, 105000000};
    nanosleep(&blocked, 0);
    siginfo_t taken;
    struct timespec none = {0, 0};
    int sig = sigtimedwait(&rt, &taken, &none);
    /* A loaded machine sleeps longer: more overruns, never fewer than the 105 ms give. */
    printf("blocked timer: %s\n", sig == SIGRTMIN && taken.si_overrun >= 8 && taken.si_overrun == timer_getoverrun(timer)
           ? "ok" : "overruns lost");
    timer_delete(timer);

    for (int i = 0; i < 400; i++) {
        sockets[i][0] = socket(AF_INET, SOCK_DGRAM, 0);
    }
    socketpair(AF_UNIX, SOCK_STREAM, 0, pipe_ends); /* a socket: the host polls it, as a server's */
    pthread_t pollers[4];
    struct timespec start;
    for (int i = 0; i < 3; i++) {
        pthread_create(&pollers[i], 0, many, (void *) 5000L);
    }
    usleep(100000);
    clock_gettime(CLOCK_MONOTONIC, &start);
    pthread_create(&pollers[3], 0, late, &start);
    usleep(100000);
    write(pipe_ends[1], "x", 1);
    pthread_join(pollers[3], 0);
    /* The three others wait 5 s: the late poller wakes at 100 ms, not when their waits end. */
    printf("late poller: %s\n", late_woken_ms >= 0 && late_woken_ms < 4000 ? "ok" : "woken with the others");
    return 0; /* the other polls end with the process */
}
