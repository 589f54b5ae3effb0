/*
 * A server for the test of the munmap and shrinking mremap the PVM syscall entry answers in the
 * guest and queues for the host (UnmapInGuestTest). Usage: unmap_queued PORT MODE, where MODE is
 *   python   what python3 does with a receive buffer in every request: mmap 260 KiB (its first
 *            and last page read as zeros: "clean"), write to it, mremap it to 4 KiB
 *            (MREMAP_MAYMOVE), munmap it, and close; answers "moved=0 munmap=0 clean=1"
 *   stale    two pages the template mapped and unmapped before it waits: a read and a write there
 *            fault; then the request maps them (MAP_FIXED_NOREPLACE), writes them and unmaps them
 *            with no call before its close (so a reset, not the unmap, must drop what KVM cached
 *            for them); answers "unmapped=1,1"
 *   closes   an unmap followed by a close that does not end the request (a pipe's): a write to
 *            the pages faults then; and pages written, unmapped and mapped again at the same
 *            address (MAP_FIXED) read as zeros; answers "segv=1 zero=1"
 *   checks   Linux's answers, one call each: a shrink, a same-size remap, a remap after a queued
 *            one, munmap's EINVALs and a good munmap, after which the next call that reaches the
 *            host has unmapped the pages (a write to them raises SIGSEGV), a remap there then
 *            (EFAULT), a remap of a mapping just unmapped with no call between (EFAULT),
 *            MREMAP_FIXED without MREMAP_MAYMOVE, a shrink whose old range runs past the mapping's
 *            end (Linux looks only at the mapping at its address), a growth beyond user space
 *            (ENOMEM), a shrink of an older mapping; answers "shrink=1 same=1 again=1
 *            einval=22,22,22 munmap=0 segv=1 gone=14 stale=14 fixed=22 past=1 huge=22 older=1"
 *   buffers  a writev whose iovec array, a write whose bytes and an epoll_ctl ADD whose event
 *            are in pages just unmapped with no call between: EFAULT; answers
 *            "writev=14 write=14 add=14"
 *   wait     an epoll wait whose events array is in a page just unmapped, right after the
 *            connection was added (writable: an event to report): EFAULT; answers "wait=14"
 *   full     munmaps that would split a mapping when the program has vm.max_map_count of them:
 *            ENOMEM, and every one that returned 0 did unmap; answers "full=1 unmapped=0 lies=0"
 *            (the engine: unmapped=1, its mprotect at the limit leaving no half-made split)
 *   forge    writes a queue entry of its own into the syscall entry's queue page (0xc000): an
 *            unmap of the first 64 KiB, the engine's system region (trap stub, answer page), then
 *            makes a call the host answers, which performs the queue; answers "alive=1" if it
 *            can still make system calls (natively there is no queue page: it only maps one)
 * (the answers were checked natively, on Linux 6.18).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "http_request.h"
#include "write_faults.h"

#define PAGE 4096L

static int python(char *body, size_t size) {
    char *p = mmap(NULL, 266240, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int clean = p[0] == 0 && p[4095] == 0 && p[266240 - 4096] == 0;
    memset(p, 'x', 8192);
    memset(p + 266240 - 4096, 'x', 4096);
    char *q = mremap(p, 266240, 4096, MREMAP_MAYMOVE);
    int moved = q != p;
    int unmapped = munmap(q, 4096);
    return snprintf(body, size, "moved=%d munmap=%d clean=%d", moved, unmapped, clean);
}

/* Two pages free in the template: mapped and unmapped again before it waits (see main). */
static char *freed;

static int stale(char *body, size_t size) {
    int read = read_faults(freed);
    int written = write_faults(freed + PAGE);
    char *p = mmap(freed, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == freed) {
        memset(p, 'x', 2 * PAGE);
        munmap(p, 2 * PAGE);
    }
    return snprintf(body, size, "unmapped=%d,%d", read, written);
}

