/*
 * The vDSO's clocks, from the guest's side. The C library calls the vDSO; syscall(2) always
 * makes the system call. Modes (argv[1]):
 *
 *   compare   for each clock: vDSO, system call, vDSO again, and whether the three are in order
 *             (within SLACK_NS); then gettimeofday, time and getcpu the same way; prints
 *             "NAME before syscall after order=ok|BAD" lines and "vdso=0x... maps=..." facts
 *   loop N    N calls of clock_gettime(CLOCK_MONOTONIC): "calls=N ns_per_call=X backwards=B"
 *   fallback  what the vDSO must pass to the system call: "NAME rc=R errno=E [value]" lines
 *   rdtsc     the guest's TSC: "tsc=T"
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

/* The vDSO and the host agree to within about a microsecond; allow a few. */
#define SLACK_NS 5000LL

static long long ns(struct timespec t) {
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/*
 * The realtime clocks are compared in up to three rounds: the host may step its realtime clock
 * (NTP), which the system call sees at once and the vDSO at the engine's next publication, within
 * a second; a round in order shows they agree again. The others must agree in one.
 */
#define REALTIME_ROUNDS 3

static void compare_clock(const char *name, clockid_t clock) {
    struct timespec a, s, b;
    int rounds = clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE ? REALTIME_ROUNDS : 1;
    int ok = 0;
    for (int round = 0; round < rounds && !ok; round++) {
        if (round > 0) {
            usleep(400000);
        }
        int ra = clock_gettime(clock, &a);
        long rs = syscall(SYS_clock_gettime, clock, &s);
        int rb = clock_gettime(clock, &b);
        ok = ra == 0 && rs == 0 && rb == 0 && ns(a) <= ns(s) + SLACK_NS && ns(s) <= ns(b) + SLACK_NS
             && ns(a) <= ns(b);
    }
    printf("%s %lld %lld %lld order=%s\n", name, ns(a), ns(s), ns(b), ok ? "ok" : "BAD");
}

static void compare(void) {
    compare_clock("CLOCK_REALTIME", CLOCK_REALTIME);
    compare_clock("CLOCK_MONOTONIC", CLOCK_MONOTONIC);
    compare_clock("CLOCK_MONOTONIC_RAW", CLOCK_MONOTONIC_RAW);
    compare_clock("CLOCK_REALTIME_COARSE", CLOCK_REALTIME_COARSE);
    compare_clock("CLOCK_MONOTONIC_COARSE", CLOCK_MONOTONIC_COARSE);
    compare_clock("CLOCK_BOOTTIME", CLOCK_BOOTTIME);

    struct timeval ta, ts, tb;
    struct timezone tz = {123, 456};
    long long ua = 0, us = 0, ub = 0;
    int ok = 0;
    for (int round = 0; round < REALTIME_ROUNDS && !ok; round++) {
        if (round > 0) {
            usleep(400000);
        }
        gettimeofday(&ta, NULL);
        syscall(SYS_gettimeofday, &ts, NULL);
        gettimeofday(&tb, &tz);
        ua = ta.tv_sec * 1000000LL + ta.tv_usec;
        us = ts.tv_sec * 1000000LL + ts.tv_usec;
        ub = tb.tv_sec * 1000000LL + tb.tv_usec;
        ok = ua <= us + SLACK_NS / 1000 && us <= ub + SLACK_NS / 1000 && ta.tv_usec < 1000000;
    }
    printf("gettimeofday %lld %lld %lld order=%s tz=%d,%d\n", ua, us, ub, ok ? "ok" : "BAD",
           tz.tz_minuteswest, tz.tz_dsttime);

    time_t t1 = time(NULL);
    time_t t2 = syscall(SYS_time, NULL);
    time_t t3 = time(NULL);
    printf("time %lld %lld %lld order=%s\n", (long long) t1, (long long) t2, (long long) t3,
           t1 <= t2 + 1 && t2 <= t3 + 1 ? "ok" : "BAD");

    unsigned cpu = 77, node = 77;
    int rc = getcpu(&cpu, &node);
    printf("getcpu rc=%d cpu=%u node=%u\n", rc, cpu, node);

    struct timespec res;
    clock_getres(CLOCK_MONOTONIC, &res);
    printf("clock_getres CLOCK_MONOTONIC %lld\n", ns(res));

    unsigned long vdso = getauxval(AT_SYSINFO_EHDR);
    printf("vdso=0x%lx elf=%d\n", vdso, vdso != 0 && memcmp((void *) vdso, "\177ELF", 4) == 0);
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    while (maps != NULL && fgets(line, sizeof line, maps) != NULL) {
        if (strstr(line, "[vdso]") != NULL || strstr(line, "[vvar]") != NULL) {
            printf("maps %s", line);
        }
    }
}

static int loop(long calls) {
    struct timespec start, end, t;
    long backwards = 0;
    long long previous = 0;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long i = 0; i < calls; i++) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (ns(t) < previous) {
            backwards++;
        }
        previous = ns(t);
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    printf("calls=%ld ns_per_call=%.1f backwards=%ld\n", calls,
           calls > 0 ? (double) (ns(end) - ns(start)) / calls : 0.0, backwards);
    return backwards == 0 ? 0 : 1;
}

static void report(const char *name, long rc) {
    printf("%s rc=%ld errno=%d\n", name, rc, rc < 0 ? errno : 0);
}

static void fallback(void) {
    struct timespec t;
    /* CPU-time clocks are not in the time page. */
    report("clock_gettime(CLOCK_PROCESS_CPUTIME_ID)", clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t));
    report("clock_gettime(CLOCK_THREAD_CPUTIME_ID)", clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t));
    /* Unknown clock ids. */
    report("clock_gettime(100)", clock_gettime(100, &t));
    /* Pointers the vDSO does not write through: the system call's EFAULT (Linux's vDSO would fault). */
    report("clock_gettime(CLOCK_MONOTONIC, 8)", clock_gettime(CLOCK_MONOTONIC, (struct timespec *) 8));
    report("gettimeofday(8, NULL)", gettimeofday((struct timeval *) 8, NULL));
    errno = 0;
    report("time(8)", (long) time((time_t *) 8));
    report("getcpu(8, NULL)", getcpu((unsigned *) 8, NULL));
    /* A NULL pointer is fine where the call allows it (volatile: glibc's header says nonnull). */
    struct timeval *volatile no_time = NULL;
    report("gettimeofday(NULL, NULL)", gettimeofday(no_time, NULL));
    report("clock_getres(CLOCK_MONOTONIC, NULL)", clock_getres(CLOCK_MONOTONIC, NULL));
    /* The coarse clocks' resolution is the host's tick: the system call knows it. */
    int rc = clock_getres(CLOCK_MONOTONIC_COARSE, &t);
    printf("clock_getres(CLOCK_MONOTONIC_COARSE) rc=%d res=%lld\n", rc, ns(t));
    report("clock_getres(100)", clock_getres(100, &t));
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "compare";
    if (strcmp(mode, "compare") == 0) {
        compare();
    } else if (strcmp(mode, "loop") == 0) {
        return loop(argc > 2 ? atol(argv[2]) : 1000000);
    } else if (strcmp(mode, "fallback") == 0) {
        fallback();
    } else if (strcmp(mode, "rdtsc") == 0) {
        printf("tsc=%llu\n", (unsigned long long) __rdtsc());
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    return 0;
}
