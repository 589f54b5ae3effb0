/*
 * Signal delivery programs depend on (issue 10), one check per run:
 *
 *   signals segv-fix | sigaltstack | altstack-autodisarm | stack-overflow | sigalrm | sigpipe-ignored
 *           | sigpipe-default | context-redirect | cpu-faults | sa-restart | sigtimedwait | signalfd | timer-create
 *           | timer-settime-args | itimer-args | timer-huge | wait-sigmask | kill-self
 *
 * Each check prints "OK <check>: ..." or "FAIL <check>: ..." and exits 0 only if it passed;
 * sigpipe-default must instead be killed by SIGPIPE (status 141) after printing its "writing" line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
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

/*
 * ---- altstack-autodisarm: an alternate stack registered with SS_AUTODISARM is disarmed while a
 * handler runs (any handler: Linux disarms it whenever it saves it in a frame), and the frame's
 * uc_stack holds the stack as registered, flags included, so rt_sigreturn re-arms it with
 * SS_AUTODISARM. uc_stack.ss_flags are the flags sigaltstack was given (SS_ONSTACK too), not the
 * state a query computes: a signal nested on a stack registered with flags 0 reads 0 there. ----
 */

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

struct alt_seen {
    uintptr_t sp;
    stack_t query, saved;
};

static volatile int alt_nest;
static struct alt_seen alt_outer, alt_inner;

static void alt_record(struct alt_seen *seen, void *context) {
    volatile char here;
    seen->sp = (uintptr_t)&here;
    sigaltstack(NULL, &seen->query);
    seen->saved = ((ucontext_t *)context)->uc_stack;
}

static void alt_inner_handler(int signo, siginfo_t *info, void *context) {
    (void)signo;
    (void)info;
    alt_record(&alt_inner, context);
}

static void alt_outer_handler(int signo, siginfo_t *info, void *context) {
    (void)signo;
    (void)info;
    alt_record(&alt_outer, context);
    if (alt_nest) {
        raise(SIGUSR2);
    }
}

static int alt_is(const stack_t *s, void *sp, int flags, size_t size) {
    return s->ss_sp == sp && s->ss_flags == flags && s->ss_size == size;
}

static int alt_register(int flags) {
    stack_t ss = {.ss_sp = alt_stack, .ss_size = alt_size, .ss_flags = flags};
    if (sigaltstack(&ss, NULL) != 0) {
        fail("sigaltstack with flags %#x: %s", flags, strerror(errno));
        return -1;
    }
    return 0;
}

#define ALT_FMT "{%p, %#x, %zu}"
#define ALT_ARGS(s) (s).ss_sp, (s).ss_flags, (s).ss_size

