/*
 * The syscall round-trip benchmark's guest: calls getppid K times (argv[1], default 100000)
 * through syscall(2), so that no libc caching can hide a call, and prints the loop's own
 * timing as "calls=K ns_per_call=X" (CLOCK_MONOTONIC around the loop).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long k = argc > 1 ? atol(argv[1]) : 100000;
    struct timespec a, b;
    long sum = 0;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < k; i++) {
        sum += syscall(SYS_getppid);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    printf("calls=%ld ns_per_call=%.1f check=%ld\n", k, k > 0 ? ns / k : 0.0, sum != 0);
    return 0;
}
