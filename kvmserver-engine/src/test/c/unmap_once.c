/*
 * Maps two pages, writes to one, unmaps them and says so: a munmap that a nested PVM host
 * answers in the guest (SyscallTraceTest: the trace of host calls leaves it out).
 */
#include <stdio.h>
#include <sys/mman.h>

int main(void) {
    char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    p[0] = 1;
    int unmapped = munmap(p, 8192);
    printf("munmap=%d\n", unmapped);
    return 0;
}
