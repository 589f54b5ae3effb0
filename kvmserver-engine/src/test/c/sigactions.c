/*
 * A server for the test of rt_sigaction answered in the guest (SigactionInGuestTest): php
 * installs its signal handlers for every request, a get and a set of each of eight signals.
 * It ignores SIGPIPE and, as its last call before it waits for connections, gives SIGUSR1 a
 * handler of its own (the template's).
 * Usage: sigactions PORT; each request's path says what it does:
 *   /set    what php does (eight gets and sets), then answers what the gets found, one letter
 *           per signal: T the template's handler, D SIG_DFL, I SIG_IGN, R this request's (a
 *           request before this one leaked it), ? anything else
 *   /look   the same gets, and nothing set
 *   /checks the answers Linux gives to bad arguments, a get after a set, a handler that runs,
 *           and an action of SIG_IGN that discards a pending signal (compared with a native run)
 *   /masks  the same for rt_sigprocmask: bad arguments, changes within one entry, a signal sent
 *           while the entry's mask blocks it, a pending one delivered when unblocked, gettid in
 *           the main thread and in a new one (compared with a native run)
 *   /forge  (in the engine only) queue entries the entry never makes: an action for SIGKILL, one
 *           whose bytes lie past the queue's data; then what SIGKILL's and SIGUSR2's actions are
 *   /page   (in the engine only) SIGUSR1's action as the dispositions page shows it, and whether
 *           a write to the page faults
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "http_request.h"

#define QUEUE 0xc000
#define QUEUE_DATA (QUEUE + 608)
#define DISPOSITIONS 0xe000

/* The kernel's struct sigaction on x86-64, as rt_sigaction takes it. */
struct kernel_action {
    void *handler;
    unsigned long flags;
    void *restorer;
    unsigned long mask;
};

static const int php_signals[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGPROF, SIGALRM};
#define PHP_SIGNALS (int) (sizeof php_signals / sizeof php_signals[0])

static volatile sig_atomic_t template_ran, request_ran;
static sigjmp_buf escape;

static void template_handler(int sig) {
    (void) sig;
    template_ran++;
}

static void request_handler(int sig, siginfo_t *info, void *context) {
    (void) sig, (void) info, (void) context;
    request_ran++;
}

static void on_segv(int sig) {
    (void) sig;
    siglongjmp(escape, 1);
}

static long raw_sigaction(long sig, const void *act, void *old, long size) {
    long r = syscall(SYS_rt_sigaction, sig, act, old, size);
    return r < 0 ? -errno : r;
}

static char letter(void *handler) {
    if (handler == (void *) template_handler) return 'T';
    if (handler == SIG_DFL) return 'D';
    if (handler == SIG_IGN) return 'I';
    if (handler == (void *) request_handler) return 'R';
    return '?';
}

/* Gets each of php's signals' action (and sets the request's, as php does, when set). */
static int php_requests(char *out, int set) {
    for (int i = 0; i < PHP_SIGNALS; i++) {
        struct sigaction old, act;
        sigaction(php_signals[i], NULL, &old);
        out[i] = letter((void *) old.sa_handler);
        if (set) {
            memset(&act, 0, sizeof act);
            act.sa_sigaction = request_handler;
            act.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
            sigaddset(&act.sa_mask, SIGALRM);
            sigaction(php_signals[i], &act, NULL);
        }
    }
    out[PHP_SIGNALS] = 0;
    return PHP_SIGNALS;
}

