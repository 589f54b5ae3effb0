/*
 * Attacks on threads and signals (issue 10), one per run:
 *
 *   hostile_signals forged-garbage | forged-mxcsr | forged-xstate | forged-flags | forged-stub-rip
 *                   | handler-in-stub | altstack-in-engine | rt-flood | robust-cycle | clone-args
 *                   | nested-faults
 *
 * The ones that must end the program print "attacking <attack>" first; the test asserts how the
 * run ended. The others print "OK <attack>: ..." or "FAIL <attack>: ...". None may make the host
 * misbehave: the test checks that the emulation saw no host exception.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "checks.h"

static void attacking(void) {
    printf("attacking %s\n", check);
    fflush(stdout);
}

/* A frame for rt_sigreturn, built by hand: what a handler would return through. */
struct forged {
    uint64_t pretcode;
    uint64_t uc_flags, uc_link;
    uint64_t ss_sp, ss_flags, ss_size;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
    uint16_t cs, gs, fs, ss;
    uint64_t err, trapno, oldmask, cr2, fpstate, reserved[8];
    uint64_t sigmask;
};

static char stack_for_resume[65536] __attribute__((aligned(16)));

static void resumed(void) {
    printf("FAIL %s: resumed at the forged RIP\n", check);
    fflush(stdout);
    _exit(1);
}

static void __attribute__((noreturn)) sigreturn_with(struct forged *f) {
    __asm__ volatile("mov %0, %%rsp\n"
                     "add $8, %%rsp\n" /* as after the handler's ret popped pretcode */
                     "mov $15, %%eax\n"
                     "syscall\n" ::"r"(f)
                     : "memory");
    __builtin_unreachable();
}

static struct forged frame __attribute__((aligned(64)));

static void forged_garbage(void) {
    attacking();
    memset(&frame, 0x41, sizeof frame);
    sigreturn_with(&frame);
}

static void prepare_resume(void) {
    memset(&frame, 0, sizeof frame);
    frame.rip = (uint64_t)resumed;
    frame.rsp = (uint64_t)(stack_for_resume + sizeof stack_for_resume - 8);
    frame.eflags = 0x202;
}

/* A handler that changes its own saved context before returning, as the forged-* attacks do. */
static void (*tamper)(ucontext_t *uc);

static void tampering_handler(int sig, siginfo_t *info, void *context) {
    (void)sig;
    (void)info;
    tamper(context);
}

static void return_through(void (*how)(ucontext_t *)) {
    tamper = how;
    struct sigaction sa = {.sa_sigaction = tampering_handler, .sa_flags = SA_SIGINFO};
    sigaction(SIGUSR1, &sa, NULL);
    attacking();
    raise(SIGUSR1);
}

static void reserved_mxcsr(ucontext_t *uc) {
    uc->uc_mcontext.fpregs->mxcsr = 0xffffffff;
}

static void forged_mxcsr(void) {
    return_through(reserved_mxcsr);
    printf("FAIL %s: returned with reserved MXCSR bits\n", check);
    _exit(1);
}

static void every_component(ucontext_t *uc) {
    *(uint64_t *)((char *)uc->uc_mcontext.fpregs + 512) = ~0ULL; /* XSTATE_BV */
    *(uint64_t *)((char *)uc->uc_mcontext.fpregs + 520) = ~0ULL; /* XCOMP_BV */
}

static void forged_xstate(void) {
    return_through(every_component);
    printf("FAIL %s: returned with every XSAVE component claimed\n", check);
    _exit(1);
}

static void cli_in_user_mode(void) {
    __asm__ volatile("cli"); /* only with IOPL 3: must fault */
    printf("FAIL forged-flags: cli ran in user mode\n");
    fflush(stdout);
    _exit(1);
}

static void privileged_flags(ucontext_t *uc) {
    uc->uc_mcontext.gregs[REG_EFL] |= 0x3000 | 0x20000 | 0x80000 | 0x100000; /* IOPL 3, VM, VIF, VIP */
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)cli_in_user_mode;
}

static void forged_flags(void) {
    return_through(privileged_flags);
}

static void forged_stub_rip(void) {
    attacking();
    prepare_resume();
    frame.rip = 0x3000; /* the engine's syscall entry: supervisor-only */
    frame.cs = 0x08;    /* and a kernel code segment */
    frame.ss = 0x10;
    sigreturn_with(&frame);
}

static void handler_in_stub(void) {
    attacking();
    struct {
        uint64_t handler, flags, restorer, mask;
    } act = {0xf000, 0x04000000 /* SA_RESTORER */ | SA_SIGINFO, 0xf000, 0}; /* the exception entries */
    if (syscall(SYS_rt_sigaction, SIGUSR1, &act, NULL, 8) != 0) {
        printf("FAIL %s: rt_sigaction: %s\n", check, strerror(errno));
        _exit(1);
    }
    raise(SIGUSR1);
    printf("FAIL %s: returned from a handler in the engine's code\n", check);
    _exit(1);
}

static void noop_handler(int sig) {
    (void)sig;
}

