/*
 * A server for the test of rewritten call sites (SyscallRewriteTest): on nested PVM the template's
 * `mov $nr, %eax; syscall` sites become jumps to trampolines that enter the engine without the
 * `syscall` instruction. Its own sites are written in assembly below so that their bytes are
 * known; the template runs each of them (but never_run) before it waits for connections.
 * Usage: rewritten_sites PORT [map FILE]; with map, the template first maps the first MiB of FILE
 * executable. Each request's path says what it does:
 *   /sites   per site, whether its first byte is a jmp now (J) or still the mov (M): own_getpid,
 *            step, direct, never_run, request_only (run in requests only, here too), the C
 *            library's getppid, scanned_only, after_unknown, the bytes inside hidden_constant's
 *            constant, the C library's syscall(); then whether each gave the answer Linux gives
 *   /read    the C library's read: J when its `xor %eax, %eax` is a jmp to padding holding a jmp
 *            now, M when it is still the xor; a read of a pipe and one of fd -1 through it
 *   /moved   moved_call, the shape of Go's generic call (the number already in RAX, a register
 *            moved into RDI right before the syscall, int3s after the function outside its
 *            symbol): J when its mov is a jmp to the int3s holding a jmp now, M when it is still
 *            the mov; getpid, dup(1) and dup(-1) through it
 *   /stepread  a read of a pipe single-stepped (TF) by the SIGTRAP handler for ten traps: the
 *            bytes read, the traps, and whether any stopped in the engine's pages (below 0x10000)
 *   /regs    a call through a site with DF set and values in the red zone: RCX and R11 as
 *            syscall leaves them, DF after the call, the red zone intact, the result
 *   /direct  a jump to the site's syscall instruction itself, with another number in RAX
 *   /df      getsockname of the connection (answered in the guest, a copy) with DF set: the
 *            address it gives with DF clear
 *   /step    a call through a site single-stepped (TF) by a SIGTRAP handler for ten traps (the
 *            last after the call, where the program waits for them): the result, the traps, and
 *            whether any stopped in the engine's pages (below 0x10000)
 *   /maps    the trampolines' lines of /proc/self/maps: their count and permissions
 *   /unmap   unmaps the trampolines, then calls through a site: in the engine the program dies
 *            of a SIGSEGV there (natively there are none: "unmapped=0 returned")
 *   /forge   (in the engine only) names never_run and request_only on the queue page as the
 *            syscall entry records the sites it answered, and makes calls the host sees
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "http_request.h"

#define QUEUE 0xc000
#define SITE_COUNT (QUEUE + 464)
#define SITES (QUEUE + 480)
#define TF 0x100
#define DF 0x400

long own_getpid(void);
long step(int trace);
long direct(int other);
long never_run(void);
long scanned_only(void);
long after_unknown(void);
uint64_t hidden_constant(void);
long df_getsockname(int fd, struct sockaddr *addr, socklen_t *len);
long request_only(void);
void regs(uint64_t *out);
long moved_call(long nr, long a1);
extern char step_site[], direct_site[], regs_after[];

__asm__(
    ".text\n"
    ".globl own_getpid\n"
    "own_getpid:\n"
    "  mov $39, %eax\n"
    "  syscall\n"
    "  ret\n"
    /* step(trace): with trace, TF is set just before the site */
    ".globl step\n"
    "step:\n"
    "  test %edi, %edi\n"
    "  jz 1f\n"
    "  pushfq\n"
    "  orq $0x100, (%rsp)\n"
    "  popfq\n"
    "1:\n"
    ".globl step_site\n"
    "step_site:\n"
    "  mov $39, %eax\n"
    "  syscall\n"
    "  ret\n"
    /* direct(other): getpid through the site, or getppid by a jump to its syscall */
    ".globl direct\n"
    "direct:\n"
    "  test %edi, %edi\n"
    "  jnz 2f\n"
    ".globl direct_site\n"
    "direct_site:\n"
    "  mov $39, %eax\n"
    "1:\n"
    "  syscall\n"
    "  ret\n"
    "2:\n"
    "  mov $110, %eax\n"
    "  jmp 1b\n"
    /* df_getsockname(fd, addr, len): getsockname with DF set, as a program may call it */
    ".globl df_getsockname\n"
    "df_getsockname:\n"
    "  std\n"
    "  mov $51, %eax\n"
    "  syscall\n"
    "  cld\n"
    "  ret\n"
    ".globl never_run\n"
    "never_run:\n"
    "  mov $39, %eax\n"
    "  syscall\n"
    "  ret\n"
    ".globl request_only\n"
    "request_only:\n"
    "  mov $39, %eax\n"
    "  syscall\n"
    "  ret\n"
    /* functions with a symbol of their own (a type and a size): the template finds their sites
       by decoding them from their start, without running them */
    ".globl scanned_only\n"
    ".type scanned_only, @function\n"
    "scanned_only:\n"
    "  mov $39, %eax\n"
    "  syscall\n"
    "  ret\n"
    ".size scanned_only, .-scanned_only\n"
    /* ... but not past an encoding the decoder does not know (VEX) */
    ".globl after_unknown\n"
    ".type after_unknown, @function\n"
    "after_unknown:\n"
    "  vzeroupper\n"
    "  mov $39, %eax\n"
    "  syscall\n"
    "  ret\n"
    ".size after_unknown, .-after_unknown\n"
    /* ... and never inside another instruction: these bytes are a constant */
    ".globl hidden_constant\n"
    ".type hidden_constant, @function\n"
    "hidden_constant:\n"
    "  movabs $0x00050f00000027b8, %rax\n"
    "  ret\n"
    ".size hidden_constant, .-hidden_constant\n"
    /* regs(out): out[0] RFLAGS before (DF set), out[1] RCX after, out[2] R11 after, out[3] and
       out[4] the red zone's first and last words after, out[5] RFLAGS after, out[6] RAX */
    ".globl regs\n"
    "regs:\n"
    "  push %rbx\n"
    "  mov %rdi, %rbx\n"
    "  std\n"
    "  pushfq\n"
    "  popq (%rbx)\n"
    "  movabs $0x1122334455667788, %rax\n"
    "  mov %rax, -8(%rsp)\n"
    "  mov %rax, -128(%rsp)\n"
    "  mov $39, %eax\n"
    "  syscall\n"
    ".globl regs_after\n"
    "regs_after:\n"
    "  mov %rcx, 8(%rbx)\n"
    "  mov %r11, 16(%rbx)\n"
    "  mov -8(%rsp), %rcx\n"
    "  mov %rcx, 24(%rbx)\n"
    "  mov -128(%rsp), %rcx\n"
    "  mov %rcx, 32(%rbx)\n"
    "  pushfq\n"
    "  popq 40(%rbx)\n"
    "  cld\n"
    "  mov %rax, 48(%rbx)\n"
    "  pop %rbx\n"
    "  ret\n"
    /* moved_call(nr, a1): Go's runtime/internal/syscall.Syscall6 in small */
    ".globl moved_call\n"
    ".type moved_call, @function\n"
    "moved_call:\n"
    "  mov %rdi, %rax\n"
    "  mov %rsi, %rdi\n"
    "  syscall\n"
    "  ret\n"
    ".size moved_call, .-moved_call\n"
    "  .fill 11, 1, 0xcc\n");

