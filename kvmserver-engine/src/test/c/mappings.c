/*
 * Memory-map behaviour the runtimes depend on (issue 10), one check per run:
 *
 *   mappings map-32bit | map-32bit-full | hugetlb | fixed-noreplace | fixed-replace | fixed-low
 *            | reserve-48g | reserve-commit | hostile-lengths | guard-page | reservation-fault
 *            | stale-pointers | shared-file-write | dev-zero
 *
 * Each check prints "OK <check>: ..." or "FAIL <check>: ..." and exits 0 only if it passed, except
 * guard-page and reservation-fault, which print the address they touch and must then die of
 * SIGSEGV. Where Linux's answer depends on the host (huge pages reserved, mmap_min_addr, the
 * limits the engine sets) the check accepts each answer Linux can give and prints which one it got.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#include "checks.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#define HUGE_SIZE(log2) ((log2) << MAP_HUGE_SHIFT)

#define KIB 1024UL
#define MIB (1024UL * KIB)
#define GIB (1024UL * MIB)
#define TWO_GIB (2 * GIB)

static const char *err(void) {
    return strerrorname_np(errno);
}

/* mmap's result as "ok" or its errno's name; errno is kept for the caller. */
static const char *result(void *p) {
    return p == MAP_FAILED ? err() : "ok";
}

static long host_value(const char *path, long otherwise) {
    FILE *f = fopen(path, "r");
    long v = otherwise;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1) v = otherwise;
        fclose(f);
    }
    return v;
}

/* ---- map-32bit: MAP_32BIT mappings lie below 2 GiB; a free hint below 2 GiB is honoured; MAP_FIXED ignores the flag. ---- */

