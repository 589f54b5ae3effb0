/*
 * A small epoll HTTP/1.1 server for the serving and isolation tests. One request per
 * connection (Connection: close). Paths:
 *   /            "hello"
 *   /counter     increments a global and a heap counter, answers both
 *   /secret/XYZ  stores XYZ in a global buffer;  /peek  answers the buffer
 *   /file        appends a line to $STATE_DIR/state.txt, answers the file's line count
 *   /fd          opens /dev/null and leaves it open, answers the fd number
 *   /loop /sleep /crash /exit /alloc/N   misbehave: spin, sleep 30 s, fault, exit(3), dirty N MiB
 * Usage: http_server [port] [state-dir]
 * LISTEN_PAUSE_MS=N in the environment: pause N ms between listen() and the first wait, as a
 * program that finishes its start-up after it listens does (a window in which clients connect);
 * ACCEPT_FIRST=1: then accept (non-blocking) until none is left, before the first wait.
 * TIMER_MS=N: a timer of the program's, due N ms after the first wait, that appends a line to
 * $STATE_DIR/timer.txt when it fires (where it fires: once in the template, or in each request VM);
 * TIMER_REPEAT=1: it fires every N ms. POLL_MS=N: the wait's timeout when no timer is due, an idle
 * tick that does nothing (a poll interval, as select loops have). THREAD_TIMER_MS=N: a thread,
 * started before listen(), that waits N ms on a condition variable nobody signals (a futex wait
 * with a timeout, as a runtime's idle pool thread makes), appends the same line, and ends.
 * BLOCKING_ACCEPT=1: serve from a blocking accept() instead of the epoll loop.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_request.h"

static long counter;
static long *heap_counter;
static char secret[64] = "pristine";
static const char *state_dir = ".";

static void respond(int fd, const char *body) {
    char buf[512];
    int n = snprintf(buf, sizeof buf,
                     "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     strlen(body), body);
    write(fd, buf, n);
}

static void handle(int fd) {
    char path[256];
    read_request_path(fd, path, sizeof path);
    char body[256];
    if (strcmp(path, "/counter") == 0) {
        counter++;
        (*heap_counter)++;
        snprintf(body, sizeof body, "global=%ld heap=%ld", counter, *heap_counter);
    } else if (strncmp(path, "/secret/", 8) == 0) {
        snprintf(secret, sizeof secret, "%s", path + 8);
        snprintf(body, sizeof body, "stored");
    } else if (strcmp(path, "/peek") == 0) {
        snprintf(body, sizeof body, "%s", secret);
    } else if (strcmp(path, "/file") == 0) {
        char name[512];
        snprintf(name, sizeof name, "%s/state.txt", state_dir);
        FILE *f = fopen(name, "a+");
        if (!f) {
            snprintf(body, sizeof body, "fopen failed: %s", strerror(errno));
        } else {
            fputs("line\n", f);
            fflush(f);
            rewind(f);
            int lines = 0, c;
            while ((c = fgetc(f)) != EOF) lines += c == '\n';
            fclose(f);
            snprintf(body, sizeof body, "lines=%d", lines);
        }
    } else if (strcmp(path, "/fd") == 0) {
        int leaked = open("/dev/null", O_RDONLY);
        snprintf(body, sizeof body, "fd=%d", leaked);
    } else if (strcmp(path, "/sleep") == 0) {
        sleep(30);
        snprintf(body, sizeof body, "woke");
    } else if (strcmp(path, "/loop") == 0) {
        for (volatile long i = 0;; i++) {
        }
    } else if (strcmp(path, "/crash") == 0) {
        *(volatile int *) 16 = 1;
    } else if (strcmp(path, "/exit") == 0) {
        exit(3);
    } else if (strncmp(path, "/alloc/", 7) == 0) {
        long mib = atol(path + 7);
        char *p = malloc(mib << 20);
        for (long i = 0; p && i < (mib << 20); i += 4096) p[i] = 1;
        snprintf(body, sizeof body, "allocated=%ld", mib);
    } else {
        snprintf(body, sizeof body, "hello");
    }
    respond(fd, body);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void timer_fired(void) {
    char name[512];
    snprintf(name, sizeof name, "%s/timer.txt", state_dir);
    int fd = open(name, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        write(fd, "fired\n", 6);
        close(fd);
    }
}

static void *idle_thread(void *arg) {
    long ms = (long) arg;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_t never;
    pthread_cond_init(&never, &attr);
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&lock);
    while (pthread_cond_timedwait(&never, &lock, &until) != ETIMEDOUT) {
    }
    pthread_mutex_unlock(&lock);
    timer_fired();
    return NULL;
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8000;
    if (argc > 2) state_dir = argv[2];
    heap_counter = calloc(1, sizeof *heap_counter);
    const char *thread_timer = getenv("THREAD_TIMER_MS");
    if (thread_timer) {
        pthread_t t;
        pthread_create(&t, NULL, idle_thread, (void *) atol(thread_timer));
        pthread_detach(t);
    }
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *) &addr, sizeof addr) < 0) {
        perror("bind");
        return 1;
    }
    if (listen(ls, 128) < 0) {
        perror("listen");
        return 1;
    }
    printf("listening on %d\n", port);
    fflush(stdout);
    const char *pause = getenv("LISTEN_PAUSE_MS");
    if (pause) {
        long ms = atol(pause);
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (getenv("ACCEPT_FIRST")) {
        int c;
        while ((c = accept4(ls, NULL, NULL, 0)) >= 0) {
            handle(c);
            close(c);
        }
    }
    if (getenv("BLOCKING_ACCEPT")) {
        fcntl(ls, F_SETFL, 0);
        for (;;) {
            int c = accept4(ls, NULL, NULL, 0);
            if (c >= 0) {
                handle(c);
                close(c);
            }
        }
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    const char *timer = getenv("TIMER_MS");
    long timer_ms = timer ? atol(timer) : 0;
    int timer_repeats = getenv("TIMER_REPEAT") != NULL;
    long long due = timer_ms > 0 ? now_ms() + timer_ms : -1;
    const char *poll = getenv("POLL_MS");
    int poll_ms = poll ? atoi(poll) : -1;
    for (;;) {
        struct epoll_event events[16];
        int timeout = poll_ms;
        if (due >= 0) {
            long long left = due - now_ms();
            timeout = left > 0 ? (int) left : 0;
        }
        int n = epoll_wait(ep, events, 16, timeout);
        // Timers first, as event loops run them: before the connection that woke the loop.
        if (due >= 0 && now_ms() >= due) {
            timer_fired();
            due = timer_repeats ? now_ms() + timer_ms : -1;
        }
        if (n < 0 && errno == EINTR) continue;
        for (int i = 0; i < n; i++) {
            if (events[i].data.fd == ls) {
                int c;
                while ((c = accept4(ls, NULL, NULL, 0)) >= 0) {
                    handle(c);
                    close(c);
                }
            }
        }
    }
}
