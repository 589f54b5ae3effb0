/*
 * What single system calls cost, timed by the program's own CLOCK_MONOTONIC (a few clock reads in
 * all): getppid (the bare round trip), stat and open+close of each path given (path resolution:
 * python3's imports are a few hundred of these at start-up), and a 32-byte write to stdout (the
 * console). Every call is made once untimed first (first touches of code and data pages), and
 * the whole measurement runs twice, the first pass untimed: an engine compiles its hot paths
 * during the first.
 * Usage: syscall_costs ROUNDS PATH... (stdout is written to: send it to /dev/null). Prints
 * "getppid_ns=... stat_ns=... open_close_ns=... write_ns=..." per call on stderr.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "monotonic.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: syscall_costs ROUNDS PATH...\n");
        return 2;
    }
    long rounds = atol(argv[1]);
    int paths = argc - 2;
    static const char line[32] = "0123456789abcdef0123456789abcde\n";
    struct stat st;
    for (int i = 0; i < paths; i++) {
        if (stat(argv[2 + i], &st) != 0) {
            perror(argv[2 + i]);
            return 1;
        }
        close(open(argv[2 + i], O_RDONLY | O_CLOEXEC));
    }
    syscall(SYS_getppid);
    if (write(1, line, sizeof line) != sizeof line) {
        perror("write");
        return 1;
    }
    long calls = rounds * paths;
    long t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0;
    for (int pass = 0; pass < 2; pass++) {
        t0 = now_ns();
        for (long i = 0; i < calls; i++) {
            syscall(SYS_getppid);
        }
        t1 = now_ns();
        for (long r = 0; r < rounds; r++) {
            for (int i = 0; i < paths; i++) {
                stat(argv[2 + i], &st);
            }
        }
        t2 = now_ns();
        for (long r = 0; r < rounds; r++) {
            for (int i = 0; i < paths; i++) {
                close(open(argv[2 + i], O_RDONLY | O_CLOEXEC));
            }
        }
        t3 = now_ns();
        for (long i = 0; i < calls; i++) {
            if (write(1, line, sizeof line) != sizeof line) {
                perror("write");
                return 1;
            }
        }
        t4 = now_ns();
    }
    double n = calls > 0 ? (double) calls : 1;
    fprintf(stderr, "getppid_ns=%.0f stat_ns=%.0f open_close_ns=%.0f write_ns=%.0f\n", (t1 - t0) / n, (t2 - t1) / n,
            (t3 - t2) / n, (t4 - t3) / n);
    return 0;
}