/* J when the site's first byte is a jmp rel32 now, M when it is still the mov. */
static char kind(const void *site) {
    unsigned char b = *(const unsigned char *) site;
    return b == 0xe9 ? 'J' : b == 0xb8 || b == 0x4c ? 'M' : '?';
}

/* The C library's getppid: its first `mov $110, %eax; syscall`. */
static const unsigned char *libc_getppid_site(void) {
    const unsigned char *code = (const unsigned char *) getppid;
    for (int i = 0; i < 64; i++) {
        if (code[i + 5] == 0x0f && code[i + 6] == 0x05
                && (code[i] == 0xb8 || code[i] == 0xe9)) {
            return code + i;
        }
    }
    return NULL;
}

/* The C library's syscall(): its `mov 0x8(%rsp), %r9; syscall`. */
static const unsigned char *libc_syscall_site(void) {
    const unsigned char *code = (const unsigned char *) syscall;
    for (int i = 0; i < 64; i++) {
        if (code[i + 5] == 0x0f && code[i + 6] == 0x05 && (code[i] == 0x4c || code[i] == 0xe9)) {
            return code + i;
        }
    }
    return NULL;
}

/*
 * The C library's read: its `xor %eax, %eax; syscall`, or after the rewrite its `jmp rel8` to
 * padding of the function that now holds a `jmp rel32` (to the trampoline).
 */
static const unsigned char *libc_read_site(void) {
    const unsigned char *code = (const unsigned char *) read;
    for (int i = 0; i < 64; i++) {
        if (code[i + 2] == 0x0f && code[i + 3] == 0x05 && ((code[i] == 0x31 && code[i + 1] == 0xc0) || code[i] == 0xeb)) {
            return code + i;
        }
    }
    return NULL;
}

