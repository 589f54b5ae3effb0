/*
 * A server whose wait for connections has a timeout (a poll of 500 ms), and which, when the wait
 * ends without a client, spins (argv[2] "spin") or sleeps for an hour ("sleep") instead of waiting
 * again; a client it finds is answered "served". The template freezes in the poll; every request
 * VM resumes it there, so without a client it goes on to spin or sleep outside any request.
 * "emfile" fills its fd table first, makes its listener (blocking) in the last free slot and
 * loops on accept: the template freezes in it, and in every request VM it fails at once (EMFILE,
 * as on Linux) without the VM ever waiting on the host.
 * Usage: idle_spinner PORT spin|sleep|emfile
 */
#define _GNU_SOURCE
#include <poll.h>
#include <sys/eventfd.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_request.h"

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    int spin = strcmp(argv[2], "spin") == 0;
    int emfile = strcmp(argv[2], "emfile") == 0;
    if (emfile) {
        int last = -1;
        for (int fd; (fd = eventfd(0, 0)) >= 0;) last = fd;
        close(last);
    }
    int listener = listen_on_loopback(atoi(argv[1]));
    if (listener < 0) return 1;
    if (emfile) fcntl(listener, F_SETFL, 0); /* a blocking accept: the template's freeze point */
    while (emfile) {
        int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            write_response(fd, "served", 6);
            close(fd);
        }
    }
    for (;;) {
        struct pollfd p = {listener, POLLIN, 0};
        if (poll(&p, 1, 500) == 0) {
            if (spin) {
                for (volatile unsigned long x = 0;; x++) {
                }
            }
            struct timespec hour = {3600, 0};
            nanosleep(&hour, NULL);
        }
        int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) continue;
        char path[256];
        read_request_path(fd, path, sizeof path);
        write_response(fd, "served", 6);
        close(fd);
    }
}
