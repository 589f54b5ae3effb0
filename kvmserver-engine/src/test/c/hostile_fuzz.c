/*
 * A system call fuzzer: random numbers in 0..460 (except exit, exit_group, rt_sigreturn and
 * signals to itself, which would only end the run) with random and adversarial arguments: 0,
 * -1, small ints, lengths from 1 to 2^62, pointers into its own scratch memory (which holds
 * random bytes, valid paths and pointers back into itself), into its code, and bad addresses.
 * What it must not hurt is kept out of reach: its code, stack and TLS (memory calls are steered
 * into an arena; ARCH_SET_FS is skipped) and one protected output fd. Blocking waits get zero
 * timeouts and new fds are made non-blocking, so that it keeps fuzzing; what still blocks is
 * cut off by the engine's time limit, which is a valid outcome too.
 *
 * Usage: hostile_fuzz MILLISECONDS SEED   (prints "done calls=N" on the saved stdout)
 * With FUZZ_NO_MAIN defined, only fuzz() is compiled, for hostile_server.c.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define FUZZ_SCRATCH (256 * 1024)
#define FUZZ_ARENA (16L << 20)
#define FUZZ_SAFE_FD 900

static uint64_t fuzz_state;
static char *fuzz_scratch;
static char *fuzz_arena;
static int fuzz_keep_fd = -1;

static uint64_t fuzz_next(void) {
    uint64_t x = fuzz_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return fuzz_state = x;
}

static long fuzz_scratch_pointer(void) {
    return (long) (fuzz_scratch + (fuzz_next() % FUZZ_SCRATCH));
}

static long fuzz_value(void) {
    static const long special[] = {0, -1, 1, 2, 3, 4, 8, 16, 64, 4095, 4096, 4097, 65536, 0x7fffffff,
                                   0x80000000L, 0xffffffffL, 0x7ffff000L, 1L << 40, 1L << 62, (long) (1UL << 63),
                                   -4096, (long) 0xffff800000000000UL, 0x1000, 0x3000, 0x7fff00000000L};
    switch (fuzz_next() % 10) {
        case 0: return 0;
        case 1: return (long) (fuzz_next() % 8) - 1;            /* small ints, incl. -1 */
        case 2: return (long) (fuzz_next() % 32);               /* fds, flags, signals */
        case 3: return special[fuzz_next() % (sizeof special / sizeof special[0])];
        case 4: case 5: return fuzz_scratch_pointer();
        case 6: return (long) (fuzz_scratch + FUZZ_SCRATCH - (fuzz_next() % 16)); /* straddles the guard */
        case 7: return (long) &fuzz_next + (long) (fuzz_next() % 256);          /* its own code */
        case 8: return (long) fuzz_next();
        default: return (long) (fuzz_next() % 4096) * (fuzz_next() % 2 ? 1 : 4096);
    }
}

static void fuzz_fill_scratch(void) {
    static const char *paths[] = {"/etc/passwd", ".", "..", "../../..", "/proc/self/exe", "/proc/self/fd/1",
                                  "/proc/self/maps", "/dev/null", "/dev/zero", "a", "a/b", "/tmp/x",
                                  "/proc/self/root/etc/shadow", "//..//..//etc//passwd", ""};
    for (long i = 0; i < FUZZ_SCRATCH; i += 8) {
        uint64_t r = fuzz_next();
        if (r % 4 == 0) {
            long p = fuzz_scratch_pointer();
            memcpy(fuzz_scratch + i, &p, 8);
        } else if (r % 4 == 1) {
            long v = (long) (r >> 8) % 8192;
            memcpy(fuzz_scratch + i, &v, 8);
        } else {
            memcpy(fuzz_scratch + i, &r, 8);
        }
    }
    for (int i = 0; i < 64; i++) {
        const char *p = paths[fuzz_next() % (sizeof paths / sizeof paths[0])];
        long at = (long) (fuzz_next() % (FUZZ_SCRATCH - 64));
        memcpy(fuzz_scratch + at, p, strlen(p) + 1);
    }
}

static int fuzz_is_memory_call(long nr) {
    return nr == SYS_mmap || nr == SYS_munmap || nr == SYS_mprotect || nr == SYS_mremap || nr == SYS_madvise
           || nr == SYS_msync || nr == SYS_mlock || nr == SYS_munlock || nr == SYS_pkey_mprotect;
}

static void fuzz_nonblock_all(void) {
    for (int fd = 0; fd < 64; fd++) {
        if (fd == fuzz_keep_fd) continue;
        long fl = syscall(SYS_fcntl, fd, F_GETFL);
        if (fl >= 0 && !(fl & O_NONBLOCK)) syscall(SYS_fcntl, fd, F_SETFL, fl | O_NONBLOCK);
    }
}

