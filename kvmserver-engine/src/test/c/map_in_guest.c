/*
 * A server for the test of the anonymous mmap the PVM syscall entry answers in the guest from
 * the template's reservation (MapInGuestTest). Usage: map_in_guest PORT; the request's path
 * chooses what it does:
 *   /fresh   what python3 does with a receive buffer: mmap 260 KiB, check that every byte is
 *            zero, fill it, mremap it to 4 KiB, munmap it; answers "zero=1 shrunk=1 unmapped=0
 *            at=ADDRESS" (the address the mmap returned: the same in every request)
 *   /maps    an mmap of 64 KiB, then /proc/self/maps: a line lists it readable and writable,
 *            and none lists the page below it; answers "listed=1 below=0"
 *   /forge   writes a queue entry of its own into the syscall entry's queue page (0xc000): an
 *            mmap of 16 pages 2 MiB below a mapping just made (below the reservation), then
 *            makes a call the host answers (which performs the queue), and a bytes-taken count
 *            past the reservation before an mmap; answers "listed=0 segv=1 mapped=1 zero=1"
 *   /stray   a page of the reservation written without mapping it (Linux: SIGSEGV, which the
 *            server catches; here it is the program's own memory until the host maps over the
 *            reservation), then a MAP_FIXED mapping over that page (through the host): it reads
 *            zero, and a page further down faults; answers "zero=1 segv=1"
 *   /flood   four mmaps of 256 KiB, every page written (1 MiB), then a call the host answers;
 *            answers "flooded=1" (MapInGuestTest runs it with a 1 MiB request memory limit:
 *            the request ends at that call)
 *   /half    the same with two mmaps (512 KiB); answers "flooded=1"
 *   /place   where mmaps go when the reservation is not at the top of its gap, or a gap above
 *            it holds the mapping: 16 pages mapped and unmapped, then 32 (ending where the 16
 *            did: the top of their gap); then two of 16 pages, the upper one unmapped, and 8
 *            pages (in that hole or higher, not below the lower one); answers "top=1 above=1"
 *   /python  /fresh after what python3's asyncio server does with a new connection: FIONBIO,
 *            TCP_NODELAY, an EPOLL_CTL_ADD; with the accept, the read and the response's two
 *            writes, ten calls the entry queues for one exit (the close); answers as /fresh
 * (the answers were checked natively, on Linux 6.18, the queue page mapped by /forge itself).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http_request.h"
#include "write_faults.h"

#define PAGE 4096L
#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

static int all_zero(const char *p, long length) {
    for (long i = 0; i < length; i++) {
        if (p[i]) return 0;
    }
    return 1;
}

static int fresh(char *body, size_t size) {
    char *p = mmap(NULL, 266240, RW, ANON, -1, 0);
    int zero = all_zero(p, 266240);
    memset(p, 'x', 266240);
    char *q = mremap(p, 266240, 4096, MREMAP_MAYMOVE);
    int unmapped = munmap(q, 4096);
    return snprintf(body, size, "zero=%d shrunk=%d unmapped=%d at=%p", zero, q == p, unmapped, (void *) p);
}

/* Whether a line of /proc/self/maps covers [from, to) with the permissions perms ("rw-p"). */
static int listed(uintptr_t from, uintptr_t to, const char *perms) {
    static char maps[1 << 16];
    int fd = open("/proc/self/maps", O_RDONLY);
    long got = 0, n;
    while (got < (long) sizeof maps - 1 && (n = read(fd, maps + got, sizeof maps - 1 - got)) > 0) {
        got += n;
    }
    close(fd);
    maps[got] = 0;
    for (char *line = maps; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        unsigned long start, end;
        char p[5];
        if (sscanf(line, "%lx-%lx %4s", &start, &end, p) == 3 && start <= from && end >= to
                && (!perms || !strcmp(p, perms))) {
            return 1;
        }
    }
    return 0;
}

static int maps(char *body, size_t size) {
    char *p = mmap(NULL, 16 * PAGE, RW, ANON, -1, 0);
    p[0] = 1;
    uintptr_t at = (uintptr_t) p;
    int in = listed(at, at + 16 * PAGE, "rw-p");
    int below = listed(at - PAGE, at, NULL);
    munmap(p, 16 * PAGE);
    return snprintf(body, size, "listed=%d below=%d", in, below);
}

/* The queue page's count, its bytes-taken count and its first entry ({nr, pages, address}). */
#define QUEUE 0xc000L
#define QUEUE_RES_TAKEN (QUEUE + 8)
#define QUEUE_ENTRIES (QUEUE + 128)

