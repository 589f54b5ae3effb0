/* Drives many system calls through the trap path and checks every answer. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 5000;
    long bad = 0;
    for (long i = 0; i < n; i++) {
        long ppid = syscall(SYS_getppid);
        long pid = syscall(SYS_getpid);
        long enosys = syscall(100000);
        if (ppid != 0 || pid != 1 || enosys != -1) bad++;
    }
    printf("calls=%ld bad=%ld\n", n * 3, bad);
    return bad != 0;
}