static void altstack_autodisarm(void) {
    const int armed = SS_AUTODISARM, registered = SS_ONSTACK | SS_AUTODISARM;
    if (setup_alt_stack() != 0 || alt_register(registered) != 0
            || install(SIGUSR1, alt_outer_handler, SA_ONSTACK) != 0 || install(SIGUSR2, alt_inner_handler, 0) != 0) {
        return;
    }
    stack_t before, after;
    sigaltstack(NULL, &before);
    for (int round = 1; round <= 2; round++) {
        memset(&alt_outer, 0, sizeof alt_outer);
        raise(SIGUSR1);
        sigaltstack(NULL, &after);
        if (!alt_is(&before, alt_stack, armed, alt_size) || !on_alt(alt_outer.sp)
                || !alt_is(&alt_outer.query, NULL, SS_DISABLE, 0)
                || !alt_is(&alt_outer.saved, alt_stack, registered, alt_size)
                || !alt_is(&after, alt_stack, armed, alt_size)) {
            fail("SS_ONSTACK|SS_AUTODISARM, signal %d: before " ALT_FMT ", in the handler (%s the alternate stack)"
                 " sigaltstack " ALT_FMT " and uc_stack " ALT_FMT ", after " ALT_FMT "; want before and after {%p,"
                 " %#x, %zu}, in the handler on it, {(nil), 0x2, 0} and {%p, %#x, %zu}", round, ALT_ARGS(before),
                 on_alt(alt_outer.sp) ? "on" : "off", ALT_ARGS(alt_outer.query), ALT_ARGS(alt_outer.saved),
                 ALT_ARGS(after), (void *)alt_stack, armed, alt_size, (void *)alt_stack, registered, alt_size);
            return;
        }
    }
    /* A handler without SA_ONSTACK runs on the thread's stack, and still finds the stack disarmed. */
    memset(&alt_inner, 0, sizeof alt_inner);
    raise(SIGUSR2);
    sigaltstack(NULL, &after);
    if (on_alt(alt_inner.sp) || !alt_is(&alt_inner.query, NULL, SS_DISABLE, 0)
            || !alt_is(&alt_inner.saved, alt_stack, registered, alt_size) || !alt_is(&after, alt_stack, armed, alt_size)) {
        fail("SS_AUTODISARM, a handler without SA_ONSTACK: %s the alternate stack, sigaltstack " ALT_FMT
             ", uc_stack " ALT_FMT ", after " ALT_FMT "; want off it, {(nil), 0x2, 0}, the registered stack, re-armed",
             on_alt(alt_inner.sp) ? "on" : "off", ALT_ARGS(alt_inner.query), ALT_ARGS(alt_inner.saved),
             ALT_ARGS(after));
        return;
    }
    /* Nested on a stack registered with flags 0: uc_stack reads 0 (as registered), not SS_ONSTACK. */
    if (alt_register(0) != 0) {
        return;
    }
    alt_nest = 1;
    memset(&alt_inner, 0, sizeof alt_inner);
    raise(SIGUSR1);
    alt_nest = 0;
    if (!on_alt(alt_inner.sp) || !alt_is(&alt_inner.query, alt_stack, SS_ONSTACK, alt_size)
            || !alt_is(&alt_inner.saved, alt_stack, 0, alt_size)) {
        fail("flags 0, a signal nested on the alternate stack: %s it, sigaltstack " ALT_FMT ", uc_stack " ALT_FMT
             "; want on it, SS_ONSTACK in the query, the flags as registered (0) in uc_stack",
             on_alt(alt_inner.sp) ? "on" : "off", ALT_ARGS(alt_inner.query), ALT_ARGS(alt_inner.saved));
        return;
    }
    /* Disabled with SS_AUTODISARM: the flag is kept, and reported. */
    stack_t off = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE | SS_AUTODISARM};
    sigaltstack(&off, NULL);
    sigaltstack(NULL, &after);
    if (!alt_is(&after, NULL, SS_DISABLE | SS_AUTODISARM, 0)) {
        fail("disabled with SS_DISABLE|SS_AUTODISARM, sigaltstack reported " ALT_FMT "; want {(nil), %#x, 0}",
             ALT_ARGS(after), SS_DISABLE | SS_AUTODISARM);
        return;
    }
    ok("SS_AUTODISARM: disarmed in any handler, uc_stack holds {stack, SS_ONSTACK|SS_AUTODISARM, size} as"
       " registered and sigreturn re-arms it; a nested uc_stack reads the registered flags; SS_DISABLE keeps it");
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


/* ---- context-redirect: a handler changes the saved context; the program resumes with it. ---- */

extern char redirect_fault[], redirect_resume[];
static volatile int redirected;

static void redirect(int signo, siginfo_t *info, void *context) {
    (void)signo;
    (void)info;
    ucontext_t *uc = context;
    /* Clobber the FPU in the handler: what the program had must come back from the frame. */
    volatile double x = 1.5;
    for (int i = 0; i < 10; i++) {
        x = x * 3.25 + 1;
    }
    if (uc->uc_mcontext.gregs[REG_RIP] == (greg_t)redirect_fault) {
        uc->uc_mcontext.gregs[REG_RIP] = (greg_t)redirect_resume;
        uc->uc_mcontext.gregs[REG_RBX] = 0x1234; /* as a JIT patches registers before resuming */
        redirected++;
    }
}

