/*
 * A server whose requests rewrite the same pages, for the hot-page tests: after two such requests
 * the engine keeps those pages writable (no dirty-tracking fault) and restores them at every
 * reset instead. One request per connection, blocking accept. Paths:
 *   /write/V   writes byte V at four places in each of the PAGES pages of a static array
 *   /same      writes into every page and puts the old bytes back (written, left as they were)
 *   /rest      touches none of them
 *   /check     answers "pristine" if every page holds the template's bytes, else the first page
 *              and byte that differ
 *   /mark/V    writes V into the first page only
 *   /dirty/N   writes into N pages of another array (at most 2048), none of them hot before
 * and the attacks on hot pages (each leaves guest memory changed; /check must find it pristine):
 *   /far/V     one page in each of FAR_CHUNKS chunks no template page is in: each must read as
 *              zeros (else "leak K"), then gets V (the pages may become hot in chunks a reset
 *              withdraws)
 *   /host/V    the host writes into every page (getrandom into it) after the guest wrote V
 *   /unmap/V   writes V, then unmaps two pages and maps fresh ones there (they must read as
 *              zeros, else "stale"), and gives one back with MADV_DONTNEED, writing V into them
 *   /gone/V    writes V, then unmaps two pages and makes a third read-only: a read of the
 *              unmapped ones and a write to the read-only one must each fault (else "reached"),
 *              however writable KVM kept the hot pages before
 *   /regrow/V  unmaps four pages, maps them again piecemeal (two inside, then the two ends):
 *              each must read as zeros, else "stale"; then writes V into them
 *   /holes/V   unmaps every other page of HOLES pages of template data in `spare` (private
 *              copies of some), maps them all again: zeros, else "stale"
 *   /grant/V   makes a read-only page of the program writable and writes V into it, and maps
 *              and writes a page at FAR_BASE - CHUNK, where the template maps nothing
 *   /revoked   after a /grant/: the write to the read-only page and a read of the page the
 *              template does not map must each fault (else "reached"): the reset's page tables
 *              took back what /grant/ was given, however long KVM had kept the page writable
 *   /threads/V four threads write V into a quarter of the pages each
 *   /fill/V    writes V, dirties 2048 other pages (past a 1024-entry dirty ring), writes V+1
 *   /crash/V   writes V, then faults
 *   /spin/V    writes V for ever (max-request-time stops it)
 * The pages also include one page in each of SPREAD_CHUNKS other chunks, mapped before the
 * server listens: hot pages in several KVM memory slots.
 * Usage: hot_pages PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PAGES 64
#define PAGE 4096

static unsigned char pages[PAGES][PAGE] __attribute__((aligned(PAGE)));
static unsigned char spare[2048][PAGE] __attribute__((aligned(PAGE)));

#define CHUNK (64UL << 20)
#define SPREAD_CHUNKS 3
#define SPREAD_BASE (40UL << 30)
#define FAR_CHUNKS 20
#define FAR_BASE (48UL << 30)
/* One page in each of SPREAD_CHUNKS chunks, part of the template. */
static unsigned char *spread[SPREAD_CHUNKS];
static volatile int *volatile nowhere;

static void respond(int fd, const char *body) {
    char buf[512];
    int n = snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     strlen(body), body);
    write(fd, buf, n);
}

static void write_pages(int from, int to, unsigned char v) {
    for (int p = from; p < to; p++) {
        for (int at = 0; at < PAGE; at += PAGE / 4) pages[p][at + p % 7] = v;
    }
}

static void write_all(unsigned char v) {
    write_pages(0, PAGES, v);
    for (int c = 0; c < SPREAD_CHUNKS; c++) spread[c][c * 8] = v;
}

struct quarter {
    int from;
    unsigned char v;
};

static void *write_quarter(void *arg) {
    struct quarter *q = arg;
    write_pages(q->from, q->from + PAGES / 4, q->v);
    return NULL;
}

