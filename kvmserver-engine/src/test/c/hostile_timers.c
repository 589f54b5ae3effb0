/*
 * A blocking HTTP server (one request per connection) whose requests attack the time limit, the
 * host's idle wake-ups and the CPU-time clocks, for the tests of the adversarial review's timer
 * findings. Paths:
 *   /spin              answers, closes the connection, then spins for ever
 *   /spinthread        answers, closes the connection, and leaves a thread spinning for ever
 *   /count             answers "count=N", N the requests this process served
 *   /none/NS           arms a SIGEV_NONE POSIX timer firing every NS ns: "none=R,S"
 *   /ign/US            ignores SIGALRM and arms ITIMER_REAL every US us: "ign=R"
 *   /blocked/NS        blocks SIGUSR1 (with a handler) and arms a POSIX timer for it every NS ns
 *   /none-get          a SIGEV_NONE timer of 10 ms, 55 ms later: its interval, whether its value is
 *                      within (0, 10 ms], its overrun; then a one-shot one 5 ms after it expired
 *   /ign-get           SIGUSR1 ignored, a POSIX timer for it every 10 ms, 55 ms later: as /none-get;
 *                      then a handler for it: whether the signal came within 3 ms, whether its
 *                      overrun counts the expiries missed (at least 3); and ITIMER_REAL every
 *                      10 ms with SIGALRM ignored, 55 ms later:
 *                      whether getitimer's value is within [0, 10 ms]
 *   /burn/MS           burns MS ms of CPU time (by CLOCK_MONOTONIC)
 *   /cpu               CLOCK_PROCESS_CPUTIME_ID and CLOCK_THREAD_CPUTIME_ID (the system call), in
 *                      ms, before and after 200 ms of burning: "process=A,B thread=C,D"
 *   /cpu-sleep         clock_nanosleep on each clock 0..7 and 11 for 1 us: "errno" per clock
 *   /cpu-timer         a POSIX timer on CLOCK_PROCESS_CPUTIME_ID armed TIMER_ABSTIME at the clock's
 *                      value plus 1 s: whether timer_gettime's value is within (0, 1 s]
 *   /dumpable          prctl(PR_GET_DUMPABLE)
 *   /prof/US           a SIGPROF handler that counts, and ITIMER_PROF every US us: "prof=R"
 *   /cputimer/US       a SIGUSR2 handler that counts, and a POSIX timer of CLOCK_PROCESS_CPUTIME_ID
 *                      sending it every US us: "cputimer=R,S"
 *   /ticks             the SIGPROF and SIGUSR2 the process has counted: "ticks=N"
 *   /burn-ticks/MS     burns MS ms of CPU time: "ticks=N" counted meanwhile
 * Usage: hostile_timers PORT [PATH]: PATH is served once, to nobody, before listening.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int counter;
static volatile int got, got_overrun, ticks;

static void on_tick(int sig) {
    (void) sig;
    ticks++;
}

static void *spinner(void *a) {
    (void) a;
    for (;;) {
    }
    return 0;
}

static void on_signal(int sig, siginfo_t *si, void *uc) {
    (void) sig;
    (void) uc;
    got++;
    got_overrun = si->si_overrun;
}

static long mono_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000;
}

static void burn(long ms) {
    long end = mono_ms() + ms;
    while (mono_ms() < end) {
    }
}

static long cpu_ms(int clock) {
    struct timespec t;
    if (syscall(SYS_clock_gettime, clock, &t) != 0) {
        return -errno;
    }
    return t.tv_sec * 1000L + t.tv_nsec / 1000000;
}

static int within(struct timespec v, long lo_ns, long hi_ns) {
    long ns = v.tv_sec * 1000000000L + v.tv_nsec;
    return ns >= lo_ns && ns <= hi_ns;
}

/* A POSIX timer of CLOCK firing every NS ns (SIGNO, or nothing for SIGEV_NONE): "C,S", timer_create's and timer_settime's results. */
static void posix_every(char *o, size_t n, const char *name, clockid_t clock, int notify, int signo, long ns) {
    timer_t t;
    struct sigevent ev = {0};
    ev.sigev_notify = notify;
    ev.sigev_signo = signo;
    int r = timer_create(clock, &ev, &t);
    struct itimerspec its = {{ns / 1000000000L, ns % 1000000000L}, {ns / 1000000000L, ns % 1000000000L}};
    snprintf(o, n, "%s=%d,%d", name, r, timer_settime(t, 0, &its, 0));
}

