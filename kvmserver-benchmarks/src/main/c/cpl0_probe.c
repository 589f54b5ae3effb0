/*
 * CALLS getppid system calls, then ROUNDS passes writing one byte into each of 2048 pages (8 MiB,
 * more than the TLB holds: every touch after the first pass is a TLB miss), with raw system calls
 * and no C library, so that it needs no SSE and runs at CPL 0 in the CPL 0 prototype as well
 * (docs/benchmarks.md, "CPL 0 on PVM: decision"). Build:
 *   gcc -O2 -static -nostdlib -mgeneral-regs-only -fno-stack-protector -DCALLS=20000 -DROUNDS=0 \
 *       -o cpl0_probe cpl0_probe.c
 */
#ifndef CALLS
#define CALLS 20000
#endif
#ifndef ROUNDS
#define ROUNDS 0
#endif

static long sys(long n, long a, long b, long c) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

static volatile char pages[2048 * 4096];

void _start(void) {
    for (int i = 0; i < CALLS; i++) sys(110, 0, 0, 0); /* getppid */
    for (int r = 0; r < ROUNDS; r++) {
        for (int p = 0; p < 2048; p++) pages[p * 4096] = (char) r;
    }
    sys(1, 1, (long) "done\n", 5);
    sys(60, 0, 0, 0);
}
