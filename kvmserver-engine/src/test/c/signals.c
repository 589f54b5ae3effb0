/*
 * Signal delivery programs depend on (issue 10), one check per run:
 *
 *   signals segv-fix | sigaltstack | stack-overflow | sigalrm | sigpipe-ignored | sigpipe-default
 *
 * Each check prints "OK <check>: ..." or "FAIL <check>: ..." and exits 0 only if it passed;
 * sigpipe-default must instead be killed by SIGPIPE (status 141) after printing its "writing" line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "checks.h"

static int install(int signo, void (*handler)(int, siginfo_t *, void *), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(signo, &sa, NULL) != 0) {
        fail("sigaction(%d): %s", signo, strerror(errno));
        return -1;
    }
    return 0;
}

static int64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- segv-fix: the handler sees the fault exactly, makes the page writable, and the write retries. ---- */

static char *guarded;
static long page;
static volatile int segv_count;
static volatile siginfo_t segv_info;
static volatile long segv_trapno, segv_err;

static void fix_fault(int signo, siginfo_t *info, void *context) {
    (void)signo;
    ucontext_t *uc = context;
    segv_count++;
    segv_info = *info;
    segv_trapno = uc->uc_mcontext.gregs[REG_TRAPNO];
    segv_err = uc->uc_mcontext.gregs[REG_ERR];
    if (segv_count > 1 || mprotect(guarded, page, PROT_READ | PROT_WRITE) != 0) {
        _exit(3); /* returning would fault forever */
    }
}

static void segv_fix(void) {
    page = sysconf(_SC_PAGESIZE);
    guarded = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (guarded == MAP_FAILED || install(SIGSEGV, fix_fault, 0) != 0) {
        fail("setup: %s", strerror(errno));
        return;
    }
    volatile char *p = guarded + 123;
    *p = 42; /* faults once; the handler fixes the protection; the write is retried */
    if (segv_count != 1 || *p != 42) {
        fail("after the handler: %d faults, byte %d", segv_count, *p);
    } else if (segv_info.si_signo != SIGSEGV || segv_info.si_code != SEGV_ACCERR
            || segv_info.si_addr != (void *)(guarded + 123)) {
        fail("siginfo: signo %d code %d addr %p, want %d SEGV_ACCERR(%d) %p", segv_info.si_signo,
             segv_info.si_code, segv_info.si_addr, SIGSEGV, SEGV_ACCERR, (void *)(guarded + 123));
    } else if (segv_trapno != 14 || (segv_err & 2) == 0 || (segv_err & 4) == 0) {
        fail("ucontext: trapno %ld err %#lx, want a page fault (14) on a user write (err bits 2 and 4)",
             segv_trapno, segv_err);
    } else {
        ok("SEGV_ACCERR at the faulting address, page fault error code %#lx, write retried", segv_err);
    }
}

/* ---- sigaltstack: a handler registered with SA_ONSTACK runs on the alternate stack. ---- */

static char *alt_stack;
static size_t alt_size;
static volatile uintptr_t handler_sp;
static volatile int handler_flags;

static void on_alt_stack(int signo, siginfo_t *info, void *context) {
    (void)signo;
    (void)info;
    (void)context;
    volatile char here;
    handler_sp = (uintptr_t)&here;
    stack_t now;
    sigaltstack(NULL, &now);
    handler_flags = now.ss_flags;
}