/* Fresh memory at the same far addresses in every request: it must read as zeros. */
static void far(char *body, size_t size, unsigned char v) {
    for (int k = 0; k < FAR_CHUNKS; k++) {
        unsigned char *want = (unsigned char *) (FAR_BASE + k * CHUNK);
        unsigned char *page = mmap(want, PAGE, PROT_READ | PROT_WRITE,
                                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (page != want) {
            snprintf(body, size, "mmap %d: errno %d", k, errno);
            return;
        }
        for (int at = 0; at < PAGE; at++) {
            if (page[at]) {
                snprintf(body, size, "leak %d byte %d is %d", k, at, page[at]);
                return;
            }
        }
        page[k * 4] = v;
        page[PAGE - 1] = v;
    }
    snprintf(body, size, "zero");
}

static void remap(char *body, size_t size, unsigned char v) {
    write_all(v);
    if (mmap(pages[3], 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
            != pages[3]) {
        abort();
    }
    const unsigned char *fresh = (const unsigned char *) pages + 3 * PAGE;
    for (int at = 0; at < 2 * PAGE; at++) {
        if (fresh[at]) {
            snprintf(body, size, "stale byte %d is %d", at, fresh[at]);
            break;
        }
    }
    memset(pages[3], v, 2 * PAGE);
    madvise(pages[5], PAGE, MADV_DONTNEED);
    memset(pages[5], v, PAGE);
}

/* Maps n fresh pages at `at`; "" if they read as zeros, else what differs. */
static int fresh_zeros(unsigned char *at, int n, char *body, size_t size) {
    if (mmap(at, n * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != at) {
        snprintf(body, size, "mmap: errno %d", errno);
        return 0;
    }
    for (int i = 0; i < n * PAGE; i++) {
        if (at[i]) {
            snprintf(body, size, "stale byte %d at %p is %d", i % PAGE, (void *) (at + i), at[i]);
            return 0;
        }
    }
    return 1;
}

static void regrow(char *body, size_t size, unsigned char v) {
    unsigned char *base = (unsigned char *) pages + 10 * PAGE;
    write_all(v);
    if (munmap(base, 4 * PAGE) != 0) {
        snprintf(body, size, "munmap: errno %d", errno);
        return;
    }
    if (fresh_zeros(base + PAGE, 2, body, size) && fresh_zeros(base, 1, body, size)
            && fresh_zeros(base + 3 * PAGE, 1, body, size)) {
        memset(base, v, 4 * PAGE);
    }
}

#define HOLES 200
static void holes(char *body, size_t size, unsigned char v) {
    for (int p = 0; p < HOLES; p += 2) {
        spare[p][9] = v;
        if (munmap(spare[p], PAGE) != 0) {
            snprintf(body, size, "munmap: errno %d", errno);
            return;
        }
    }
    for (int p = 0; p < HOLES; p += 2) {
        if (!fresh_zeros(spare[p], 1, body, size)) return;
        spare[p][9] = v;
    }
}

static sigjmp_buf fault_exit;

static void on_fault(int sig) {
    (void) sig;
    siglongjmp(fault_exit, 1);
}

/* Whether touching *at (a read, or a write of v) faults: 1 if it did. */
static int faults(volatile unsigned char *at, int write, unsigned char v) {
    if (sigsetjmp(fault_exit, 1)) {
        return 1;
    }
    if (write) {
        *at = v;
    } else {
        (void) *at;
    }
    return 0;
}

static void gone(char *body, size_t size, unsigned char v) {
    write_all(v);
    struct sigaction sa = {.sa_handler = on_fault};
    sigaction(SIGSEGV, &sa, NULL);
    /* One change at a time: the host work of the second may drop KVM's view of the first. */
    if (munmap(pages[6], 2 * PAGE) != 0) {
        snprintf(body, size, "munmap: errno %d", errno);
    } else if (!faults(&pages[6][6], 0, v) || !faults(&pages[7][PAGE - 1], 0, v)) {
        snprintf(body, size, "reached an unmapped page");
    } else if (mprotect(pages[9], PAGE, PROT_READ) != 0) {
        snprintf(body, size, "mprotect: errno %d", errno);
    } else if (!faults(&pages[9][9], 1, v + 1)) {
        snprintf(body, size, "reached a read-only page by writing");
    }
    signal(SIGSEGV, SIG_DFL);
}

static const unsigned char read_only[PAGE] __attribute__((aligned(PAGE))) = {1, 2, 3};
#define GRANTED ((unsigned char *) (FAR_BASE - CHUNK))

static void grant(char *body, size_t size, unsigned char v) {
    unsigned char *ro = (unsigned char *) read_only;
    if (mprotect(ro, PAGE, PROT_READ | PROT_WRITE) != 0
            || mmap(GRANTED, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0)
                   != GRANTED) {
        snprintf(body, size, "mprotect/mmap: errno %d", errno);
        return;
    }
    for (int i = 0; i < 16; i++) {
        ((volatile unsigned char *) ro)[i * 256] = v;
        GRANTED[i * 256] = v;
    }
}

static void revoked(char *body, size_t size) {
    struct sigaction sa = {.sa_handler = on_fault};
    sigaction(SIGSEGV, &sa, NULL);
    if (!faults((volatile unsigned char *) read_only + 256, 1, 9)) {
        snprintf(body, size, "reached the read-only page by writing");
    } else if (!faults(GRANTED + 256, 0, 0)) {
        snprintf(body, size, "reached a page the template does not map");
    } else if (read_only[0] != 1 || read_only[256] != 0) {
        snprintf(body, size, "the read-only page holds %d %d", read_only[0], read_only[256]);
    }
    signal(SIGSEGV, SIG_DFL);
}

static void check(char *body, size_t size) {
    for (int c = 0; c < SPREAD_CHUNKS; c++) {
        for (int at = 0; at < PAGE; at++) {
            if (spread[c][at] != (unsigned char) (c + at * 3)) {
                snprintf(body, size, "spread %d byte %d is %d", c, at, spread[c][at]);
                return;
            }
        }
    }
    for (int p = 0; p < PAGES; p++) {
        for (int at = 0; at < PAGE; at++) {
            unsigned char want = (unsigned char) (p * 31 + at);
            if (pages[p][at] != want) {
                snprintf(body, size, "page %d byte %d is %d", p, at, pages[p][at]);
                return;
            }
        }
    }
    for (int p = 0; p < HOLES; p++) {
        if (spare[p][0] != 1 || spare[p][9] != 0) {
            snprintf(body, size, "spare page %d is %d %d", p, spare[p][0], spare[p][9]);
            return;
        }
    }
    snprintf(body, size, "pristine");
}

static void handle(int fd) {
    char req[1024];
    int got = read(fd, req, sizeof req - 1);
    req[got > 0 ? got : 0] = 0;
    char path[128] = "/";
    sscanf(req, "GET %127s", path);
    char body[128] = "ok";
    if (!strncmp(path, "/write/", 7)) {
        write_all((unsigned char) atoi(path + 7));
    } else if (!strcmp(path, "/same")) {
        for (int p = 0; p < PAGES; p++) {
            volatile unsigned char *b = &pages[p][PAGE / 2];
            unsigned char old = *b;
            *b = old + 1;
            *b = old;
        }
    } else if (!strncmp(path, "/mark/", 6)) {
        pages[0][0] = (unsigned char) atoi(path + 6);
    } else if (!strncmp(path, "/dirty/", 7)) {
        int n = atoi(path + 7);
        for (int p = 0; p < n && p < 2048; p++) ((volatile unsigned char *) spare[p])[p % PAGE] = 1;
    } else if (!strncmp(path, "/far/", 5)) {
        far(body, sizeof body, (unsigned char) atoi(path + 5));
    } else if (!strncmp(path, "/host/", 6)) {
        write_all((unsigned char) atoi(path + 6));
        for (int p = 0; p < PAGES; p++) {
            if (getrandom(&pages[p][PAGE / 3], 64, 0) != 64) snprintf(body, sizeof body, "getrandom failed");
        }
        for (int c = 0; c < SPREAD_CHUNKS; c++) getrandom(spread[c] + 100, 64, 0);
    } else if (!strncmp(path, "/unmap/", 7)) {
        remap(body, sizeof body, (unsigned char) atoi(path + 7));
    } else if (!strncmp(path, "/regrow/", 8)) {
        regrow(body, sizeof body, (unsigned char) atoi(path + 8));
    } else if (!strncmp(path, "/holes/", 7)) {
        holes(body, sizeof body, (unsigned char) atoi(path + 7));
    } else if (!strncmp(path, "/grant/", 7)) {
        grant(body, sizeof body, (unsigned char) atoi(path + 7));
    } else if (!strcmp(path, "/revoked")) {
        revoked(body, sizeof body);
    } else if (!strncmp(path, "/gone/", 6)) {
        gone(body, sizeof body, (unsigned char) atoi(path + 6));
    } else if (!strncmp(path, "/threads/", 9)) {
        pthread_t t[4];
        struct quarter q[4];
        for (int i = 0; i < 4; i++) {
            q[i] = (struct quarter) {i * PAGES / 4, (unsigned char) atoi(path + 9)};
            if (pthread_create(&t[i], NULL, write_quarter, &q[i])) snprintf(body, sizeof body, "no thread");
        }
        for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    } else if (!strncmp(path, "/fill/", 6)) {
        unsigned char v = (unsigned char) atoi(path + 6);
        write_all(v);
        for (int p = 0; p < 2048; p++) ((volatile unsigned char *) spare[p])[p % PAGE] = 2;
        write_all(v + 1);
    } else if (!strncmp(path, "/crash/", 7)) {
        write_all((unsigned char) atoi(path + 7));
        *nowhere = 1;
    } else if (!strncmp(path, "/spin/", 6)) {
        for (unsigned char v = (unsigned char) atoi(path + 6);; v++) write_all(v);
    } else if (!strcmp(path, "/check")) {
        check(body, sizeof body);
    }
    respond(fd, body);
}

int main(int argc, char **argv) {
    for (int p = 0; p < PAGES; p++) {
        for (int at = 0; at < PAGE; at++) pages[p][at] = (unsigned char) (p * 31 + at);
    }
    for (int c = 0; c < SPREAD_CHUNKS; c++) {
        void *want = (void *) (SPREAD_BASE + c * CHUNK);
        spread[c] = mmap(want, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (spread[c] != want) {
            perror("mmap");
            return 1;
        }
        for (int at = 0; at < PAGE; at++) spread[c][at] = (unsigned char) (c + at * 3);
    }
    for (int p = 0; p < HOLES; p++) spare[p][0] = 1; /* template data for /holes/ */
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(argc > 1 ? atoi(argv[1]) : 8000)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *) &addr, sizeof addr) < 0 || listen(ls, 64) < 0) {
        perror("bind/listen");
        return 1;
    }
    for (;;) {
        int conn = accept(ls, NULL, NULL);
        if (conn < 0) continue;
        handle(conn);
        close(conn);
    }
}