static int closes(char *body, size_t size) {
    int pipes[2];
    if (pipe(pipes) != 0) return snprintf(body, size, "pipe failed");
    char *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(p, 'x', 2 * PAGE);
    munmap(p, 2 * PAGE);
    close(pipes[0]); /* the host's close, which ends no request */
    int faulted = write_faults(p);
    close(pipes[1]);
    char *r = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(r, 'y', PAGE);
    munmap(r, PAGE);
    char *again = mmap(r, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    int zero = again == r && r[0] == 0 && r[PAGE - 1] == 0;
    munmap(again, PAGE);
    return snprintf(body, size, "segv=%d zero=%d", faulted, zero);
}

static int err(long result) {
    return result == -1 ? errno : 0;
}

static int checks(char *body, size_t size) {
    /* 10 pages, the last two unmapped again: the 8 left end at a hole. */
    char *p = mmap(NULL, 10 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(p + 8 * PAGE, 2 * PAGE);
    p = mmap(p, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    int same = mremap(p, 8 * PAGE, 8 * PAGE, 0) == p;
    int shrink = mremap(p, 8 * PAGE, 6 * PAGE, 0) == p;
    int again = mremap(p, 6 * PAGE, 4 * PAGE, MREMAP_MAYMOVE) == p;
    int e1 = err(munmap(p + 1, PAGE));
    int e2 = err(munmap(p, 0));
    int e3 = err(munmap((void *) 0x7ffffffff000L, 2 * PAGE));
    int unmapped = munmap(p, 2 * PAGE);
    getppid(); /* a call the host answers */
    int faulted = write_faults(p);
    int gone = err((long) mremap(p, 2 * PAGE, PAGE, 0)); /* no mapping there any more */
    /* Unmapped and then shrunk without a call between: no mapping there either. */
    char *q = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(q, 4 * PAGE);
    int stale = err((long) mremap(q, 4 * PAGE, PAGE, 0));
    int fixed = err((long) mremap(p + 2 * PAGE, PAGE, PAGE, MREMAP_FIXED, p));
    /* Linux looks only for a mapping at the address of a shrink, not at the old range's end. */
    int past = mremap(p + 2 * PAGE, 3 * PAGE, PAGE, MREMAP_MAYMOVE) == p + 2 * PAGE;
    char *older = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *newer = mmap(NULL, 4 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int huge = err((long) mremap(newer, 4 * PAGE, 1L << 47, 0)); /* a length beyond user space */
    int old_shrunk = mremap(older, 4 * PAGE, PAGE, MREMAP_MAYMOVE) == older;
    munmap(older, PAGE);
    munmap(newer, 4 * PAGE);
    munmap(p + 2 * PAGE, PAGE);
    return snprintf(body, size,
                    "shrink=%d same=%d again=%d einval=%d,%d,%d munmap=%d segv=%d gone=%d stale=%d fixed=%d past=%d huge=%d older=%d",
                    shrink, same, again, e1, e2, e3, unmapped, faulted, gone, stale, fixed, past, huge, old_shrunk);
}

/*
 * A program at vm.max_map_count: a munmap that would split a mapping fails with ENOMEM, so the
 * entry may not answer it 0. Every other page of a reservation is made readable until the next
 * split is refused; then pages in what is left are unmapped one by one (each a split), and after
 * a call the host answers, every page whose munmap returned 0 must be gone (madvise: ENOMEM).
 */
static int full(char *body, size_t size) {
    long pages = 2 * 65536 + 64;
    char *big = mmap(NULL, pages * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    long i = 1;
    while (i < pages - 64 && mprotect(big + i * PAGE, PAGE, PROT_READ) == 0) {
        i += 2;
    }
    char *gone[16];
    int n = 0;
    for (int k = 0; k < 16; k++) {
        char *page = big + (i + 4 + 2 * k) * PAGE;
        if (munmap(page, PAGE) == 0) gone[n++] = page;
    }
    getpid();
    int lies = 0;
    for (int k = 0; k < n; k++) {
        if (madvise(gone[k], PAGE, MADV_NORMAL) == 0) lies++;
    }
    munmap(big, pages * PAGE);
    return snprintf(body, size, "full=%d unmapped=%d lies=%d", i < pages - 64, n, lies);
}

/*
 * Calls whose buffers are in a page just unmapped, with no call between, each after an unmap of
 * its own: the iovec array of a writev, the bytes of a write, the event of an epoll_ctl ADD.
 * Linux: EFAULT, nothing sent or added.
 */
static int buffers(int ep, int fd, char *body, size_t size) {
    char *w = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(w, 'x', 4 * PAGE);
    struct iovec *array = (struct iovec *) (w + 3 * PAGE);
    array[0].iov_base = w;
    array[0].iov_len = 10;
    struct epoll_event *event = (struct epoll_event *) (w + 2 * PAGE);
    event->events = EPOLLIN;
    event->data.u64 = 7;
    munmap(w + 3 * PAGE, PAGE);
    int ev = err(writev(fd, array, 1));
    munmap(w + PAGE, PAGE);
    int ew = err(write(fd, w + PAGE + 100, 10));
    munmap(w + 2 * PAGE, PAGE);
    int ea = err(epoll_ctl(ep, EPOLL_CTL_ADD, fd, event));
    munmap(w, PAGE);
    return snprintf(body, size, "writev=%d write=%d add=%d", ev, ew, ea);
}

/*
 * Before the request is read: the connection added to the instance (EPOLLIN | EPOLLOUT: it is
 * writable at once), the page of the events array (mapped before the server waits, so that no
 * call reaches the host between the accept and the wait) unmapped, and the wait. Linux: EFAULT
 * (an event to copy, and nowhere to copy it).
 */
static char *events_page;

static int wait_into_unmapped(int ep, int fd) {
    char *e = events_page;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u64 = 7};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    munmap(e, PAGE);
    int ew = err(epoll_wait(ep, (struct epoll_event *) e, 8, 1000));
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    return ew;
}

/* The queue page's count and first entry ({nr, pages, address} for an unmap). */
#define QUEUE 0xc000L
#define QUEUE_ENTRIES (QUEUE + 128)

static int forge(char *body, size_t size) {
    /* Natively there is no queue page: one is mapped there (as root), so that the writes are harmless. */
    mmap((void *) QUEUE, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    volatile uint32_t *entry = (volatile uint32_t *) QUEUE_ENTRIES;
    entry[0] = 11; /* munmap */
    entry[1] = 16; /* pages */
    *(volatile uint64_t *) (entry + 2) = 0;
    *(volatile uint32_t *) QUEUE = 1;
    getppid();
    int alive = getpid() > 0;
    return snprintf(body, size, "alive=%d", alive);
}

int main(int argc, char **argv) {
    const char *mode = argc > 2 ? argv[2] : "python";
    install_segv_catcher();
    int listener = listen_on_loopback(atoi(argv[1]));
    if (listener < 0) return 1;
    int ep = epoll_watching_listener(listener);
    events_page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    /* Far below the mmap area, where the engine's reservation (MapInGuestTest) never is. */
    freed = mmap((void *) 0x10000000L, 2 * PAGE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    memset(freed, 'f', 2 * PAGE);
    munmap(freed, 2 * PAGE);
    for (;;) {
        int fd = accept_when_reported(ep, listener);
        if (fd < 0) {
            continue;
        }
        int waited = !strcmp(mode, "wait") ? wait_into_unmapped(ep, fd) : 0;
        char path[256];
        read_request_path(fd, path, sizeof path);
        char body[256];
        int b = !strcmp(mode, "checks") ? checks(body, sizeof body)
                : !strcmp(mode, "forge") ? forge(body, sizeof body)
                : !strcmp(mode, "full") ? full(body, sizeof body)
                : !strcmp(mode, "buffers") ? buffers(ep, fd, body, sizeof body)
                : !strcmp(mode, "wait") ? snprintf(body, sizeof body, "wait=%d", waited)
                : !strcmp(mode, "stale") ? stale(body, sizeof body)
                : !strcmp(mode, "closes") ? closes(body, sizeof body) : python(body, sizeof body);
        write_response(fd, body, b);
        close(fd);
    }
}
