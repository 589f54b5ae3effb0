/* A hostile program's own "dynamic loader": named in the program's PT_INTERP, the engine loads it
 * in place of ld.so, and it runs first. It ignores the program and opens the file its first
 * argument names, printing "read: <what it holds>" or "open errno=N". A program names files in its
 * headers (DT_NEEDED, RUNPATH) that the engine grants for the loader to read: this loader reads
 * whatever was granted. Built with -nostdlib -static-pie (DynamicGrantsTest). */

__asm__(".globl _start\n"
        "_start:\n"
        "    mov %rsp, %rdi\n"
        "    and $-16, %rsp\n"
        "    call loader_main\n"
        "    hlt\n");

static long sys3(long n, long a, long b, long c) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

static void say(const char *s, long n) {
    sys3(1, 1, (long) s, n);
}

void loader_main(long *stack) {
    char **argv = (char **) (stack + 1);
    char buf[256];
    if (stack[0] < 2) {
        say("usage: program FILE\n", 20);
        sys3(60, 2, 0, 0);
    }
    long fd = sys3(2, (long) argv[1], 0, 0); /* open(path, O_RDONLY) */
    if (fd < 0) {
        char m[] = "open errno=00\n";
        m[11] = (char) ('0' + (-fd) / 10);
        m[12] = (char) ('0' + (-fd) % 10);
        say(m, sizeof m - 1);
        sys3(60, 0, 0, 0);
    }
    long n = sys3(0, fd, (long) buf, sizeof buf);
    say("read: ", 6);
    if (n > 0) {
        say(buf, n);
    }
    say("\n", 1);
    sys3(60, 0, 0, 0);
}