static int checks(char *out, size_t size) {
    struct kernel_action k, got;
    memset(&k, 0, sizeof k);
    long size4 = raw_sigaction(SIGUSR2, NULL, &got, 4);
    long sig0 = raw_sigaction(0, NULL, &got, 8);
    long sig65 = raw_sigaction(65, NULL, &got, 8);
    long negative = raw_sigaction(-1, NULL, &got, 8);
    long kill_set = raw_sigaction(SIGKILL, &k, NULL, 8);
    long stop_set = raw_sigaction(SIGSTOP, &k, NULL, 8);
    got.handler = (void *) 7;
    long kill_get = raw_sigaction(SIGKILL, NULL, &got, 8);
    void *kill_handler = got.handler;
    long both_null = raw_sigaction(SIGUSR2, NULL, NULL, 8);
    long act_low = raw_sigaction(SIGUSR2, (void *) 16, NULL, 8);
    long old_low = raw_sigaction(SIGUSR2, NULL, (void *) 16, 8);
    long act_high = raw_sigaction(SIGUSR2, (void *) (0x7ffffffff000L - 16), NULL, 8);
    long old_high = raw_sigaction(SIGUSR2, NULL, (void *) (0x7ffffffff000L - 16), 8);
    /* below the first address a program may map: where the engine keeps its pages (one the
       program may read, one it may write) */
    long act_engine = raw_sigaction(SIGUSR2, (void *) 0xb000, NULL, 8);
    long old_engine = raw_sigaction(SIGUSR2, NULL, (void *) (QUEUE + 2048), 8);
    /* an oldact Linux cannot write: EFAULT, with the new action installed all the same */
    void *readonly = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct kernel_action ignore = {.handler = SIG_IGN};
    long old_readonly = raw_sigaction(SIGUSR2, &ignore, readonly, 8);
    raw_sigaction(SIGUSR2, NULL, &got, 8);
    void *installed = got.handler;
    /* a set, then a get of the same signal with nothing in between */
    struct kernel_action mine = {.handler = (void *) request_handler, .flags = SA_SIGINFO | 0x04000000, .mask = 0x5};
    raw_sigaction(SIGUSR2, &mine, NULL, 8);
    memset(&got, 0, sizeof got);
    raw_sigaction(SIGUSR2, NULL, &got, 8);
    int reget = got.handler == (void *) request_handler && got.flags == (SA_SIGINFO | 0x04000000) && got.mask == 0x5;
    /* a handler given and run */
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_sigaction = request_handler;
    act.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &act, NULL);
    request_ran = 0;
    raise(SIGUSR1);
    int ran = request_ran;
    /* SIG_IGN discards a pending, blocked signal */
    sigset_t term, pending;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, NULL);
    raise(SIGTERM);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGTERM);
    signal(SIGTERM, SIG_IGN);
    sigpending(&pending);
    int still_pending = sigismember(&pending, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &term, NULL);
    munmap(readonly, 4096);
    return snprintf(out, size,
                    "size4=%ld sig0=%ld sig65=%ld negative=%ld kill_set=%ld stop_set=%ld kill_get=%ld/%c null=%ld "
                    "act_low=%ld old_low=%ld act_high=%ld old_high=%ld act_engine=%ld old_engine=%ld old_readonly=%ld "
                    "installed=%c reget=%d "
                    "ran=%d pending=%d/%d",
                    size4, sig0, sig65, negative, kill_set, stop_set, kill_get, letter(kill_handler), both_null,
                    act_low, old_low, act_high, old_high, act_engine, old_engine, old_readonly, letter(installed), reget, ran, was_pending,
                    still_pending);
}

static long raw_sigprocmask(long how, const void *set, void *old, long size) {
    long r = syscall(SYS_rt_sigprocmask, how, set, old, size);
    return r < 0 ? -errno : r;
}

static void *thread_ids(void *result) {
    long a = syscall(SYS_gettid);
    getppid(); /* through the host: the page is written again before the next entry */
    long b = syscall(SYS_gettid);
    *(int *) result = a == b && a != getpid();
    return NULL;
}

static int masks(char *out, size_t size) {
    uint64_t usr1 = 1UL << (SIGUSR1 - 1), usr2 = 1UL << (SIGUSR2 - 1), all = ~0UL, got = 0;
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_sigaction = request_handler;
    act.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &act, NULL);
    long size4 = raw_sigprocmask(SIG_BLOCK, &usr2, NULL, 4);
    long bad_how = raw_sigprocmask(3, &usr2, NULL, 8);
    long bad_how_set = raw_sigprocmask(3, (void *) 16, NULL, 8);
    long get_any_how = raw_sigprocmask(99, NULL, &got, 8);
    long set_low = raw_sigprocmask(SIG_BLOCK, (void *) 16, NULL, 8);
    long old_low = raw_sigprocmask(SIG_BLOCK, NULL, (void *) 16, 8);
    long old_engine = raw_sigprocmask(SIG_BLOCK, NULL, (void *) 0xc800, 8);
    long set_high = raw_sigprocmask(SIG_BLOCK, (void *) (0x7ffffffff000L - 4), NULL, 8);
    void *readonly = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    long old_readonly = raw_sigprocmask(SIG_BLOCK, &usr2, readonly, 8);
    raw_sigprocmask(SIG_BLOCK, NULL, &got, 8);
    int applied = (got & usr2) != 0;
    /* changes within one entry */
    raw_sigprocmask(SIG_SETMASK, &all, NULL, 8);
    raw_sigprocmask(SIG_BLOCK, NULL, &got, 8);
    int unblockable = (got & ((1UL << (SIGKILL - 1)) | (1UL << (SIGSTOP - 1)))) != 0;
    int all_else = (got | (1UL << (SIGKILL - 1)) | (1UL << (SIGSTOP - 1))) == all;
    raw_sigprocmask(SIG_UNBLOCK, &all, NULL, 8);
    raw_sigprocmask(SIG_BLOCK, &usr1, NULL, 8);
    raw_sigprocmask(SIG_BLOCK, NULL, &got, 8);
    int blocked_then = got == usr1;
    /* sent while the entry's mask blocks it: pending, not delivered; delivered once unblocked */
    request_ran = 0;
    raise(SIGUSR1);
    int ran_blocked = request_ran;
    sigset_t pending;
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGUSR1);
    raw_sigprocmask(SIG_UNBLOCK, &usr1, NULL, 8);
    int ran_unblocked = request_ran;
    raw_sigprocmask(SIG_SETMASK, NULL, &got, 8);
    long tid = syscall(SYS_gettid);
    int thread_tid = 0;
    pthread_t thread;
    pthread_create(&thread, NULL, thread_ids, &thread_tid);
    pthread_join(thread, NULL);
    /* Natively the main thread's id is the pid; in a request VM it is the template's (1), which
     * libc cached, while the process is a new one (a fork's pid, see LinuxProcess#pid). */
    int main_tid = syscall(SYS_gettid) == tid && (tid == getpid() || tid == 1);
    munmap(readonly, 4096);
    return snprintf(out, size,
                    "size4=%ld bad_how=%ld bad_how_set=%ld get_any_how=%ld set_low=%ld old_low=%ld old_engine=%ld "
                    "set_high=%ld old_readonly=%ld applied=%d unblockable=%d all_else=%d blocked=%d ran=%d/%d/%d "
                    "left=%lx tids=%d/%d",
                    size4, bad_how, bad_how_set, get_any_how, set_low, old_low, old_engine, set_high, old_readonly,
                    applied, unblockable, all_else, blocked_then, ran_blocked, was_pending, ran_unblocked,
                    (unsigned long) got, main_tid, thread_tid);
}