/* Sets up scratch memory once; then fuzzes until `millis` have passed. Returns the call count. */
static long fuzz(long millis, uint64_t seed, int keep_fd) {
    fuzz_state = seed * 2654435761u + 88172645463325252ULL;
    fuzz_keep_fd = keep_fd;
    if (!fuzz_scratch) {
        /* Scratch and arena each between PROT_NONE guards, so a long write stops at EFAULT. */
        char *s = mmap(NULL, FUZZ_SCRATCH + 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        mprotect(s + 4096, FUZZ_SCRATCH, PROT_READ | PROT_WRITE);
        fuzz_scratch = s + 4096;
        fuzz_arena = mmap(NULL, FUZZ_ARENA, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }
    fuzz_fill_scratch();
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long calls = 0;
    for (;;) {
        if ((calls & 63) == 0) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
            if (elapsed >= millis) break;
            if ((calls & 1023) == 0) fuzz_fill_scratch();
        }
        long nr = (long) (fuzz_next() % 461);
        if (nr == SYS_exit || nr == SYS_exit_group || nr == SYS_rt_sigreturn || nr == SYS_kill || nr == SYS_tkill
            || nr == SYS_tgkill || nr == SYS_pause || nr == SYS_rt_sigsuspend || nr == SYS_rt_sigtimedwait
            || nr == SYS_vfork || nr == SYS_fork || nr == SYS_clone || nr == SYS_clone3 || nr == SYS_close_range) {
            continue;
        }
        long a[6];
        for (int i = 0; i < 6; i++) {
            a[i] = fuzz_value();
            if (a[i] == fuzz_keep_fd || a[i] == FUZZ_SAFE_FD) a[i] = 3;
        }
        if (fuzz_is_memory_call(nr)) {
            a[0] = (long) (fuzz_arena + (fuzz_next() % (FUZZ_ARENA / 4096)) * 4096 * (fuzz_next() % 2));
            if (nr == SYS_mmap && !(a[3] & (MAP_FIXED | MAP_FIXED_NOREPLACE))) a[0] = 0;
            if (nr == SYS_mmap || nr == SYS_mremap) a[1] = (long) (fuzz_next() % (FUZZ_ARENA / 2));
            if (nr == SYS_mremap) a[4] = (long) (fuzz_arena + (fuzz_next() % (FUZZ_ARENA / 4096)) * 4096);
        }
        if (nr == SYS_munmap || nr == SYS_mprotect || nr == SYS_madvise || nr == SYS_mremap) {
            /* keep the range inside the arena */
            long room = (long) (fuzz_arena + FUZZ_ARENA) - a[0];
            if (a[0] == 0 || (unsigned long) a[1] > (unsigned long) room) a[1] = room;
        }
        if (nr == SYS_brk && (unsigned long) a[0] < (1UL << 30)) a[0] = 0; /* never shrink into the program */
        if (nr == SYS_arch_prctl && (a[0] == 0x1002 || a[0] == 0x1001)) continue; /* TLS */
        if (nr == SYS_poll || nr == SYS_epoll_wait || nr == SYS_epoll_pwait) a[nr == SYS_poll ? 2 : 3] = 0;
        if (nr == SYS_ppoll || nr == SYS_pselect6 || nr == SYS_select || nr == SYS_epoll_pwait2
            || nr == SYS_nanosleep || nr == SYS_clock_nanosleep || nr == SYS_futex || nr == SYS_io_getevents) {
            /* a zero timeout at a random place in scratch: point the timeout argument at it */
            long *zero = (long *) (fuzz_scratch + 8 * (fuzz_next() % 64));
            zero[0] = 0;
            zero[1] = (long) (fuzz_next() % 1000);
            int pos = nr == SYS_ppoll ? 2 : nr == SYS_pselect6 || nr == SYS_select ? 4
                      : nr == SYS_epoll_pwait2 ? 3 : nr == SYS_nanosleep ? 0 : nr == SYS_futex ? 3 : 2;
            a[pos] = (long) zero;
            if (nr == SYS_clock_nanosleep) a[1] = 0;
        }
        long r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        calls++;
        if (r >= 0 && r < 1024 && r != fuzz_keep_fd
            && (nr == SYS_socket || nr == SYS_socketpair || nr == SYS_pipe || nr == SYS_pipe2 || nr == SYS_dup
                || nr == SYS_dup2 || nr == SYS_dup3 || nr == SYS_fcntl || nr == SYS_open || nr == SYS_openat
                || nr == SYS_accept || nr == SYS_accept4 || nr == SYS_eventfd || nr == SYS_eventfd2
                || nr == SYS_timerfd_create || nr == SYS_ioctl)) {
            fuzz_nonblock_all();
        }
    }
    return calls;
}

#ifndef FUZZ_NO_MAIN
int main(int argc, char **argv) {
    long millis = argc > 1 ? atol(argv[1]) : 1000;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
    int out = dup2(1, FUZZ_SAFE_FD);
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    close(null);
    long calls = fuzz(millis, seed, out);
    char line[64];
    int n = snprintf(line, sizeof line, "done calls=%ld\n", calls);
    return write(out, line, n) == n ? 0 : 1;
}
#endif