static void context_redirect(void) {
    if (install(SIGSEGV, redirect, 0) != 0) {
        return;
    }
    double kept = 2.71828;
    long rbx, r12 = 0x5a5a5a5a5a5aL, r12_after;
    __asm__ volatile(
        "movq %[d], %%xmm7\n"
        "xorq %%rax, %%rax\n"
        "movq $0, %%rbx\n"
        "redirect_fault: movl $1, (%%rax)\n" /* NULL write: SIGSEGV */
        "ud2\n" /* never reached: the handler moves RIP past it */
        "redirect_resume: movq %%rbx, %[rbx]\n"
        "movq %%r12, %[r12after]\n"
        "movq %%xmm7, %[d]\n"
        : [rbx] "=r"(rbx), [r12after] "=r"(r12_after), [d] "+x"(kept)
        : "r"(r12)
        : "rax", "rbx", "xmm7", "memory");
    (void)r12;
    if (redirected != 1 || rbx != 0x1234) {
        fail("redirected %d times, rbx %#lx, want once and 0x1234", redirected, rbx);
    } else if (kept != 2.71828) {
        fail("xmm7 came back as %f, want 2.71828", kept);
    } else {
        ok("the handler moved RIP and set RBX; XMM state survived the handler's own FPU use");
    }
}

/* ---- cpu-faults: SIGFPE, SIGILL and SIGTRAP with the siginfo Linux gives. ---- */

static sigjmp_buf recover;
static volatile siginfo_t last;

static void catch_and_jump(int signo, siginfo_t *info, void *context) {
    (void)signo;
    (void)context;
    last = *info;
    siglongjmp(recover, 1);
}

static volatile int traps;

static void count_trap(int signo, siginfo_t *info, void *context) {
    (void)signo;
    (void)context;
    last = *info;
    traps++;
}

extern char ud2_at[];

static void cpu_faults(void) {
    if (install(SIGFPE, catch_and_jump, SA_NODEFER) != 0 || install(SIGILL, catch_and_jump, SA_NODEFER) != 0
            || install(SIGTRAP, count_trap, 0) != 0) {
        return;
    }
    volatile int zero = 0;
    if (sigsetjmp(recover, 1) == 0) {
        volatile int q = 10 / zero;
        (void)q;
        fail("10 / 0 did not fault");
        return;
    }
    if (last.si_signo != SIGFPE || last.si_code != FPE_INTDIV) {
        fail("division by zero: signo %d code %d, want SIGFPE FPE_INTDIV", last.si_signo, last.si_code);
        return;
    }
    if (sigsetjmp(recover, 1) == 0) {
        __asm__ volatile("ud2_at: ud2");
        fail("ud2 did not fault");
        return;
    }
    if (last.si_signo != SIGILL || last.si_code != ILL_ILLOPN || last.si_addr != (void *)ud2_at) {
        fail("ud2: signo %d code %d addr %p, want SIGILL ILL_ILLOPN %p", last.si_signo, last.si_code,
             last.si_addr, (void *)ud2_at);
        return;
    }
    __asm__ volatile("int3");
    if (traps != 1 || last.si_signo != SIGTRAP || last.si_code != SI_KERNEL) {
        fail("int3: %d traps, signo %d code %#x, want one SIGTRAP SI_KERNEL", traps, last.si_signo, last.si_code);
        return;
    }
    ok("SIGFPE FPE_INTDIV, SIGILL ILL_ILLOPN at the ud2, SIGTRAP SI_KERNEL after int3 returned");
}

/* ---- sa-restart: a read interrupted by a handler restarts with SA_RESTART, fails EINTR without. ---- */

static volatile int usr1s;

static void count_usr1(int signo, siginfo_t *info, void *context) {
    (void)signo;
    (void)info;
    (void)context;
    usr1s++;
}

static pthread_t main_thread;
static int late_pipe[2];

static void *signal_then_write(void *arg) {
    (void)arg;
    struct timespec t = {0, 50000000};
    nanosleep(&t, NULL);
    pthread_kill(main_thread, SIGUSR1);
    nanosleep(&t, NULL);
    if (write(late_pipe[1], "x", 1) != 1) {
        return (void *)1;
    }
    return NULL;
}

static ssize_t interrupted_read(int flags) {
    install(SIGUSR1, count_usr1, flags);
    if (pipe(late_pipe) != 0) {
        return -2;
    }
    main_thread = pthread_self();
    pthread_t t;
    pthread_create(&t, NULL, signal_then_write, NULL);
    char c;
    ssize_t n = read(late_pipe[0], &c, 1);
    int saved = errno;
    pthread_join(t, NULL);
    close(late_pipe[0]);
    close(late_pipe[1]);
    errno = saved;
    return n;
}