/* setitimer(WHICH) every US us: "NAME=R". */
static void itimer_every(char *o, size_t n, const char *name, int which, long us) {
    struct itimerval v = {{us / 1000000, us % 1000000}, {us / 1000000, us % 1000000}};
    snprintf(o, n, "%s=%d", name, setitimer(which, &v, 0));
}

static void act(const char *path, char *o, size_t n) {
    if (!strcmp(path, "/count")) {
        snprintf(o, n, "count=%d", ++counter);
    } else if (!strncmp(path, "/none/", 6)) {
        posix_every(o, n, "none", CLOCK_MONOTONIC, SIGEV_NONE, 0, atol(path + 6));
    } else if (!strncmp(path, "/ign/", 5)) {
        signal(SIGALRM, SIG_IGN);
        itimer_every(o, n, "ign", ITIMER_REAL, atol(path + 5));
    } else if (!strncmp(path, "/blocked/", 9)) {
        long ns = atol(path + 9);
        struct sigaction sa = {0};
        sa.sa_sigaction = on_signal;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGUSR1, &sa, 0);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigprocmask(SIG_BLOCK, &set, 0);
        posix_every(o, n, "blocked", CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGUSR1, ns);
    } else if (!strcmp(path, "/none-get")) {
        timer_t t;
        struct sigevent ev = {0};
        ev.sigev_notify = SIGEV_NONE;
        timer_create(CLOCK_MONOTONIC, &ev, &t);
        struct itimerspec its = {{0, 10000000}, {0, 10000000}}, g;
        timer_settime(t, 0, &its, 0);
        usleep(55000);
        timer_gettime(t, &g);
        int ovr = timer_getoverrun(t);
        struct itimerspec one = {{0, 0}, {0, 1000000}}, g1;
        timer_settime(t, 0, &one, 0);
        usleep(5000);
        timer_gettime(t, &g1);
        snprintf(o, n, "periodic interval=%ld value_ok=%d overrun=%d; one-shot value=%ld.%09ld overrun=%d",
                g.it_interval.tv_nsec, within(g.it_value, 1, 10000000), ovr, g1.it_value.tv_sec, g1.it_value.tv_nsec,
                timer_getoverrun(t));
    } else if (!strcmp(path, "/ign-get")) {
        signal(SIGUSR1, SIG_IGN);
        timer_t t;
        struct sigevent ev = {0};
        ev.sigev_notify = SIGEV_SIGNAL;
        ev.sigev_signo = SIGUSR1;
        timer_create(CLOCK_MONOTONIC, &ev, &t);
        struct itimerspec its = {{0, 10000000}, {0, 10000000}}, g;
        timer_settime(t, 0, &its, 0);
        usleep(55000);
        timer_gettime(t, &g);
        int ovr = timer_getoverrun(t);
        struct sigaction sa = {0};
        sa.sa_sigaction = on_signal;
        sa.sa_flags = SA_SIGINFO;
        got = 0;
        sigaction(SIGUSR1, &sa, 0);
        usleep(3000);
        int came = got, overrun = got_overrun;
        timer_delete(t);
        signal(SIGALRM, SIG_IGN);
        struct itimerval v = {{0, 10000}, {0, 10000}}, gv;
        setitimer(ITIMER_REAL, &v, 0);
        usleep(55000);
        getitimer(ITIMER_REAL, &gv);
        struct itimerval off = {{0, 0}, {0, 0}};
        setitimer(ITIMER_REAL, &off, 0);
        snprintf(o, n, "posix interval=%ld value_ok=%d overrun=%d; unignored signal=%d overrun_ok=%d; "
                "itimer interval=%ld value_ok=%d", g.it_interval.tv_nsec, within(g.it_value, 1, 10000000), ovr,
                came >= 1, overrun >= 3, (long) gv.it_interval.tv_usec,
                gv.it_value.tv_sec == 0 && gv.it_value.tv_usec <= 10000);
    } else if (!strncmp(path, "/burn/", 6)) {
        burn(atol(path + 6));
        snprintf(o, n, "burned");
    } else if (!strcmp(path, "/cpu")) {
        long p0 = cpu_ms(CLOCK_PROCESS_CPUTIME_ID), t0 = cpu_ms(CLOCK_THREAD_CPUTIME_ID);
        burn(200);
        long p1 = cpu_ms(CLOCK_PROCESS_CPUTIME_ID), t1 = cpu_ms(CLOCK_THREAD_CPUTIME_ID);
        snprintf(o, n, "process=%ld,%ld thread=%ld,%ld", p0, p1, t0, t1);
    } else if (!strcmp(path, "/cpu-sleep")) {
        int clocks[] = {0, 1, 2, 3, 4, 5, 6, 7, 11, 12};
        size_t at = 0;
        for (size_t i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
            struct timespec ts = {0, 1000};
            if (clocks[i] == 2) {
                continue; /* sleeps until the process has used 1 us more CPU: never, single-threaded */
            }
            long r = syscall(SYS_clock_nanosleep, clocks[i], 0, &ts, 0);
            at += snprintf(o + at, n - at, "%s%d:%d", i ? " " : "", clocks[i], r == 0 ? 0 : errno);
        }
        struct timespec res;
        syscall(SYS_clock_getres, CLOCK_PROCESS_CPUTIME_ID, &res);
        at += snprintf(o + at, n - at, " res=%ld.%09ld", res.tv_sec, res.tv_nsec);
        syscall(SYS_clock_getres, CLOCK_THREAD_CPUTIME_ID, &res);
        snprintf(o + at, n - at, ",%ld.%09ld", res.tv_sec, res.tv_nsec);
    } else if (!strcmp(path, "/cpu-timer")) {
        timer_t t;
        struct sigevent ev = {0};
        ev.sigev_notify = SIGEV_NONE;
        int r = timer_create(CLOCK_PROCESS_CPUTIME_ID, &ev, &t);
        struct timespec now;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
        struct itimerspec its = {{0, 0}, {now.tv_sec + 1, now.tv_nsec}}, g;
        timer_settime(t, TIMER_ABSTIME, &its, 0);
        timer_gettime(t, &g);
        snprintf(o, n, "cpu-timer=%d value_ok=%d", r, within(g.it_value, 1, 1000000000L));
    } else if (!strncmp(path, "/prof/", 6)) {
        signal(SIGPROF, on_tick);
        itimer_every(o, n, "prof", ITIMER_PROF, atol(path + 6));
    } else if (!strncmp(path, "/cputimer/", 10)) {
        signal(SIGUSR2, on_tick);
        posix_every(o, n, "cputimer", CLOCK_PROCESS_CPUTIME_ID, SIGEV_SIGNAL, SIGUSR2, atol(path + 10) * 1000);
    } else if (!strcmp(path, "/ticks")) {
        snprintf(o, n, "ticks=%d", ticks);
    } else if (!strncmp(path, "/burn-ticks/", 12)) {
        int before = ticks;
        burn(atol(path + 12));
        snprintf(o, n, "ticks=%d", ticks - before);
    } else if (!strcmp(path, "/dumpable")) {
        snprintf(o, n, "dumpable=%d", prctl(PR_GET_DUMPABLE));
    } else {
        snprintf(o, n, "path %s", path);
    }
}

int main(int argc, char **argv) {
    static char out[4096];
    if (argc > 2) {
        act(argv[2], out, sizeof out);
    }
    int l = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(atoi(argv[1]));
    a.sin_addr.s_addr = htonl(0x7f000001);
    if (bind(l, (void *) &a, sizeof a) || listen(l, 16)) {
        perror("bind");
        return 1;
    }
    for (;;) {
        int c = accept(l, 0, 0);
        if (c < 0) {
            continue;
        }
        char buf[2048];
        int r = read(c, buf, sizeof buf - 1);
        buf[r < 0 ? 0 : r] = 0;
        char path[256] = "/";
        sscanf(buf, "GET %255s", path);
        act(path, out, sizeof out);
        char resp[5000];
        int len = snprintf(resp, sizeof resp, "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                strlen(out), out);
        write(c, resp, len);
        close(c);
        if (!strcmp(path, "/spin")) {
            for (;;) {
            }
        }
        if (!strcmp(path, "/spinthread")) {
            pthread_t t;
            pthread_create(&t, 0, spinner, 0);
        }
    }
}