static int setup_alt_stack(void) {
    alt_size = 64 * 1024;
    alt_stack = mmap(NULL, alt_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    stack_t ss = {.ss_sp = alt_stack, .ss_size = alt_size, .ss_flags = 0};
    if (alt_stack == MAP_FAILED || sigaltstack(&ss, NULL) != 0) {
        fail("sigaltstack: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int on_alt(uintptr_t sp) {
    return sp >= (uintptr_t)alt_stack && sp < (uintptr_t)alt_stack + alt_size;
}

static void sigaltstack_check(void) {
    if (setup_alt_stack() != 0 || install(SIGUSR1, on_alt_stack, SA_ONSTACK) != 0) {
        return;
    }
    raise(SIGUSR1);
    stack_t after;
    sigaltstack(NULL, &after);
    if (handler_sp == 0) {
        fail("the SIGUSR1 handler did not run");
    } else if (!on_alt(handler_sp)) {
        fail("the handler ran at sp %#lx, outside the alternate stack %p+%#zx", (unsigned long)handler_sp,
             (void *)alt_stack, alt_size);
    } else if (!(handler_flags & SS_ONSTACK)) {
        fail("sigaltstack in the handler reported flags %#x, without SS_ONSTACK", handler_flags);
    } else if (after.ss_flags & SS_ONSTACK) {
        fail("after the handler returned the thread is still marked on the alternate stack");
    } else {
        ok("the handler ran on the alternate stack and saw SS_ONSTACK");
    }
}

/* ---- stack-overflow: running off the stack is a SIGSEGV the alternate stack can handle. ---- */

static sigjmp_buf escape;
static volatile uintptr_t overflow_sp;

static void overflow_handler(int signo, siginfo_t *info, void *context) {
    (void)signo;
    (void)info;
    (void)context;
    volatile char here;
    overflow_sp = (uintptr_t)&here;
    siglongjmp(escape, 1);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winfinite-recursion"
static __attribute__((noinline)) long recurse(long depth) {
    volatile char frame[512];
    frame[0] = (char)depth;
    return recurse(depth + 1) + frame[0]; /* not a tail call */
}
#pragma GCC diagnostic pop

static void stack_overflow(void) {
    struct rlimit small = {1 << 20, RLIM_INFINITY}; /* 1 MiB: overflow quickly */
    if (setrlimit(RLIMIT_STACK, &small) != 0) {
        fail("setrlimit: %s", strerror(errno));
        return;
    }
    if (setup_alt_stack() != 0 || install(SIGSEGV, overflow_handler, SA_ONSTACK) != 0) {
        return;
    }
    if (sigsetjmp(escape, 1) == 0) {
        recurse(0);
        fail("the recursion returned");
        return;
    }
    if (!on_alt(overflow_sp)) {
        fail("the SIGSEGV handler ran at sp %#lx, outside the alternate stack", (unsigned long)overflow_sp);
    } else {
        ok("the overflow was a SIGSEGV handled on the alternate stack");
    }
}

/* ---- sigalrm: alarm and setitimer deliver SIGALRM, interrupting pause and sigsuspend. ---- */

static volatile int alarms;

static void count_alarm(int signo, siginfo_t *info, void *context) {
    (void)signo;
    (void)context;
    if (info->si_signo == SIGALRM) {
        alarms++;
    }
}

static void sigalrm(void) {
    if (install(SIGALRM, count_alarm, 0) != 0) {
        return;
    }
    int64_t start = now_ms();
    alarm(1);
    int r = pause();
    int64_t waited = now_ms() - start;
    if (r != -1 || errno != EINTR || alarms != 1) {
        fail("alarm(1); pause() returned %d (%s) with %d SIGALRMs", r, strerror(errno), alarms);
        return;
    }
    if (waited < 900 || waited > 5000) {
        fail("alarm(1) fired after %lld ms", (long long)waited);
        return;
    }

    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGALRM);
    sigprocmask(SIG_BLOCK, &block, &old);
    struct itimerval every = {{0, 20000}, {0, 20000}}; /* every 20 ms */
    if (setitimer(ITIMER_REAL, &every, NULL) != 0) {
        fail("setitimer: %s", strerror(errno));
        return;
    }
    int64_t alarm_waited = waited;
    start = now_ms();
    while (alarms < 4) {
        sigsuspend(&old);
    }
    waited = now_ms() - start;
    struct itimerval off = {{0, 0}, {0, 0}}, left;
    setitimer(ITIMER_REAL, &off, &left);
    if (waited < 50) {
        fail("3 periods of a 20 ms setitimer took %lld ms", (long long)waited);
        return;
    }
    ok("alarm(1) interrupted pause after %lld ms; a 20 ms setitimer fired 3 times in %lld ms",
       (long long)alarm_waited, (long long)waited);
}

/* ---- sigpipe: writing to a socket whose peer closed. ---- */

static int closed_socket(void) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        fail("socketpair: %s", strerror(errno));
        return -1;
    }
    close(sv[1]);
    return sv[0];
}

static void sigpipe_ignored(void) {
    int fd = closed_socket();
    if (fd < 0) {
        return;
    }
    /* Default disposition, but MSG_NOSIGNAL: EPIPE and no signal. */
    if (send(fd, "x", 1, MSG_NOSIGNAL) != -1 || errno != EPIPE) {
        fail("send(MSG_NOSIGNAL) to a closed socket: %s, want EPIPE", strerror(errno));
        return;
    }
    signal(SIGPIPE, SIG_IGN);
    if (write(fd, "x", 1) != -1 || errno != EPIPE) {
        fail("write to a closed socket with SIGPIPE ignored: %s, want EPIPE", strerror(errno));
        return;
    }
    int p[2];
    if (pipe(p) != 0) {
        fail("pipe: %s", strerror(errno));
        return;
    }
    close(p[0]);
    if (write(p[1], "x", 1) != -1 || errno != EPIPE) {
        fail("write to a pipe without reader, SIGPIPE ignored: %s, want EPIPE", strerror(errno));
        return;
    }
    ok("EPIPE from send(MSG_NOSIGNAL), and from write with SIGPIPE ignored (socket and pipe)");
}

static void sigpipe_default(void) {
    int fd = closed_socket();
    if (fd < 0) {
        return;
    }
    printf("writing %s: to a closed socket, expecting to die of SIGPIPE\n", check);
    fflush(stdout);
    ssize_t n = write(fd, "x", 1);
    fail("write returned %zd (%s) instead of killing the process with SIGPIPE", n, strerror(errno));
}

int main(int argc, char **argv) {
    static const struct check checks[] = {
        {"segv-fix", segv_fix},
        {"sigaltstack", sigaltstack_check},
        {"stack-overflow", stack_overflow},
        {"sigalrm", sigalrm},
        {"sigpipe-ignored", sigpipe_ignored},
        {"sigpipe-default", sigpipe_default},
    };
    return run_check(argc, argv, checks, sizeof checks / sizeof checks[0]);
}