static void sa_restart(void) {
    ssize_t n = interrupted_read(SA_RESTART);
    if (n != 1 || usr1s != 1) {
        fail("with SA_RESTART the read returned %zd (%s) after %d handlers, want 1 byte", n, strerror(errno), usr1s);
        return;
    }
    n = interrupted_read(0);
    if (n != -1 || errno != EINTR || usr1s != 2) {
        fail("without SA_RESTART the read returned %zd (%s), want EINTR", n, strerror(errno));
        return;
    }
    ok("restarted with SA_RESTART, EINTR without");
}

/* ---- sigtimedwait: takes a blocked signal sent by another thread, or times out. ---- */

static void *send_usr2(void *arg) {
    struct timespec t = {0, 30000000};
    nanosleep(&t, NULL);
    pthread_kill(*(pthread_t *)arg, SIGUSR2);
    return NULL;
}

static void sigtimedwait_check(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    pthread_t self = pthread_self(), t;
    pthread_create(&t, NULL, send_usr2, &self);
    siginfo_t info;
    struct timespec timeout = {5, 0};
    int sig = sigtimedwait(&set, &info, &timeout);
    pthread_join(t, NULL);
    /* pthread_kill sends with tgkill (SI_TKILL) or, in newer glibc, rt_tgsigqueueinfo (SI_USER). */
    if (sig != SIGUSR2 || info.si_signo != SIGUSR2 || info.si_code > 0 || info.si_pid != getpid()) {
        fail("sigtimedwait: %d, signo %d code %d pid %d", sig, info.si_signo, info.si_code, info.si_pid);
        return;
    }
    struct timespec short_wait = {0, 50000000};
    int64_t start = now_ms();
    sig = sigtimedwait(&set, &info, &short_wait);
    int64_t waited = now_ms() - start;
    if (sig != -1 || errno != EAGAIN || waited < 40) {
        fail("sigtimedwait with nothing pending: %d (%s) after %lld ms, want EAGAIN after 50", sig,
             strerror(errno), (long long)waited);
        return;
    }
    ok("took SIGUSR2 (code %d) from another thread; EAGAIN after %lld ms", info.si_code, (long long)waited);
}

/* ---- signalfd: a blocked signal becomes a readable record. ---- */

static void signalfd_check(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
        fail("signalfd: %s", strerror(errno));
        return;
    }
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 0) != 0) {
        fail("readable before any signal");
        return;
    }
    kill(getpid(), SIGUSR1);
    if (poll(&p, 1, 1000) != 1 || !(p.revents & POLLIN)) {
        fail("not readable after kill(SIGUSR1)");
        return;
    }
    struct signalfd_siginfo record;
    ssize_t n = read(fd, &record, sizeof record);
    if (n != sizeof record || record.ssi_signo != SIGUSR1 || record.ssi_code != SI_USER
            || record.ssi_pid != (uint32_t)getpid()) {
        fail("read %zd: signo %u code %d pid %u", n, record.ssi_signo, record.ssi_code, record.ssi_pid);
        return;
    }
    if (read(fd, &record, sizeof record) != -1 || errno != EAGAIN || poll(&p, 1, 0) != 0) {
        fail("still readable after the only signal was read");
        return;
    }
    ok("poll, then one record for kill(SIGUSR1), then EAGAIN");
}

/* ---- timer-create: a POSIX timer's signals carry its value and SI_TIMER. ---- */

static volatile int ticks;
static volatile int tick_value, tick_code;

static void on_tick(int signo, siginfo_t *info, void *context) {
    (void)signo;
    (void)context;
    ticks++;
    tick_value = info->si_value.sival_int;
    tick_code = info->si_code;
}

static void timer_create_check(void) {
    if (install(SIGRTMIN + 1, on_tick, SA_RESTART) != 0) {
        return;
    }
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGRTMIN + 1;
    ev.sigev_value.sival_int = 42;
    timer_t timer;
    if (timer_create(CLOCK_MONOTONIC, &ev, &timer) != 0) {
        fail("timer_create: %s", strerror(errno));
        return;
    }
    struct itimerspec every = {{0, 20000000}, {0, 20000000}};
    timer_settime(timer, 0, &every, NULL);
    int64_t start = now_ms();
    while (ticks < 3 && now_ms() - start < 5000) {
        /* spin: the timer must interrupt a program that makes no system call */
    }
    timer_delete(timer);
    if (ticks < 3 || tick_value != 42 || tick_code != SI_TIMER) {
        fail("%d ticks, value %d code %d, want 3 with 42 SI_TIMER", ticks, tick_value, tick_code);
        return;
    }
    ok("3 ticks of a 20 ms timer while spinning, value 42, SI_TIMER");
}