static int forge(char *out, size_t size) {
    struct kernel_action got;
    getppid(); /* through the host: the queue is empty after it */
    volatile uint32_t *q = (uint32_t *) QUEUE;
    volatile uint64_t *data = (uint64_t *) QUEUE_DATA;
    data[0] = (uint64_t) request_handler, data[1] = SA_SIGINFO, data[2] = 0, data[3] = 0;
    volatile uint32_t *e = q + 32;
    e[0] = SYS_rt_sigaction, e[1] = SIGKILL, e[2] = 0, e[3] = 0;
    e[4] = SYS_rt_sigaction, e[5] = SIGUSR2, e[6] = 4096 - 464 - 16, e[7] = 0;
    e[8] = SYS_rt_sigaction, e[9] = 65, e[10] = 0, e[11] = 0;
    q[0] = 3;
    getppid();
    raw_sigaction(SIGKILL, NULL, &got, 8);
    char kill = letter(got.handler);
    raw_sigaction(SIGUSR2, NULL, &got, 8);
    return snprintf(out, size, "kill=%c usr2=%c", kill, letter(got.handler));
}

static int page(char *out, size_t size) {
    volatile struct kernel_action *shown = (struct kernel_action *) DISPOSITIONS;
    volatile char usr1 = letter(shown[SIGUSR1 - 1].handler);
    signal(SIGSEGV, on_segv);
    const char *volatile protection = "writable";
    if (sigsetjmp(escape, 1) == 0) {
        shown[SIGUSR1 - 1].handler = (void *) request_handler;
    } else {
        protection = "protected";
    }
    signal(SIGSEGV, SIG_DFL);
    return snprintf(out, size, "usr1=%c %s", usr1, protection);
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    signal(SIGPIPE, SIG_IGN);
    int listener = listen_on_loopback(atoi(argv[1]));
    if (listener < 0) return 1;
    int ep = epoll_watching_listener(listener);
    /* the last call before the wait the template freezes in: its page is stale then */
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_handler = template_handler;
    act.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &act, NULL);
    for (;;) {
        int fd = accept_when_reported(ep, listener);
        if (fd < 0) {
            continue;
        }
        char path[64], body[512];
        read_request_path(fd, path, sizeof path);
        int b;
        if (!strcmp(path, "/set") || !strcmp(path, "/look")) {
            b = php_requests(body, !strcmp(path, "/set"));
        } else if (!strcmp(path, "/checks")) {
            b = checks(body, sizeof body);
        } else if (!strcmp(path, "/masks")) {
            b = masks(body, sizeof body);
        } else if (!strcmp(path, "/forge")) {
            b = forge(body, sizeof body);
        } else if (!strcmp(path, "/page")) {
            b = page(body, sizeof body);
        } else {
            b = snprintf(body, sizeof body, "unknown");
        }
        write_response(fd, body, b);
        close(fd);
    }
}
