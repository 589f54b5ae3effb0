/*
 * A server whose accept may fail while its listener is readable (ListenerWaitTest): it backs
 * off for 50 ms after any error other than EAGAIN, as nginx, Go and python3's asyncio do on
 * EMFILE, and answers each connection with the errors it saw before it: "errors=N last=NAME"
 * (NAME: the last error's errno name, or - when none). Usage: accept_errors PORT.
 *
 * It pauses once before it listens, so that the engine's code for a pause is loaded while the
 * host has fds: the test takes them all away later, and a class the JVM has yet to read would
 * fail to load then.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_request.h"

static const char *name_of(int error) {
    switch (error) {
    case 0: return "-";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOBUFS: return "ENOBUFS";
    case ENOMEM: return "ENOMEM";
    case EPERM: return "EPERM";
    default: return "other";
    }
}

int main(int argc, char **argv) {
    struct timespec pause = {.tv_nsec = 50000000};
    nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    int listener = listen_on_loopback(atoi(argv[1]));
    if (listener < 0) return 1;
    int ep = epoll_watching_listener(listener);
    int errors = 0, last = 0;
    for (;;) {
        struct epoll_event got[4];
        if (!listener_reported(got, epoll_wait(ep, got, 4, -1))) continue;
        int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN) {
                errors++;
                last = errno;
                nanosleep(&pause, NULL);
            }
            continue;
        }
        char path[256];
        read_request_path(fd, path, sizeof path);
        char body[64];
        write_response(fd, body, snprintf(body, sizeof body, "errors=%d last=%s", errors, name_of(last)));
        close(fd);
    }
}