/* ---- timer-settime-args: the new value is required, then copied, before Linux looks the timer up. ---- */

static void timer_settime_args(void) {
    int id;
    if (syscall(SYS_timer_create, CLOCK_MONOTONIC, NULL, &id) != 0) {
        fail("timer_create: %s", strerror(errno));
        return;
    }
    long null_value = syscall(SYS_timer_settime, id, 0, NULL, NULL);
    int e1 = errno;
    long null_bad_id = syscall(SYS_timer_settime, 12345, 0, NULL, NULL);
    int e2 = errno;
    long bad_value = syscall(SYS_timer_settime, id, 0, (void *)8, NULL);
    int e3 = errno;
    long bad_value_bad_id = syscall(SYS_timer_settime, 12345, 0, (void *)8, NULL);
    int e5 = errno;
    struct itimerspec bad_nsec = {{0, 0}, {0, 1000000000}};
    long invalid = syscall(SYS_timer_settime, id, 0, &bad_nsec, NULL);
    int e4 = errno;
    syscall(SYS_timer_delete, id);
    if (null_value != -1 || e1 != EINVAL || null_bad_id != -1 || e2 != EINVAL || bad_value != -1 || e3 != EFAULT
            || bad_value_bad_id != -1 || e5 != EFAULT || invalid != -1 || e4 != EINVAL) {
        fail("NULL %ld/%s, NULL for a bad id %ld/%s, unmapped %ld/%s, unmapped for a bad id %ld/%s,"
             " tv_nsec 1e9 %ld/%s", null_value, strerrorname_np(e1), null_bad_id, strerrorname_np(e2), bad_value,
             strerrorname_np(e3), bad_value_bad_id, strerrorname_np(e5), invalid, strerrorname_np(e4));
        return;
    }
    ok("EINVAL for a NULL new value, EFAULT for an unmapped one (whatever the id), EINVAL for tv_nsec 1e9");
}

/*
 * ---- itimer-args: a tv_usec outside [0, 999999] or a negative tv_sec is EINVAL (checked before
 * `which`); what getitimer and the old value report is a valid timeval, never past what was set. ----
 */

