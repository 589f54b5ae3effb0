/* The benchmarks' clock: CLOCK_MONOTONIC in nanoseconds (through the vDSO where there is one). */
#ifndef KVMSERVER_BENCH_MONOTONIC_H
#define KVMSERVER_BENCH_MONOTONIC_H

#include <time.h>

static inline long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

#endif
