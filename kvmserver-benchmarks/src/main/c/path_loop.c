/*
 * The cost of path operations: stat() and open()+close() of each path given, in a loop, timed by
 * the program's own CLOCK_MONOTONIC (two clock reads in all). For comparing how the engine
 * resolves paths (python3's imports are a few hundred stat and open calls at start-up).
 * Usage: path_loop ROUNDS PATH...; prints "stat_ns=... open_close_ns=..." per call.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: path_loop ROUNDS PATH...\n");
        return 2;
    }
    long rounds = atol(argv[1]);
    int paths = argc - 2;
    struct stat st;
    for (int i = 0; i < paths; i++) { /* once untimed: the first touch of the code and data pages */
        stat(argv[2 + i], &st);
        close(open(argv[2 + i], O_RDONLY | O_CLOEXEC));
    }
    long t0 = now_ns();
    for (long r = 0; r < rounds; r++) {
        for (int i = 0; i < paths; i++) {
            if (stat(argv[2 + i], &st) != 0) {
                perror(argv[2 + i]);
                return 1;
            }
        }
    }
    long t1 = now_ns();
    for (long r = 0; r < rounds; r++) {
        for (int i = 0; i < paths; i++) {
            int fd = open(argv[2 + i], O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                perror(argv[2 + i]);
                return 1;
            }
            close(fd);
        }
    }
    long t2 = now_ns();
    double calls = (double) rounds * paths;
    printf("stat_ns=%.0f open_close_ns=%.0f\n", calls > 0 ? (t1 - t0) / calls : 0, calls > 0 ? (t2 - t1) / calls : 0);
    return 0;
}