static void itimer_args(void) {
    signal(SIGALRM, SIG_IGN);
    static const struct itimerval bad[] = {
        {{0, 0}, {0, 1000000}}, {{0, 1000000}, {1, 0}}, {{0, 0}, {0, -1}},
        {{0, -1}, {1, 0}},      {{0, 0}, {-1, 0}},      {{-1, 0}, {1, 0}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (syscall(SYS_setitimer, ITIMER_REAL, &bad[i], NULL) != -1 || errno != EINVAL) {
            fail("setitimer {{%ld, %ld}, {%ld, %ld}}: %s, want EINVAL", bad[i].it_interval.tv_sec,
                 bad[i].it_interval.tv_usec, bad[i].it_value.tv_sec, bad[i].it_value.tv_usec, strerrorname_np(errno));
            return;
        }
    }
    if (syscall(SYS_setitimer, 7, (void *)8, NULL) != -1 || errno != EFAULT) {
        fail("setitimer of a bad which from an unmapped value: %s, want EFAULT", strerrorname_np(errno));
        return;
    }
    struct itimerval top = {{0, 999999}, {0, 999999}}, got;
    if (setitimer(ITIMER_REAL, &top, NULL) != 0 || getitimer(ITIMER_REAL, &got) != 0) {
        fail("setitimer/getitimer of {0, 999999}: %s", strerror(errno));
        return;
    }
    if (got.it_interval.tv_sec != 0 || got.it_interval.tv_usec != 999999 || got.it_value.tv_sec != 0
            || got.it_value.tv_usec <= 0 || got.it_value.tv_usec > 999999) {
        fail("{0, 999999} read back as interval {%ld, %ld} value {%ld, %ld}", got.it_interval.tv_sec,
             got.it_interval.tv_usec, got.it_value.tv_sec, got.it_value.tv_usec);
        return;
    }
    /* Right after it is set, a 3 s timer has 2.999999... s left: never {2, 1000000} nor {3, 0}. */
    struct itimerval three = {{0, 0}, {3, 0}}, old;
    for (int i = 0; i < 2000; i++) {
        setitimer(ITIMER_REAL, &three, NULL);
        setitimer(ITIMER_REAL, &three, &old);
        if (old.it_value.tv_usec < 0 || old.it_value.tv_usec > 999999 || old.it_value.tv_sec != 2) {
            fail("3 s just set reported {%ld, %ld} left", old.it_value.tv_sec, old.it_value.tv_usec);
            return;
        }
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    ok("EINVAL for tv_usec outside [0, 999999] or a negative tv_sec, EFAULT before a bad which;"
       " {0, 999999} read back exactly; 3 s just set reads {2, <1000000}");
}

/*
 * ---- timer-huge: a timer set for longer than the clock can count stays armed. Linux saturates its
 * expiry at KTIME_MAX (about 292 years of CLOCK_MONOTONIC), so getitimer and timer_gettime report
 * KTIME_MAX - now left: never 0 (disarmed), never negative, the fraction inside one second. A
 * periodic timer with a huge interval fires once and then stays armed the same way. ----
 */

/* At least a century left (KTIME_MAX - now is ~292 years minus the uptime), fraction in range. */
static int huge_left(long sec, long frac, long per_second) {
    return sec >= 3155760000L && sec <= 9223372036L && frac >= 0 && frac < per_second;
}

static volatile int huge_alarms;

static void count_huge_alarm(int signo) {
    (void)signo;
    huge_alarms++;
}

static void timer_huge(void) {
    static const long secs[] = {LONG_MAX, LONG_MAX / 2, 9223372036L, 9223372036L - 1000};
    signal(SIGALRM, SIG_IGN);
    for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++) {
        struct itimerval v = {{0, 0}, {secs[i], 999999}}, got, old;
        if (syscall(SYS_setitimer, ITIMER_REAL, &v, NULL) != 0 || syscall(SYS_getitimer, ITIMER_REAL, &got) != 0) {
            fail("setitimer/getitimer of {%ld, 999999}: %s", secs[i], strerror(errno));
            return;
        }
        struct itimerval off = {{0, 0}, {0, 0}};
        syscall(SYS_setitimer, ITIMER_REAL, &off, &old);
        if (!huge_left(got.it_value.tv_sec, got.it_value.tv_usec, 1000000)
                || !huge_left(old.it_value.tv_sec, old.it_value.tv_usec, 1000000)) {
            fail("setitimer {%ld, 999999}: getitimer read {%ld, %ld} left, the old value {%ld, %ld}; want armed"
                 " with ~KTIME_MAX - now left", secs[i], got.it_value.tv_sec, got.it_value.tv_usec,
                 old.it_value.tv_sec, old.it_value.tv_usec);
            return;
        }
    }
    int id;
    if (syscall(SYS_timer_create, CLOCK_MONOTONIC, NULL, &id) != 0) {
        fail("timer_create: %s", strerror(errno));
        return;
    }
    for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++) {
        for (int flags = 0; flags <= TIMER_ABSTIME; flags += TIMER_ABSTIME) {
            struct itimerspec v = {{0, 0}, {secs[i], 999999999}}, got, old;
            if (syscall(SYS_timer_settime, id, flags, &v, NULL) != 0 || syscall(SYS_timer_gettime, id, &got) != 0) {
                fail("timer_settime/gettime of {%ld, 999999999} flags %d: %s", secs[i], flags, strerror(errno));
                return;
            }
            struct itimerspec off = {{0, 0}, {0, 0}};
            syscall(SYS_timer_settime, id, 0, &off, &old);
            if (!huge_left(got.it_value.tv_sec, got.it_value.tv_nsec, 1000000000)
                    || !huge_left(old.it_value.tv_sec, old.it_value.tv_nsec, 1000000000)) {
                fail("timer_settime {%ld, 999999999} flags %d: timer_gettime read {%ld, %ld} left, the old value"
                     " {%ld, %ld}; want armed with ~KTIME_MAX - now left", secs[i], flags, got.it_value.tv_sec,
                     got.it_value.tv_nsec, old.it_value.tv_sec, old.it_value.tv_nsec);
                return;
            }
        }
    }
    /* Due in a microsecond, then every LONG_MAX / 2 seconds: one signal, and the timer stays armed. */
    signal(SIGALRM, count_huge_alarm);
    struct itimerval periodic = {{LONG_MAX / 2, 0}, {0, 1}}, got;
    setitimer(ITIMER_REAL, &periodic, NULL);
    int64_t start = now_ms();
    while (huge_alarms == 0 && now_ms() - start < 5000) {
    }
    getitimer(ITIMER_REAL, &got);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    struct itimerspec pspec = {{LONG_MAX / 2, 0}, {0, 1}}, pgot;
    syscall(SYS_timer_settime, id, 0, &pspec, NULL);
    struct timespec pause = {0, 10000000};
    nanosleep(&pause, NULL);
    syscall(SYS_timer_gettime, id, &pgot);
    syscall(SYS_timer_delete, id);
    signal(SIGALRM, SIG_IGN);
    if (huge_alarms != 2 || !huge_left(got.it_value.tv_sec, got.it_value.tv_usec, 1000000)
            || got.it_interval.tv_sec != 9223372036L || got.it_interval.tv_usec != 854775
            || !huge_left(pgot.it_value.tv_sec, pgot.it_value.tv_nsec, 1000000000)
            || pgot.it_interval.tv_sec != 9223372036L || pgot.it_interval.tv_nsec != 854775807) {
        fail("every LONG_MAX / 2 s: %d signals, want 2; after its first, getitimer read interval {%ld, %ld} value"
             " {%ld, %ld} and timer_gettime interval {%ld, %ld} value {%ld, %ld}; want the interval saturated"
             " ({9223372036, 854775[807]}) and the timer still armed", huge_alarms, got.it_interval.tv_sec,
             got.it_interval.tv_usec, got.it_value.tv_sec, got.it_value.tv_usec, pgot.it_interval.tv_sec,
             pgot.it_interval.tv_nsec, pgot.it_value.tv_sec, pgot.it_value.tv_nsec);
        return;
    }
    ok("{LONG_MAX, ...} down to {9223371036, ...}: setitimer and timer_settime (relative and TIMER_ABSTIME)"
       " stay armed with %ld s left; a LONG_MAX / 2 s interval fires once and stays armed", got.it_value.tv_sec);
}