static int read_check(char *out, size_t size) {
    const unsigned char *site = libc_read_site();
    char k = !site ? '-' : site[0] == 0x31 ? 'M' : site[0] == 0xeb && site[2 + (signed char) site[1]] == 0xe9 ? 'J' : '?';
    int p[2];
    if (pipe(p) != 0) return snprintf(out, size, "pipe failed");
    write(p[1], "hello", 5);
    char buf[16];
    long n = read(p[0], buf, sizeof buf);
    errno = 0;
    long bad = read(-1, buf, 1);
    int e = errno;
    close(p[0]);
    close(p[1]);
    return snprintf(out, size, "%c read=%ld %s ebadf=%d", k, n, n == 5 && !memcmp(buf, "hello", 5) ? "same" : "other",
                    bad == -1 && e == EBADF);
}

static int moved_check(char *out, size_t size) {
    const unsigned char *site = (const unsigned char *) moved_call + 3;
    char k = site[0] == 0x48 ? 'M' : site[0] == 0xeb && site[2 + (signed char) site[1]] == 0xe9 ? 'J' : '?';
    long pid = moved_call(SYS_getpid, 0);
    long fd = moved_call(SYS_dup, 1);
    long bad = moved_call(SYS_dup, -1);
    if (fd >= 0) close(fd);
    return snprintf(out, size, "%c getpid=%s dup=%s ebadf=%d", k, pid == getpid() ? "same" : "other",
                    fd > 2 ? "fd" : "none", bad == -EBADF);
}

static int sites(char *out, size_t size) {
    const unsigned char *libc = libc_getppid_site();
    long pid = getpid(), ppid = getppid();
    int ok = own_getpid() == pid && step(0) == pid && direct(0) == pid && request_only() == pid
            && scanned_only() == pid && hidden_constant() == 0x00050f00000027b8ul && syscall(SYS_getppid) == ppid;
    const unsigned char *generic = libc_syscall_site();
    return snprintf(out, size, "%c%c%c%c%c%c%c%c%c%c %s", kind(own_getpid), kind(step_site), kind(direct_site),
            kind(never_run), kind(request_only), libc ? kind(libc) : '-', kind(scanned_only),
            kind((const char *) after_unknown + 3), kind((const char *) hidden_constant + 2),
            generic ? kind(generic) : '-', ok && getppid() == ppid ? "ok" : "wrong");
}

static int regs_check(char *out, size_t size) {
    uint64_t r[7];
    regs(r);
    return snprintf(out, size, "rcx=%s r11=%s df_after=%d redzone=%s result=%s",
            r[1] == (uint64_t) regs_after ? "after" : "other",
            (r[2] & ~0x10000ul) == (r[0] & ~0x10000ul) ? "flags" : "other", (r[5] & DF) != 0,
            r[3] == 0x1122334455667788ul && r[4] == 0x1122334455667788ul ? "intact" : "clobbered",
            (long) r[6] == getpid() ? "getpid" : "other");
}

static int direct_check(char *out, size_t size) {
    return snprintf(out, size, "site=%s jump=%s", direct(0) == getpid() ? "getpid" : "other",
            direct(1) == getppid() ? "getppid" : "other");
}

/* getsockname of the connection (which the engine answers in the guest, copying the address)
   with DF set: the same address as with it clear. */
static int df_copy(int fd, char *out, size_t size) {
    struct sockaddr_in a, b;
    socklen_t la = sizeof a, lb = sizeof b;
    memset(&a, 0, sizeof a);
    memset(&b, 0x55, sizeof b);
    long r = df_getsockname(fd, (struct sockaddr *) &b, &lb);
    getsockname(fd, (struct sockaddr *) &a, &la);
    return snprintf(out, size, "result=%ld same=%d", r, la == lb && !memcmp(&a, &b, la));
}

static volatile int traps, low_traps;

static void on_trap(int sig, siginfo_t *info, void *context) {
    (void) sig, (void) info;
    ucontext_t *uc = context;
    if ((uint64_t) uc->uc_mcontext.gregs[REG_RIP] < 0x10000) {
        low_traps++;
    }
    if (++traps == 10) {
        uc->uc_mcontext.gregs[REG_EFL] &= ~TF;
    }
}

static int step_check(char *out, size_t size) {
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_sigaction = on_trap;
    act.sa_flags = SA_SIGINFO;
    sigaction(SIGTRAP, &act, &old);
    traps = low_traps = 0;
    long result = step(1);
    /* the steps go on here until the handler has counted ten */
    for (volatile int i = 0; i < 100 && traps < 10; i++) {
    }
    int counted = traps, low = low_traps;
    sigaction(SIGTRAP, &old, NULL);
    return snprintf(out, size, "result=%s traps=%d low=%d", result == getpid() ? "getpid" : "other", counted, low);
}

/* read with TF set from the instruction before its call on: every step through the C library's
   read, its rewritten site, the padding and the trampoline raises SIGTRAP (the handler clears TF
   at the tenth). */