static void map_32bit(void) {
    char *small = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    char *shared = mmap(NULL, 128 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (small == MAP_FAILED || shared == MAP_FAILED) {
        fail("mmap MAP_32BIT: %s", err());
        return;
    }
    uintptr_t s = (uintptr_t) small, h = (uintptr_t) shared;
    if (s + MIB > TWO_GIB || h + 128 * MIB > TWO_GIB) {
        fail("MAP_32BIT mappings at %#lx and %#lx, not below 2 GiB", (unsigned long) s, (unsigned long) h);
        return;
    }
    if (s < h + 128 * MIB && h < s + MIB) {
        fail("MAP_32BIT mappings overlap: %#lx and %#lx", (unsigned long) s, (unsigned long) h);
        return;
    }
    small[0] = 1;
    shared[128 * MIB - 1] = 2;
    char *hinted = mmap((void *) 0x30000000, MIB, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    char *crossing = mmap((void *) (TWO_GIB - MIB), 4 * MIB, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    char *fixed = mmap((void *) (12 * GIB), MIB, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT | MAP_FIXED, -1, 0);
    if (hinted != (char *) 0x30000000) {
        fail("a free hint below 2 GiB was not honoured: %p", (void *) hinted);
    } else if (crossing == MAP_FAILED || (uintptr_t) crossing + 4 * MIB > TWO_GIB) {
        fail("a hint crossing 2 GiB must be moved below it: %p", (void *) crossing);
    } else if (fixed != (char *) (12 * GIB)) {
        fail("MAP_FIXED must ignore MAP_32BIT: %p (%s)", (void *) fixed, result(fixed));
    } else {
        fixed[0] = 3;
        ok("small %s, shared %s, hint honoured, crossing moved below 2 GiB, fixed at 12 GiB",
           s >= GIB ? "in the second GiB" : "below 1 GiB", h >= GIB ? "in the second GiB" : "below 1 GiB");
    }
}

/* ---- map-32bit-full: the window fills up, then MAP_32BIT is ENOMEM (it never spills above 2 GiB). ---- */

static void map_32bit_full(void) {
    int count = 0;
    for (int i = 0; i < 16; i++) {
        void *p = mmap(NULL, 256 * MIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_32BIT, -1, 0);
        if (p == MAP_FAILED) {
            if (errno != ENOMEM) {
                fail("mapping %d: %s, expected ENOMEM", i, err());
            } else if (count < 2) {
                fail("only %d 256 MiB mappings fit below 2 GiB", count);
            } else {
                ok("%d mappings of 256 MiB, then ENOMEM", count);
            }
            return;
        }
        if ((uintptr_t) p + 256 * MIB > TWO_GIB) {
            fail("mapping %d at %p, above 2 GiB", i, p);
            return;
        }
        count++;
    }
    fail("16 mappings of 256 MiB below 2 GiB");
}

/* ---- hugetlb: without reserved huge pages, MAP_HUGETLB is ENOMEM and the program falls back. ---- */

static void hugetlb(void) {
    long reserved = host_value("/proc/sys/vm/nr_hugepages", 0);
    if (reserved != 0) {
        ok("the host has %ld huge pages reserved: not checked", reserved);
        return;
    }
    char failures[512] = "";
    struct {
        const char *what;
        int flags;
        void *addr;
        int expected;
    } cases[] = {
        {"private", MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, NULL, ENOMEM},
        {"shared-2mb", MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | HUGE_SIZE(21), NULL, ENOMEM},
        {"private-1gb", MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | HUGE_SIZE(30), NULL, ENOMEM},
        {"php-opcache", MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_32BIT | MAP_FIXED, (void *) 0x41000000, ENOMEM},
        {"size-16mb", MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | HUGE_SIZE(24), NULL, EINVAL},
        {"fixed-unaligned", MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_FIXED, (void *) 0x41001000, EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *p = mmap(cases[i].addr, 2 * MIB, PROT_READ | PROT_WRITE, cases[i].flags, -1, 0);
        if (p != MAP_FAILED || errno != cases[i].expected) {
            snprintf(failures + strlen(failures), sizeof failures - strlen(failures), " %s=%s", cases[i].what,
                     result(p));
        }
    }
    int fd = open("/proc/self/exe", O_RDONLY);
    void *file = mmap(NULL, 2 * MIB, PROT_READ, MAP_PRIVATE | MAP_HUGETLB, fd, 0);
    if (file != MAP_FAILED || errno != EINVAL) {
        snprintf(failures + strlen(failures), sizeof failures - strlen(failures), " file=%s", result(file));
    }
    close(fd);
    char *normal = mmap((void *) 0x41000000, 128 * MIB, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS | MAP_32BIT | MAP_FIXED, -1, 0);
    if (normal == MAP_FAILED) {
        snprintf(failures + strlen(failures), sizeof failures - strlen(failures), " fallback=%s", err());
    } else {
        normal[0] = 1;
        if (madvise(normal, 2 * MIB, MADV_HUGEPAGE) != 0 || madvise(normal, 2 * MIB, MADV_NOHUGEPAGE) != 0) {
            snprintf(failures + strlen(failures), sizeof failures - strlen(failures), " madv-hugepage=%s", err());
        }
        if (madvise(normal, 2 * MIB, 999) == 0 || errno != EINVAL) {
            snprintf(failures + strlen(failures), sizeof failures - strlen(failures), " madv-999=%s", err());
        }
    }
    int shm = shmget(IPC_PRIVATE, 2 * MIB, IPC_CREAT | SHM_HUGETLB | 0600);
    const char *shm_result = shm >= 0 ? "ok" : err();
    if (shm >= 0 || (errno != ENOSYS && errno != EPERM && errno != ENOMEM)) {
        snprintf(failures + strlen(failures), sizeof failures - strlen(failures), " shmget-hugetlb=%s", shm_result);
    }
    if (failures[0]) {
        fail("unexpected:%s", failures);
    } else {
        ok("huge pages ENOMEM, bad sizes EINVAL, ordinary fallback works, MADV_HUGEPAGE 0, shmget SHM_HUGETLB %s",
           shm_result);
    }
}

/* ---- fixed-noreplace: EEXIST on any overlap, the exact address when free; never replaces. ---- */

static void fixed_noreplace(void) {
    long page = sysconf(_SC_PAGESIZE);
    char *area = mmap(NULL, 8 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) {
        fail("mmap: %s", err());
        return;
    }
    munmap(area + 4 * page, 4 * page); /* pages 4-7 free again */
    memset(area, 'a', 4 * page);
    void *same = mmap(area + page, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    int same_errno = errno;
    void *overlap = mmap(area + 3 * page, 2 * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    int overlap_errno = errno;
    void *both = mmap(area, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_FIXED_NOREPLACE, -1, 0);
    int both_errno = errno;
    void *unaligned = mmap(area + 4 * page + 1, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                           -1, 0);
    int unaligned_errno = errno;
    char *free_one = mmap(area + 5 * page, 2 * page, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (same != MAP_FAILED || same_errno != EEXIST || overlap != MAP_FAILED || overlap_errno != EEXIST
        || both != MAP_FAILED || both_errno != EEXIST) {
        fail("overlaps must be EEXIST: same=%s overlap=%s fixed|noreplace=%s", strerrorname_np(same_errno),
             strerrorname_np(overlap_errno), strerrorname_np(both_errno));
    } else if (unaligned != MAP_FAILED || unaligned_errno != EINVAL) {
        fail("an unaligned address must be EINVAL: %s", strerrorname_np(unaligned_errno));
    } else if (free_one != area + 5 * page) {
        fail("a free range must be mapped exactly there: %p for %p", (void *) free_one, (void *) (area + 5 * page));
    } else if (area[0] != 'a' || area[page] != 'a' || area[4 * page - 1] != 'a' || free_one[0] != 0) {
        fail("contents changed");
    } else {
        ok("EEXIST on overlap (also with MAP_FIXED), EINVAL unaligned, exact address when free");
    }
}

/* ---- fixed-replace: MAP_FIXED over a mapping replaces exactly the pages it covers, with zeros. ---- */

static void fixed_replace(void) {
    long page = sysconf(_SC_PAGESIZE);
    char *area = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(area, 'x', 3 * page);
    char *middle = mmap(area + page, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    int fd = open("/proc/self/exe", O_RDONLY);
    char *file = mmap(area + 2 * page, page, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
    close(fd);
    if (middle != area + page || file != area + 2 * page) {
        fail("MAP_FIXED did not map at its address: %p %p (%s)", (void *) middle, (void *) file, err());
    } else if (area[0] != 'x' || area[page - 1] != 'x' || middle[0] != 0 || middle[page - 1] != 0) {
        fail("replaced page not zero or neighbour changed");
    } else if (memcmp(file, "\177ELF", 4) != 0) {
        fail("the file mapped over the last page does not show the file");
    } else {
        ok("the replaced page reads zeros, its neighbour kept its bytes, a file replaced the last page");
    }
}

/* ---- fixed-low: below vm.mmap_min_addr (the engine's own pages, its vDSO there) MAP_FIXED is EPERM. ---- */

static void fixed_low(void) {
    long min_addr = host_value("/proc/sys/vm/mmap_min_addr", 65536);
    uintptr_t vdso = getauxval(AT_SYSINFO_EHDR);
    void *low = mmap((void *) 0x1000, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    int low_errno = errno;
    void *noreplace = mmap((void *) 0x8000, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    int noreplace_errno = errno;
    if (min_addr <= 0x1000) {
        ok("mmap_min_addr is %ld here: not checked", min_addr);
        return;
    }
    if (low != MAP_FAILED || low_errno != EPERM || noreplace != MAP_FAILED || noreplace_errno != EPERM) {
        fail("below mmap_min_addr: MAP_FIXED %s, MAP_FIXED_NOREPLACE %s", strerrorname_np(low_errno),
             strerrorname_np(noreplace_errno));
        return;
    }
    const char *over_vdso = "not below mmap_min_addr";
    if (vdso != 0 && vdso < (uintptr_t) min_addr) {
        void *p = mmap((void *) vdso, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        over_vdso = p == MAP_FAILED ? err() : "mapped";
        /* munmap of the engine's pages is a no-op, as munmap of unmapped memory is. */
        if (munmap((void *) (vdso & ~4095UL), 8192) != 0) {
            fail("munmap below mmap_min_addr: %s", err());
            return;
        }
    }
    struct timespec t;
    if (clock_gettime(CLOCK_MONOTONIC, &t) != 0) {
        fail("clock_gettime after the attempts: %s", err());
        return;
    }
    ok("MAP_FIXED below mmap_min_addr EPERM, over the vDSO %s, the clock still works", over_vdso);
}

/* ---- reserve-48g: V8's reservation, then a small part made accessible and used. ---- */

static int touch(char *p, size_t length, char value) {
    for (size_t i = 0; i < length; i += 4096) p[i] = value;
    for (size_t i = 0; i < length; i += 4096) {
        if (p[i] != value) return 0;
    }
    return 1;
}

static void reserve_48g(void) {
    size_t size = 48 * GIB;
    char *r = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED) {
        fail("48 GiB PROT_NONE reservation: %s", err());
        return;
    }
    char *second = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (second == MAP_FAILED) {
        fail("a second 48 GiB reservation: %s", err());
        return;
    }
    char *middle = r + 24 * GIB, *end = r + size - 64 * KIB;
    if (mprotect(middle, MIB, PROT_READ | PROT_WRITE) != 0 || mprotect(end, 64 * KIB, PROT_READ | PROT_WRITE) != 0) {
        fail("mprotect of a part: %s", err());
        return;
    }
    if (!touch(middle, MIB, 0x5a) || !touch(end, 64 * KIB, 0x33)) {
        fail("the accessible parts do not keep what was written");
        return;
    }
    int fds[2];
    if (pipe(fds) != 0) {
        fail("pipe: %s", err());
        return;
    }
    long w = write(fds[1], middle - 4096, 1); /* still PROT_NONE */
    int w_errno = errno;
    long w2 = write(fds[1], middle, 1);
    if (w != -1 || w_errno != EFAULT || w2 != 1) {
        fail("write from the reservation: %ld (%s), from the accessible part %ld", w, strerrorname_np(w_errno), w2);
        return;
    }
    /* Go's pattern: MAP_FIXED commits inside the reservation. */
    char *commit = mmap(r + GIB, 2 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (commit != r + GIB || !touch(commit, 2 * MIB, 7)) {
        fail("MAP_FIXED inside the reservation: %s", result(commit));
        return;
    }
    if (munmap(r, size) != 0 || munmap(second, size) != 0) {
        fail("munmap: %s", err());
        return;
    }
    ok("two 48 GiB reservations, 1 MiB + 64 KiB made accessible and used, EFAULT from the rest, MAP_FIXED commit");
}

/* ---- reserve-commit: under a small memory limit, reserving is free, making it accessible is not. ---- */

static void reserve_commit(void) {
    char *r = mmap(NULL, 48 * GIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED) {
        fail("reservation: %s", err());
        return;
    }
    int p = mprotect(r, 4 * GIB, PROT_READ | PROT_WRITE);
    const char *protect_result = p == 0 ? "ok" : err();
    void *m = mmap(NULL, 4 * GIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    const char *map_result = result(m);
    int small = mprotect(r + 8 * GIB, MIB, PROT_READ | PROT_WRITE);
    if ((p != 0 && strcmp(protect_result, "ENOMEM") != 0) || (m == MAP_FAILED && strcmp(map_result, "ENOMEM") != 0)) {
        fail("mprotect 4 GiB %s, mmap 4 GiB %s: only ok or ENOMEM", protect_result, map_result);
    } else if (small != 0 || !touch(r + 8 * GIB, MIB, 9)) {
        fail("a small part must still work: %s", err());
    } else {
        ok("48 GiB reserved, mprotect 4 GiB accessible %s, mmap 4 GiB accessible %s, 1 MiB fine", protect_result,
           map_result);
    }
}

/* ---- hostile-lengths: overflowing and unaligned arguments get Linux's errnos, nothing else happens. ---- */

static void hostile_lengths(void) {
    char failures[512] = "";
    struct {
        const char *what;
        void *addr;
        size_t length;
        int flags;
        int expected;
    } cases[] = {
        {"len-0", NULL, 0, MAP_PRIVATE | MAP_ANONYMOUS, EINVAL},
        {"len-wraps", NULL, (size_t) -4096, MAP_PRIVATE | MAP_ANONYMOUS, ENOMEM},
        {"len-max", NULL, (size_t) -1, MAP_PRIVATE | MAP_ANONYMOUS, ENOMEM},
        {"fixed-unaligned", (void *) 0x100000001, 4096, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, EINVAL},
        {"fixed-past-user-space", (void *) 0x7ffffffff000, 8192, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, ENOMEM},
        {"fixed-kernel", (void *) 0xffff800000000000, 4096, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, ENOMEM},
        {"no-type", NULL, 4096, MAP_ANONYMOUS, EINVAL},
        {"validate-anonymous", NULL, 4096, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *p = mmap(cases[i].addr, cases[i].length, PROT_READ, cases[i].flags, -1, 0);
        if (p != MAP_FAILED || errno != cases[i].expected) {
            snprintf(failures + strlen(failures), sizeof failures - strlen(failures), " %s=%s", cases[i].what,
                     result(p));
        }
    }
    int fd = open("/proc/self/exe", O_RDONLY);
    void *offset = mmap(NULL, MIB, PROT_READ, MAP_PRIVATE, fd, 0x7ffffffffffff000L);
    if (offset != MAP_FAILED || errno != EOVERFLOW) {
        snprintf(failures + strlen(failures), sizeof failures - strlen(failures), " offset=%s", result(offset));
    }
    close(fd);
    char *page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *pair = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct {
        const char *what;
        int got;
        int expected;
    } calls[] = {
        {"munmap-len-0", munmap(page, 0) == 0 ? 0 : errno, EINVAL},
        {"munmap-unaligned", munmap(page + 1, 4096) == 0 ? 0 : errno, EINVAL},
        {"munmap-wraps", munmap(page, (size_t) -4096) == 0 ? 0 : errno, EINVAL},
        {"munmap-unmapped", munmap((void *) 0x7f0000000000, 4096) == 0 ? 0 : errno, 0},
        {"mprotect-wraps", mprotect(page, (size_t) -4096, PROT_READ) == 0 ? 0 : errno, ENOMEM},
        {"mprotect-unmapped", mprotect((void *) 0x7f0000000000, 4096, PROT_READ) == 0 ? 0 : errno, ENOMEM},
        {"mprotect-bad-prot", mprotect(page, 4096, 0x10) == 0 ? 0 : errno, EINVAL},
        {"mprotect-len-0-bad-prot", mprotect(page, 0, 0x10) == 0 ? 0 : errno, 0},
        {"madvise-unaligned", madvise(page + 1, 4096, MADV_NORMAL) == 0 ? 0 : errno, EINVAL},
        {"madvise-unmapped", madvise((void *) 0x7f0000000000, 4096, MADV_NORMAL) == 0 ? 0 : errno, ENOMEM},
        /* A shrink whose old length runs past user space: the unmap of its tail is munmap's, EINVAL. */
        {"mremap-shrink-past-user-space", mremap(pair, 1UL << 61, 4096, 0) != MAP_FAILED ? 0 : errno, EINVAL},
        {"mremap-shrink-wraps", mremap(pair, 0x7ffffffffffff000UL, 4096, 0) != MAP_FAILED ? 0 : errno, EINVAL},
        {"mremap-grow-past-mapping", mremap(pair, 1UL << 61, 1UL << 62, MREMAP_MAYMOVE) != MAP_FAILED ? 0 : errno,
         EINVAL},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        if (calls[i].got != calls[i].expected) {
            snprintf(failures + strlen(failures), sizeof failures - strlen(failures), " %s=%s", calls[i].what,
                     calls[i].got ? strerrorname_np(calls[i].got) : "0");
        }
    }
    if (failures[0]) {
        fail("unexpected:%s", failures);
    } else {
        ok("every bad length, address, offset and type got Linux's errno");
    }
}

/* ---- guard-page: a PROT_NONE page is EFAULT for system calls and faults when touched. ---- */

static void guard_page(void) {
    long page = sysconf(_SC_PAGESIZE);
    char *area = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(area, 1, 3 * page);
    if (mprotect(area + page, page, PROT_NONE) != 0) {
        fail("mprotect: %s", err());
        return;
    }
    if (write(1, area + page, 1) != -1 || errno != EFAULT) {
        fail("write from the guard page: %s", err());
        return;
    }
    printf("guard page at %p, touching it\n", (void *) (area + page));
    fflush(stdout);
    area[page + 8] = 2;
    fail("the write to the guard page did not fault");
}

/* ---- reservation-fault: reading an untouched page of a reservation faults. ---- */

static void reservation_fault(void) {
    char *r = mmap(NULL, 48 * GIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED || mprotect(r + GIB, 4096, PROT_READ | PROT_WRITE) != 0) {
        fail("reservation: %s", err());
        return;
    }
    r[GIB] = 1;
    volatile char *target = r + GIB + 4096;
    printf("reservation page at %p, reading it\n", (void *) target);
    fflush(stdout);
    char c = *target;
    fail("the read of the reservation did not fault (%d)", c);
}

/* ---- stale-pointers: a pointer valid a moment ago is checked again after every change of the map. ---- */

/* Each map change sits between two calls on the same pointer with no other pointer in between:
 * the engine remembers the mapping its last check found, and a change it failed to forget would
 * let the second call through. */
#define RESULT(call) ((call) >= 0 ? 0 : errno)

static void stale_pointers(void) {
    long page = sysconf(_SC_PAGESIZE);
    static const char fill[256] = {1};
    int p[2];
    if (pipe(p) != 0 || write(p[1], fill, sizeof fill) != sizeof fill) {
        fail("pipe: %s", err());
        return;
    }
    char *a = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(a, 7, 4 * page);
    int steps[7];
    steps[0] = RESULT(write(p[1], a + page, 16));                 /* valid */
    mprotect(a + page, page, PROT_NONE);
    steps[1] = RESULT(write(p[1], a + page, 16));                 /* EFAULT */
    mprotect(a + page, page, PROT_READ);
    steps[2] = RESULT(write(p[1], a + page, 16));                 /* valid */
    steps[3] = RESULT(read(p[0], a + page, 16));                  /* EFAULT: read-only */
    steps[4] = RESULT(write(p[1], a + 3 * page, 16));             /* valid */
    munmap(a + 3 * page, page);
    steps[5] = RESULT(write(p[1], a + 3 * page, 16));             /* EFAULT */
    mmap(a + 3 * page, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    steps[6] = RESULT(read(p[0], a + 3 * page, 16));              /* valid */
    static const int expected[7] = {0, EFAULT, 0, EFAULT, 0, EFAULT, 0};
    for (int i = 0; i < 7; i++) {
        if (steps[i] != expected[i]) {
            fail("step %d: %s where %s was expected", i, steps[i] ? strerror(steps[i]) : "success",
                 expected[i] ? strerror(expected[i]) : "success");
            return;
        }
    }
    ok("each pointer check saw the map as it was at the time");
}

/* ---- shared-file-write: a shared mapping of a file opened read-only never becomes writable. ---- */

static void shared_file_write(void) {
    int fd = open("/proc/self/exe", O_RDONLY);
    char *shared = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
    char *private = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 0);
    if (fd < 0 || shared == MAP_FAILED || private == MAP_FAILED) {
        fail("open or mmap: %s", err());
        return;
    }
    int up = mprotect(shared, 8192, PROT_READ | PROT_WRITE) == 0 ? 0 : errno;
    int part = mprotect(shared + 4096, 4096, PROT_WRITE) == 0 ? 0 : errno;
    int down = mprotect(shared, 8192, PROT_NONE) == 0 ? 0 : errno;
    int back = mprotect(shared, 8192, PROT_READ) == 0 ? 0 : errno;
    int privately = mprotect(private, 8192, PROT_READ | PROT_WRITE) == 0 ? 0 : errno;
    if (up != EACCES || part != EACCES || down != 0 || back != 0 || privately != 0) {
        fail("mprotect writable %s, its second page %s, none %s, read %s; the private one writable %s",
             up ? strerrorname_np(up) : "0", part ? strerrorname_np(part) : "0", down ? strerrorname_np(down) : "0",
             back ? strerrorname_np(back) : "0", privately ? strerrorname_np(privately) : "0");
        return;
    }
    private[0] = 'x';
    ok("the shared mapping stays unwritable (EACCES), the private one takes writes");
}

/* ---- dev-zero: mapping /dev/zero is anonymous memory, private or shared, zeros either way. ---- */

static void dev_zero(void) {
    int fd = open("/dev/zero", O_RDWR);
    if (fd < 0) fd = open("/dev/zero", O_RDONLY);
    char *private = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    char *shared = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (fd < 0 || private == MAP_FAILED || shared == MAP_FAILED) {
        fail("open %d, private %s, shared %s", fd, result(private), result(shared));
        return;
    }
    int zeros = private[4096] == 0 && shared[(1 << 20) - 1] == 0;
    private[0] = 1;
    shared[0] = 2;
    if (!zeros || private[0] != 1 || shared[0] != 2) {
        fail("zeros %d, written back %d %d", zeros, private[0], shared[0]);
        return;
    }
    ok("1 MiB private and 1 MiB shared of /dev/zero, zeros, writable");
}

int main(int argc, char **argv) {
    static const struct check checks[] = {
        {"dev-zero", dev_zero},
        {"shared-file-write", shared_file_write},
        {"map-32bit", map_32bit},
        {"map-32bit-full", map_32bit_full},
        {"hugetlb", hugetlb},
        {"fixed-noreplace", fixed_noreplace},
        {"fixed-replace", fixed_replace},
        {"fixed-low", fixed_low},
        {"reserve-48g", reserve_48g},
        {"reserve-commit", reserve_commit},
        {"hostile-lengths", hostile_lengths},
        {"guard-page", guard_page},
        {"reservation-fault", reservation_fault},
        {"stale-pointers", stale_pointers},
    };
    return run_check(argc, argv, checks, sizeof checks / sizeof checks[0]);
}