/* ---- wait-sigmask: ppoll, pselect6 and epoll_pwait wait with the mask they are given. ---- */

static int usr1_blocked(void) {
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    return sigismember(&now, SIGUSR1);
}

static int usr1_pending(void) {
    sigset_t now;
    sigpending(&now);
    return sigismember(&now, SIGUSR1);
}

/* One of the three waits on fd (-1: nothing) for up to ms, with every signal blocked but SIGUSR1
 * and SIGALRM; which: 0 ppoll, 1 pselect6, 2 epoll_pwait. */
static int masked_wait(int which, int fd, int ms) {
    sigset_t mask;
    sigfillset(&mask);
    sigdelset(&mask, SIGUSR1);
    sigdelset(&mask, SIGALRM);
    if (which == 0) {
        struct pollfd p = {fd, POLLIN, 0};
        struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
        return ppoll(&p, fd >= 0, &t, &mask);
    }
    if (which == 1) {
        fd_set r;
        FD_ZERO(&r);
        if (fd >= 0) FD_SET(fd, &r);
        struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
        return pselect(fd >= 0 ? fd + 1 : 0, &r, NULL, NULL, &t, &mask);
    }
    int ep = epoll_create1(0);
    if (fd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    struct epoll_event out;
    int n = epoll_pwait(ep, &out, 1, ms, &mask);
    int saved = errno;
    close(ep);
    errno = saved;
    return n;
}

static void wait_sigmask(void) {
    static const char *names[] = {"ppoll", "pselect6", "epoll_pwait"};
    install(SIGUSR1, count_usr1, 0);
    install(SIGALRM, count_alarm, 0);
    sigset_t both;
    sigemptyset(&both);
    sigaddset(&both, SIGUSR1);
    sigaddset(&both, SIGALRM);
    sigprocmask(SIG_BLOCK, &both, NULL);
    int ready[2];
    if (pipe(ready) != 0 || write(ready[1], "x", 1) != 1) {
        fail("pipe: %s", strerror(errno));
        return;
    }
    for (int which = 0; which < 3; which++) {
        /* A signal pending before the call and let through by its mask: EINTR at once, the
         * handler runs, and the mask is the caller's again afterwards. */
        int before = usr1s;
        raise(SIGUSR1);
        int64_t start = now_ms();
        int n = masked_wait(which, -1, 2000);
        int e = errno;
        if (n != -1 || e != EINTR || usr1s != before + 1 || now_ms() - start > 1000 || !usr1_blocked()) {
            fail("%s with SIGUSR1 pending: %d (%s), %d handlers, %lld ms, blocked after: %d", names[which], n,
                 strerror(e), usr1s - before, (long long)(now_ms() - start), usr1_blocked());
            return;
        }
        /* A file ready wins over the pending signal; the signal stays pending, blocked again. */
        before = usr1s;
        raise(SIGUSR1);
        n = masked_wait(which, ready[0], 2000);
        if (n != 1 || usr1s != before || !usr1_pending() || !usr1_blocked()) {
            fail("%s with a ready file and SIGUSR1 pending: %d, %d handlers, pending %d, blocked %d", names[which], n,
                 usr1s - before, usr1_pending(), usr1_blocked());
            return;
        }
        sigset_t just_usr1;
        sigemptyset(&just_usr1);
        sigaddset(&just_usr1, SIGUSR1);
        int taken;
        sigwait(&just_usr1, &taken);
        /* A signal that arrives during the wait, blocked outside it: EINTR, one handler. */
        int alarms_before = alarms;
        struct itimerval in_50ms = {{0, 0}, {0, 50000}};
        setitimer(ITIMER_REAL, &in_50ms, NULL);
        start = now_ms();
        n = masked_wait(which, -1, 3000);
        e = errno;
        if (n != -1 || e != EINTR || alarms != alarms_before + 1 || now_ms() - start > 2000) {
            fail("%s with SIGALRM during the wait: %d (%s), %d handlers, %lld ms", names[which], n, strerror(e),
                 alarms - alarms_before, (long long)(now_ms() - start));
            return;
        }
        sigset_t now;
        sigprocmask(SIG_BLOCK, NULL, &now);
        if (!sigismember(&now, SIGALRM) || !sigismember(&now, SIGUSR1)) {
            fail("%s: the caller's mask was not restored after the handler", names[which]);
            return;
        }
        /* A timeout with nothing pending restores the mask too. */
        n = masked_wait(which, -1, 20);
        if (n != 0 || !usr1_blocked()) {
            fail("%s timing out: %d, blocked after: %d", names[which], n, usr1_blocked());
            return;
        }
    }
    ok("each wait ran with its mask: a pending signal it lets through is EINTR at once, one arriving during it "
       "interrupts it, a ready file wins, and the caller's mask is back afterwards");
}

/* ---- kill-self: a signal a thread sends itself runs its handler before kill returns. ---- */

static void kill_self(void) {
    if (install(SIGUSR1, count_usr1, 0) != 0) {
        return;
    }
    kill(getpid(), SIGUSR1);
    int after_kill = usr1s;
    raise(SIGUSR1);
    if (after_kill != 1 || usr1s != 2) {
        fail("%d handlers after kill, %d after raise, want 1 and 2", after_kill, usr1s);
        return;
    }
    if (kill(12345, SIGUSR1) != -1 || errno != ESRCH) {
        fail("kill of another pid: %s, want ESRCH", strerror(errno));
        return;
    }
    ok("kill and raise ran the handler before returning; ESRCH for another pid");
}

int main(int argc, char **argv) {
    static const struct check checks[] = {
        {"segv-fix", segv_fix},
        {"sigaltstack", sigaltstack_check},
        {"altstack-autodisarm", altstack_autodisarm},
        {"stack-overflow", stack_overflow},
        {"sigalrm", sigalrm},
        {"sigpipe-ignored", sigpipe_ignored},
        {"sigpipe-default", sigpipe_default},
        {"context-redirect", context_redirect},
        {"cpu-faults", cpu_faults},
        {"sa-restart", sa_restart},
        {"sigtimedwait", sigtimedwait_check},
        {"signalfd", signalfd_check},
        {"timer-create", timer_create_check},
        {"timer-settime-args", timer_settime_args},
        {"itimer-args", itimer_args},
        {"timer-huge", timer_huge},
        {"wait-sigmask", wait_sigmask},
        {"kill-self", kill_self},
    };
    return run_check(argc, argv, checks, sizeof checks / sizeof checks[0]);
}