static int forge(char *body, size_t size) {
    /* Natively there is no queue page: one is mapped there (as root), so that the writes are harmless. */
    mmap((void *) QUEUE, PAGE, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0);
    char *q = mmap(NULL, 16 * PAGE, RW, ANON, -1, 0);
    getppid(); /* the mapping made: the reservation ends at q now */
    char *x = q - (2L << 20); /* below the reservation */
    volatile uint32_t *entry = (volatile uint32_t *) QUEUE_ENTRIES;
    entry[0] = 9; /* mmap */
    entry[1] = 16; /* pages */
    *(volatile uint64_t *) (entry + 2) = (uintptr_t) x;
    *(volatile uint32_t *) QUEUE = 1;
    getppid(); /* the host performs the queue: not the top of the reservation, dropped */
    int in = listed((uintptr_t) x, (uintptr_t) x + 16 * PAGE, NULL);
    int faulted = write_faults(x);
    /* A bytes-taken count the entry never wrote: the mmap goes to the host. */
    *(volatile uint64_t *) QUEUE_RES_TAKEN = 1L << 40;
    char *m = mmap(NULL, 16 * PAGE, RW, ANON, -1, 0);
    int mapped = m != MAP_FAILED && listed((uintptr_t) m, (uintptr_t) m + 16 * PAGE, "rw-p");
    int zero = mapped && all_zero(m, 16 * PAGE);
    munmap(m, 16 * PAGE);
    munmap(q, 16 * PAGE);
    *(volatile uint64_t *) QUEUE_RES_TAKEN = 0;
    return snprintf(body, size, "listed=%d segv=%d mapped=%d zero=%d", in, faulted, mapped, zero);
}

static int stray(char *body, size_t size) {
    char *a = mmap(NULL, 16 * PAGE, RW, ANON, -1, 0);
    munmap(a, 16 * PAGE);
    getppid(); /* the unmap performed: below a, the rest of the reservation */
    write_faults(a - 2 * PAGE); /* a stray write: SIGSEGV natively */
    char *c = mmap(a - 2 * PAGE, PAGE, RW, ANON | MAP_FIXED, -1, 0);
    int zero = c == a - 2 * PAGE && all_zero(c, PAGE);
    int faulted = write_faults(a - 4 * PAGE);
    munmap(c, PAGE);
    return snprintf(body, size, "zero=%d segv=%d", zero, faulted);
}

static int flood(int buffers, char *body, size_t size) {
    for (int i = 0; i < buffers; i++) {
        char *p = mmap(NULL, 256 * 1024, RW, ANON, -1, 0);
        for (long off = 0; off < 256 * 1024; off += PAGE) {
            p[off] = 1;
        }
    }
    getppid(); /* an exit: the engine counts the pages written */
    return snprintf(body, size, "flooded=1");
}

static int place(char *body, size_t size) {
    char *a = mmap(NULL, 16 * PAGE, RW, ANON, -1, 0);
    munmap(a, 16 * PAGE);
    getppid(); /* the unmap performed: a hole above the rest of the reservation */
    char *b = mmap(NULL, 32 * PAGE, RW, ANON, -1, 0); /* at the top of the hole's gap */
    munmap(b, 32 * PAGE);
    getppid();
    char *x = mmap(NULL, 16 * PAGE, RW, ANON, -1, 0);
    char *y = mmap(NULL, 16 * PAGE, RW, ANON, -1, 0);
    munmap(x, 16 * PAGE);
    getppid(); /* a 16-page gap above y, the reservation's end */
    char *z = mmap(NULL, 8 * PAGE, RW, ANON, -1, 0);
    int above = z > y;
    munmap(z, 8 * PAGE);
    munmap(y, 16 * PAGE);
    return snprintf(body, size, "top=%d above=%d", b + 32 * PAGE == a + 16 * PAGE, above);
}

static int python(int ep, int fd, char *body, size_t size) {
    int on = 1;
    ioctl(fd, FIONBIO, &on);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 7};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    return fresh(body, size);
}

int main(int argc, char **argv) {
    install_segv_catcher();
    int listener = listen_on_loopback(atoi(argv[1]));
    if (listener < 0) return 1;
    int ep = epoll_watching_listener(listener);
    for (;;) {
        int fd = accept_when_reported(ep, listener);
        if (fd < 0) {
            continue;
        }
        char path[256];
        read_request_path(fd, path, sizeof path);
        char body[256];
        int b = !strcmp(path, "/maps") ? maps(body, sizeof body)
                : !strcmp(path, "/forge") ? forge(body, sizeof body)
                : !strcmp(path, "/stray") ? stray(body, sizeof body)
                : !strcmp(path, "/flood") ? flood(4, body, sizeof body)
                : !strcmp(path, "/half") ? flood(2, body, sizeof body)
                : !strcmp(path, "/python") ? python(ep, fd, body, sizeof body)
                : !strcmp(path, "/place") ? place(body, sizeof body)
                : fresh(body, sizeof body);
        write_response(fd, body, b);
        close(fd);
    }
}