static void altstack_in_engine(void) {
    attacking();
    stack_t ss = {.ss_sp = (void *)0x5000, .ss_size = 0x2000, .ss_flags = 0}; /* the exception stack */
    if (sigaltstack(&ss, NULL) != 0) {
        printf("FAIL %s: sigaltstack: %s\n", check, strerror(errno));
        _exit(1);
    }
    struct sigaction sa = {.sa_handler = noop_handler, .sa_flags = SA_ONSTACK};
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    printf("FAIL %s: a handler ran on the engine's exception stack\n", check);
    _exit(1);
}

static void rt_flood(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int queued = 0;
    union sigval v = {.sival_int = 1};
    while (queued < 100000 && sigqueue(getpid(), SIGRTMIN + 2, v) == 0) {
        queued++;
    }
    if (errno != EAGAIN || queued >= 100000) {
        fail("queued %d real-time signals, then %s; want EAGAIN at a bound", queued, strerror(errno));
        return;
    }
    ok("%d real-time signals queued, then EAGAIN", queued);
}

struct robust_node {
    struct robust_node *next;
    uint32_t futex;
};

static void *robust_cycle_thread(void *arg) {
    (void)arg;
    static struct {
        struct robust_node *head;
        long offset;
        struct robust_node *pending;
    } head;
    static struct robust_node a, b;
    a.next = &b; /* a cycle that never comes back to the head */
    b.next = &a;
    head.head = &a;
    head.offset = (long)offsetof(struct robust_node, futex);
    head.pending = (struct robust_node *)0xdead0000; /* unmapped */
    syscall(SYS_set_robust_list, &head, sizeof head);
    return NULL;
}

static void robust_cycle(void) {
    pthread_t t;
    pthread_create(&t, NULL, robust_cycle_thread, NULL);
    pthread_join(t, NULL);
    ok("a thread with a cyclic robust list and a bad pending entry exited");
}

static void clone_args(void) {
    long r1 = syscall(SYS_clone, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SETTLS,
                      0, 0, 0, 0xffff800000000000UL);
    int e1 = errno;
    uint64_t args[32] = {0};
    args[20] = 1; /* a non-zero byte past what the engine knows */
    long r2 = syscall(SYS_clone3, args, sizeof args);
    int e2 = errno;
    long r3 = syscall(SYS_clone3, args, 1L << 20);
    int e3 = errno;
    long r4 = syscall(SYS_clone, CLONE_THREAD, 0, 0, 0, 0);
    int e4 = errno;
    if (r1 != -1 || e1 != EPERM || r2 != -1 || e2 != E2BIG || r3 != -1 || e3 != E2BIG || r4 != -1 || e4 != EINVAL) {
        fail("kernel TLS %ld/%s, clone3 tail %ld/%s, clone3 huge %ld/%s, CLONE_THREAD alone %ld/%s", r1, strerror(e1),
             r2, strerror(e2), r3, strerror(e3), r4, strerror(e4));
        return;
    }
    /* A stack without a size, a size without a stack, and stacks that wrap or end past user space. */
    static const uint64_t stacks[][2] = {
        {0x10000, 0},
        {0, 0x10000},
        {0xfffffffffffff000UL, 0x2000},
        {0x1000, 0xffffffffffffffffUL},
        {0x7fffffffe000UL, 0x8000000000000000UL},
        {0xffff800000000000UL, 0x1000},
    };
    for (size_t i = 0; i < sizeof stacks / sizeof stacks[0]; i++) {
        uint64_t bad[11] = {0}; /* flags 0: a fork, which Linux refuses for the stack before anything else */
        bad[5] = stacks[i][0];
        bad[6] = stacks[i][1];
        long r = syscall(SYS_clone3, bad, sizeof bad);
        if (r == 0) {
            _exit(0); /* a child, had the kernel accepted it */
        }
        if (r != -1 || errno != EINVAL) {
            fail("clone3 stack %#lx size %#lx: %ld/%s, want EINVAL", (unsigned long)stacks[i][0],
                 (unsigned long)stacks[i][1], r, strerror(errno));
            return;
        }
    }
    ok("EPERM for a kernel TLS, E2BIG for unknown clone3 fields and sizes, EINVAL for CLONE_THREAD alone"
       " and for a clone3 stack without a size, a size without a stack, or one that wraps or leaves user space");
}

static volatile long depth;

static void fault_again(int sig) {
    (void)sig;
    depth++;
    *(volatile int *)(uintptr_t)atoi("8") = 1; /* faults inside the handler, over and over (SA_NODEFER) */
}

static void nested_faults(void) {
    attacking();
    struct sigaction sa = {.sa_handler = fault_again, .sa_flags = SA_NODEFER};
    sigaction(SIGSEGV, &sa, NULL);
    *(volatile int *)(uintptr_t)atoi("8") = 1;
    printf("FAIL %s: survived\n", check);
    _exit(1);
}

int main(int argc, char **argv) {
    static const struct check checks[] = {
        {"forged-garbage", forged_garbage},
        {"forged-mxcsr", forged_mxcsr},
        {"forged-xstate", forged_xstate},
        {"forged-flags", forged_flags},
        {"forged-stub-rip", forged_stub_rip},
        {"handler-in-stub", handler_in_stub},
        {"altstack-in-engine", altstack_in_engine},
        {"rt-flood", rt_flood},
        {"robust-cycle", robust_cycle},
        {"clone-args", clone_args},
        {"nested-faults", nested_faults},
    };
    return run_check(argc, argv, checks, sizeof checks / sizeof checks[0]);
}