static long __attribute__((noinline)) read_stepped(int fd, void *buf, size_t n) {
    __asm__ volatile("pushf\n orq $0x100, (%%rsp)\n popf" ::: "memory", "cc");
    return read(fd, buf, n);
}

static int step_read_check(char *out, size_t size) {
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_sigaction = on_trap;
    act.sa_flags = SA_SIGINFO;
    int p[2];
    if (pipe(p) != 0) return snprintf(out, size, "pipe failed");
    write(p[1], "hello", 5);
    char buf[16];
    sigaction(SIGTRAP, &act, &old);
    traps = low_traps = 0;
    long n = read_stepped(p[0], buf, sizeof buf);
    for (volatile int i = 0; i < 100 && traps < 10; i++) {
    }
    int counted = traps, low = low_traps;
    sigaction(SIGTRAP, &old, NULL);
    close(p[0]);
    close(p[1]);
    return snprintf(out, size, "read=%ld traps=%d low=%d", n, counted, low);
}

static int maps(char *out, size_t size) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[256], perms[8] = "none";
    int count = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (strstr(line, "[kvmserver-syscalls]")) {
            count++;
            sscanf(line, "%*s %7s", perms);
        }
    }
    if (f) fclose(f);
    return snprintf(out, size, "areas=%d %s", count, perms);
}

static int unmap(char *out, size_t size) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[256];
    unsigned long start[4], end[4];
    int areas = 0, unmapped = 0;
    while (f && fgets(line, sizeof line, f) && areas < 4) {
        if (strstr(line, "[kvmserver-syscalls]") && sscanf(line, "%lx-%lx", &start[areas], &end[areas]) == 2) {
            areas++;
        }
    }
    if (f) fclose(f);
    for (int i = 0; i < areas; i++) {
        unmapped += munmap((void *) start[i], end[i] - start[i]) == 0;
    }
    never_run(); /* a syscall the host sees: it has unmapped them by the time it returns */
    own_getpid(); /* in the engine, through a trampoline that is gone */
    return snprintf(out, size, "unmapped=%d returned", unmapped);
}

static int forge(char *out, size_t size) {
    volatile uint64_t *recorded = (uint64_t *) SITES;
    recorded[0] = (uint64_t) never_run + 7, recorded[1] = 39;
    recorded[2] = (uint64_t) request_only + 7, recorded[3] = 39;
    *(volatile uint32_t *) SITE_COUNT = 2;
    getppid(); /* the host sees this one */
    *(volatile uint32_t *) SITE_COUNT = 0; /* and records what the entry answers from here */
    request_only();
    getppid();
    return snprintf(out, size, "%c%c", kind(never_run), kind(request_only));
}

/* With "map FILE": an executable mapping of FILE's first MiB, made by the template. */
static void map_file(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        mmap(NULL, 1 << 20, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
        close(fd);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    if (argc > 3 && !strcmp(argv[2], "map")) {
        map_file(argv[3]);
    }
    signal(SIGPIPE, SIG_IGN);
    int listener = listen_on_loopback(atoi(argv[1]));
    if (listener < 0) return 1;
    int ep = epoll_watching_listener(listener);
    /* what the template runs before it waits: each site once (not never_run, not request_only) */
    own_getpid();
    step(0);
    direct(0);
    getppid();
    uint64_t r[7];
    regs(r);
    struct sockaddr_in bound;
    socklen_t length = sizeof bound;
    df_getsockname(listener, (struct sockaddr *) &bound, &length);
    for (;;) {
        int fd = accept_when_reported(ep, listener);
        if (fd < 0) {
            continue;
        }
        char path[64], body[512];
        read_request_path(fd, path, sizeof path);
        int b;
        if (!strcmp(path, "/stepread")) {
            b = step_read_check(body, sizeof body);
        } else if (!strcmp(path, "/moved")) {
            b = moved_check(body, sizeof body);
        } else if (!strcmp(path, "/read")) {
            b = read_check(body, sizeof body);
        } else if (!strcmp(path, "/sites")) {
            b = sites(body, sizeof body);
        } else if (!strcmp(path, "/regs")) {
            b = regs_check(body, sizeof body);
        } else if (!strcmp(path, "/df")) {
            b = df_copy(fd, body, sizeof body);
        } else if (!strcmp(path, "/direct")) {
            b = direct_check(body, sizeof body);
        } else if (!strcmp(path, "/step")) {
            b = step_check(body, sizeof body);
        } else if (!strcmp(path, "/maps")) {
            b = maps(body, sizeof body);
        } else if (!strcmp(path, "/unmap")) {
            b = unmap(body, sizeof body);
        } else if (!strcmp(path, "/forge")) {
            b = forge(body, sizeof body);
        } else {
            b = snprintf(body, sizeof body, "unknown");
        }
        write_response(fd, body, b);
        close(fd);
    }
}
