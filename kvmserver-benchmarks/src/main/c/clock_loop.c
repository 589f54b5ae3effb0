/*
 * The clock benchmark's guest: K calls (argv[1], default 1000000) of clock_gettime(CLOCK_MONOTONIC),
 * through the C library (the vDSO, where there is one) or, with argv[2] = "syscall", through
 * syscall(2) (the system call every read was before the engine had a vDSO). Prints the loop's own
 * timing as "calls=K ns_per_call=X" (CLOCK_MONOTONIC around the loop).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long k = argc > 1 ? atol(argv[1]) : 1000000;
    int raw = argc > 2 && strcmp(argv[2], "syscall") == 0;
    struct timespec a, b, t;
    long sum = 0;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < k; i++) {
        if (raw) {
            syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t);
        } else {
            clock_gettime(CLOCK_MONOTONIC, &t);
        }
        sum += t.tv_nsec;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    printf("calls=%ld ns_per_call=%.1f check=%d\n", k, k > 0 ? ns / k : 0.0, sum != 0);
    return 0;
}
