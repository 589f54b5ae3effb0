/*
 * Memory probes, chosen by argv[1]:
 *   big MIB      malloc MIB mebibytes, touch one byte per 64 KiB, check, free
 *   small N      N small mallocs of varying size, filled, checked, freed
 *   mmapfile P   mmap P MAP_PRIVATE|PROT_READ and compare it with read()
 *   efault       read/write/pipe calls with bad pointers: each must fail with EFAULT
 *   guard        touch two pages, mprotect the second PROT_READ, write to it (must crash)
 *   guard-fresh  as guard, but the second page is never touched before mprotect
 *   unmapped     touch a page, munmap it, read it again (must crash)
 *   protnone     touch a page, mprotect it PROT_NONE, read it again (must crash)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int big(long mib) {
    size_t size = (size_t) mib << 20;
    unsigned char *p = malloc(size);
    if (!p) { printf("malloc failed\n"); return 1; }
    for (size_t i = 0; i < size; i += 65536) p[i] = (unsigned char) (i >> 16);
    p[size - 1] = 0x5a;
    long bad = 0;
    for (size_t i = 0; i < size; i += 65536) bad += p[i] != (unsigned char) (i >> 16);
    bad += p[size - 1] != 0x5a;
    free(p);
    printf("big %ld MiB bad=%ld\n", mib, bad);
    return bad != 0;
}

static int small(long n) {
    unsigned char **ptrs = calloc(n, sizeof *ptrs);
    long bad = 0;
    for (long i = 0; i < n; i++) {
        size_t len = 1 + (i * 7919) % 1000;
        ptrs[i] = malloc(len);
        if (!ptrs[i]) { printf("malloc %ld failed\n", i); return 1; }
        memset(ptrs[i], (int) (i & 0xff), len);
        if (i % 3 == 0) { free(ptrs[i / 2]); ptrs[i / 2] = NULL; }
    }
    for (long i = 0; i < n; i++) {
        if (!ptrs[i]) continue;
        size_t len = 1 + (i * 7919) % 1000;
        for (size_t j = 0; j < len; j++) bad += ptrs[i][j] != (unsigned char) (i & 0xff);
        free(ptrs[i]);
    }
    free(ptrs);
    printf("small %ld bad=%ld\n", n, bad);
    return bad != 0;
}

static int mmapfile(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) { printf("open errno=%s\n", strerrorname_np(errno)); return 1; }
    struct stat st;
    if (fstat(fd, &st) != 0) { printf("fstat errno=%s\n", strerrorname_np(errno)); return 1; }
    char *m = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) { printf("mmap errno=%s\n", strerrorname_np(errno)); return 1; }
    char *r = malloc(st.st_size);
    ssize_t n = pread(fd, r, st.st_size, 0);
    int same = n == st.st_size && memcmp(m, r, st.st_size) == 0;
    /* The bytes past the end of the file, up to the page end, read as zeros. */
    long tail = 4096 - (st.st_size % 4096);
    int zeros = 1;
    for (long i = 0; tail != 4096 && i < tail; i++) zeros &= m[st.st_size + i] == 0;
    printf("mmap size=%ld same=%d zeros=%d first=%.*s\n", (long) st.st_size, same, zeros,
           (int) strcspn(m, "\n"), m);
    munmap(m, st.st_size);
    close(fd);
    return !same;
}

static void expect_efault(const char *what, long r) {
    const char *name = r == -1 ? strerrorname_np(errno) : "no error";
    printf("%s %s\n", what, name ? name : "?");
}

static int efault(void) {
    int fds[2];
    if (pipe(fds) != 0) { printf("pipe failed\n"); return 1; }
    write(fds[1], "abcdef", 6);
    char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    errno = 0;
    expect_efault("write-null", syscall(SYS_write, 1, NULL, 10));
    expect_efault("write-low", syscall(SYS_write, 1, (void *) 0x1000, 10));
    expect_efault("write-kernel", write(1, (void *) 0xffff800000001000UL, 10));
    expect_efault("write-protnone", write(1, none, 10));
    expect_efault("write-wrap", syscall(SYS_write, 1, (void *) 0x7fffffffff00UL, 0x7fffffffffffffffL));
    expect_efault("read-null", syscall(SYS_read, fds[0], NULL, 3));
    expect_efault("read-readonly", read(fds[0], ro, 3));
    expect_efault("pipe-bad", syscall(SYS_pipe2, (void *) 8, 0));
    expect_efault("stat-bad", syscall(SYS_newfstatat, AT_FDCWD, (void *) 16, (void *) 32, 0));
    char ok[4] = {0};
    long n = read(fds[0], ok, 3);
    printf("still-working %ld %.3s\n", n, ok);
    return 0;
}

static int guard(int touch) {
    char *p = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { printf("mmap failed\n"); return 1; }
    p[0] = 1;
    if (touch) p[4096] = 1;
    if (mprotect(p + 4096, 4096, PROT_READ) != 0) { printf("mprotect failed\n"); return 1; }
    printf("guard page at %p value %d\n", (void *) (p + 4096), p[4096]);
    fflush(stdout);
    ((volatile char *) p)[4096] = 2;
    printf("write to the guard page did not fault\n");
    return 0;
}

static int lose_access(int unmap) {
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { printf("mmap failed\n"); return 1; }
    p[0] = 7;
    int r = unmap ? munmap(p, 4096) : mprotect(p, 4096, PROT_NONE);
    printf("%s %p = %d\n", unmap ? "munmap" : "mprotect PROT_NONE", (void *) p, r);
    fflush(stdout);
    printf("read after losing access: %d\n", ((volatile char *) p)[0]);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    if (!strcmp(argv[1], "big")) return big(atol(argv[2]));
    if (!strcmp(argv[1], "small")) return small(atol(argv[2]));
    if (!strcmp(argv[1], "mmapfile")) return mmapfile(argv[2]);
    if (!strcmp(argv[1], "efault")) return efault();
    if (!strcmp(argv[1], "guard")) return guard(1);
    if (!strcmp(argv[1], "guard-fresh")) return guard(0);
    if (!strcmp(argv[1], "unmapped")) return lose_access(1);
    if (!strcmp(argv[1], "protnone")) return lose_access(0);
    return 2;
}
