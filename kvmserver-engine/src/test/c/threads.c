/*
 * Kernel features threaded programs need (issue 10), one check per run:
 *
 *   threads create-join | mutex-condvar | tls | spin-wait | robust-mutex | futex-ops | futex-attacks
 *           | thread-exit
 *           | exit-group-from-thread | thread-limit | tgkill | yield | no-new-processes | never-serves
 *           | epoll-edge | epoll-mod-rearm | epoll-late-add | rseq-abort | rseq-signal
 *
 * Each check prints "OK <check>: ..." or "FAIL <check>: ..." and exits 0 only if it passed
 * (exit-group-from-thread exits with status 7 from a second thread instead).
 * A check that hangs is a failure too: the test that runs it has a deadline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/rseq.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "checks.h"

static pid_t tid(void) { return (pid_t)syscall(SYS_gettid); }

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

/* ---- create-join: threads run, return values, and have their own tids. ---- */

#define CREATED 8
static pid_t created_tids[CREATED];

static void *created(void *arg) {
    intptr_t i = (intptr_t)arg;
    created_tids[i] = tid();
    return (void *)(i * 2 + 1);
}

static void create_join(void) {
    pthread_t t[CREATED];
    for (intptr_t i = 0; i < CREATED; i++) {
        int e = pthread_create(&t[i], NULL, created, (void *)i);
        if (e != 0) {
            fail("pthread_create #%ld: %s", (long)i, strerror(e));
            return;
        }
    }
    pid_t main_tid = tid();
    for (intptr_t i = 0; i < CREATED; i++) {
        void *ret;
        int e = pthread_join(t[i], &ret);
        if (e != 0) {
            fail("pthread_join #%ld: %s", (long)i, strerror(e));
            return;
        }
        if ((intptr_t)ret != i * 2 + 1) {
            fail("thread %ld returned %ld, not %ld", (long)i, (long)(intptr_t)ret, (long)(i * 2 + 1));
            return;
        }
    }
    for (int i = 0; i < CREATED; i++) {
        if (created_tids[i] <= 0 || created_tids[i] == main_tid || created_tids[i] == getpid()) {
            fail("thread %d has tid %d (main %d, pid %d)", i, created_tids[i], main_tid, getpid());
            return;
        }
        for (int j = 0; j < i; j++) {
            if (created_tids[i] == created_tids[j]) {
                fail("threads %d and %d share tid %d", j, i, created_tids[i]);
                return;
            }
        }
    }
    if (main_tid != getpid()) {
        fail("main thread's tid %d is not the pid %d", main_tid, getpid());
        return;
    }
    ok("%d threads created and joined, distinct tids", CREATED);
}

/* ---- mutex-condvar: a bounded queue between producers and consumers, and a shared counter. ---- */

#define WORKERS 4
#define ITEMS_PER_PRODUCER 5000
#define INCREMENTS 100000
#define QUEUE 8

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static long queue[QUEUE];
static int queued, head;
static long consumed_sum, consumed_count;
static long counter;

static void *producer(void *arg) {
    long base = (intptr_t)arg * ITEMS_PER_PRODUCER;
    for (long i = 1; i <= ITEMS_PER_PRODUCER; i++) {
        pthread_mutex_lock(&lock);
        while (queued == QUEUE) {
            pthread_cond_wait(&not_full, &lock);
        }
        queue[(head + queued++) % QUEUE] = base + i;
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static void *consumer(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (queued == 0 && consumed_count < (long)WORKERS * ITEMS_PER_PRODUCER) {
            pthread_cond_wait(&not_empty, &lock);
        }
        if (queued == 0) {
            pthread_mutex_unlock(&lock);
            return NULL;
        }
        long item = queue[head];
        head = (head + 1) % QUEUE;
        queued--;
        consumed_sum += item;
        if (++consumed_count == (long)WORKERS * ITEMS_PER_PRODUCER) {
            pthread_cond_broadcast(&not_empty); /* the others are done too */
        }
        pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&lock);
    }
}

static void *incrementer(void *arg) {
    (void)arg;
    for (int i = 0; i < INCREMENTS; i++) {
        pthread_mutex_lock(&lock);
        counter++;
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static void mutex_condvar(void) {
    pthread_t t[3 * WORKERS];
    for (intptr_t i = 0; i < WORKERS; i++) {
        if (pthread_create(&t[i], NULL, producer, (void *)i) != 0
                || pthread_create(&t[WORKERS + i], NULL, consumer, NULL) != 0
                || pthread_create(&t[2 * WORKERS + i], NULL, incrementer, NULL) != 0) {
            fail("pthread_create failed");
            return;
        }
    }
    for (int i = 0; i < 3 * WORKERS; i++) {
        pthread_join(t[i], NULL);
    }
    long n = (long)WORKERS * ITEMS_PER_PRODUCER;
    long want_sum = n * (n + 1) / 2;
    if (consumed_count != n || consumed_sum != want_sum) {
        fail("consumed %ld items summing to %ld, want %ld summing to %ld", consumed_count, consumed_sum, n, want_sum);
    } else if (counter != (long)WORKERS * INCREMENTS) {
        fail("counter is %ld, want %ld: the mutex let increments race", counter, (long)WORKERS * INCREMENTS);
    } else {
        ok("%ld items through a %d-slot queue, %ld locked increments", n, QUEUE, counter);
    }
}

/* ---- tls: __thread variables are per thread and start from their initial value. ---- */

static __thread long tls_value = 42;
static __thread char tls_block[4096] = "initial";

static void *tls_thread(void *arg) {
    intptr_t i = (intptr_t)arg;
    if (tls_value != 42 || strcmp(tls_block, "initial") != 0) {
        return (void *)1; /* not initialised from the TLS image */
    }
    tls_value = 1000 + i;
    snprintf(tls_block, sizeof tls_block, "thread %ld", (long)i);
    sched_yield();
    sleep_ms(5); /* let the others overwrite theirs */
    char want[32];
    snprintf(want, sizeof want, "thread %ld", (long)i);
    if (tls_value != 1000 + i || strcmp(tls_block, want) != 0) {
        return (void *)2; /* another thread's write reached this one's copy */
    }
    return (void *)&tls_value;
}

static void tls(void) {
    tls_value = 7;
    pthread_t t[4];
    for (intptr_t i = 0; i < 4; i++) {
        if (pthread_create(&t[i], NULL, tls_thread, (void *)i) != 0) {
            fail("pthread_create failed");
            return;
        }
    }
    void *addresses[4];
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], &addresses[i]);
        if (addresses[i] == (void *)1) {
            fail("thread %d did not start with the initial TLS values", i);
            return;
        }
        if (addresses[i] == (void *)2) {
            fail("thread %d's TLS was changed by another thread", i);
            return;
        }
        if (addresses[i] == (void *)&tls_value) {
            fail("thread %d's TLS is at the main thread's address %p", i, addresses[i]);
            return;
        }
    }
    if (tls_value != 7) {
        fail("the main thread's TLS value became %ld", tls_value);
        return;
    }
    ok("4 threads each kept their own __thread values");
}

/* ---- spin-wait: a thread that never makes a system call must not starve the others. ---- */

static atomic_int flag;

static void *setter(void *arg) {
    (void)arg;
    sleep_ms(20); /* the main thread is spinning by now */
    atomic_store(&flag, 1);
    return NULL;
}

static void spin_wait(void) {
    pthread_t t;
    if (pthread_create(&t, NULL, setter, NULL) != 0) {
        fail("pthread_create failed");
        return;
    }
    /* No system call in the loop (rdtsc does not trap), so only preemption lets the setter run. */
    uint64_t start = __rdtsc(), limit = 60ULL * 1000 * 1000 * 1000; /* ~20 s at 3 GHz */
    while (!atomic_load_explicit(&flag, memory_order_acquire)) {
        if (__rdtsc() - start > limit) {
            fail("the flag was never set: the spinning thread was never preempted");
            return;
        }
        _mm_pause();
    }
    pthread_join(t, NULL);
    ok("the setter ran while the main thread spun");
}

/* ---- robust-mutex: a robust mutex whose owner thread exits is handed over with EOWNERDEAD. ---- */

static pthread_mutex_t robust;

static void *die_holding(void *arg) {
    pthread_mutex_lock(&robust);
    if (arg != NULL) {
        sleep_ms(50); /* the main thread blocks on the mutex meanwhile */
    }
    pthread_exit(NULL); /* exits with the mutex held */
}

static void robust_mutex(void) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&robust, &a);
    pthread_t t;
    if (pthread_create(&t, NULL, die_holding, NULL) != 0) {
        fail("pthread_create failed");
        return;
    }
    pthread_join(t, NULL);
    int e = pthread_mutex_lock(&robust);
    if (e != EOWNERDEAD) {
        fail("locking after the owner died gave %s, want EOWNERDEAD", e == 0 ? "0" : strerror(e));
        return;
    }
    if ((e = pthread_mutex_consistent(&robust)) != 0) {
        fail("pthread_mutex_consistent: %s", strerror(e));
        return;
    }
    pthread_mutex_unlock(&robust);
    if ((e = pthread_mutex_lock(&robust)) != 0) {
        fail("locking the recovered mutex gave %s", strerror(e));
        return;
    }
    pthread_mutex_unlock(&robust);

    /* The owner dies while another thread is blocked on the mutex: that waiter is woken with it. */
    pthread_t owner;
    if (pthread_create(&owner, NULL, die_holding, (void *)1) != 0) {
        fail("pthread_create failed");
        return;
    }
    sleep_ms(10); /* the owner holds it by now: block on it until the owner's exit wakes us */
    e = pthread_mutex_lock(&robust);
    pthread_join(owner, NULL);
    if (e != EOWNERDEAD) {
        fail("a waiter blocked while the owner died got %s, want EOWNERDEAD", e == 0 ? "0" : strerror(e));
        return;
    }
    pthread_mutex_consistent(&robust);
    pthread_mutex_unlock(&robust);
    ok("EOWNERDEAD after the owner exited, and for a waiter blocked when it died");
}


/* ---- futex-ops: the operations beyond WAIT and WAKE that glibc, Go and Rust use. ---- */

static long futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *timeout, uint32_t *uaddr2,
                  uint32_t val3) {
    return syscall(SYS_futex, uaddr, op, val, timeout, uaddr2, val3);
}

static uint32_t word_a, word_b;
static atomic_int waiting;

static void *wait_on_a(void *arg) {
    (void)arg;
    atomic_fetch_add(&waiting, 1);
    long r = futex(&word_a, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    return (void *)r;
}

static int wait_for_waiters(int n) {
    for (int i = 0; i < 200 && atomic_load(&waiting) < n; i++) {
        sleep_ms(5);
    }
    sleep_ms(20); /* let the last one get from the counter into the kernel */
    return atomic_load(&waiting) == n;
}

/* ---- futex-attacks: requeues a hostile program aims at the host's futex queues. ---- */

static void futex_attacks(void) {
    pthread_t t;
    atomic_store(&waiting, 0);
    word_a = 0;
    pthread_create(&t, NULL, wait_on_a, NULL);
    if (!wait_for_waiters(1)) {
        fail("the waiter did not start");
        return;
    }
    /* A queue requeued onto itself, as many as INT_MAX: one waiter, moved where it is, at once. */
    long r = futex(&word_a, FUTEX_REQUEUE_PRIVATE, 0, (void *)0x7fffffffL, &word_a, 0);
    if (r != 1) {
        fail("FUTEX_REQUEUE onto the same word: %ld (%s), want 1", r, strerror(errno));
        return;
    }
    /* Kernel addresses as either word: EFAULT, and the waiter stays where it was. */
    unsigned *kernel = (unsigned *)0xffff800000001000UL;
    if (futex(&word_a, FUTEX_REQUEUE_PRIVATE, 0, (void *)1, kernel, 0) != -1 || errno != EFAULT) {
        fail("FUTEX_REQUEUE to a kernel address: %s, want EFAULT", strerror(errno));
        return;
    }
    if (futex(kernel, FUTEX_REQUEUE_PRIVATE, 0, (void *)1, &word_a, 0) != -1 || errno != EFAULT) {
        fail("FUTEX_REQUEUE from a kernel address: %s, want EFAULT", strerror(errno));
        return;
    }
    if (futex(kernel, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, &word_b, FUTEX_OP(FUTEX_OP_SET, 0, FUTEX_OP_CMP_EQ, 0))
            != -1 || errno != EFAULT) {
        fail("FUTEX_WAKE_OP on a kernel address: %s, want EFAULT", strerror(errno));
        return;
    }
    if ((r = futex(&word_a, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0)) != 1) {
        fail("FUTEX_WAKE after the attacks woke %ld, want the one waiter", r);
        return;
    }
    void *ret;
    pthread_join(t, &ret);
    ok("self-requeue of INT_MAX moved 1, kernel addresses EFAULT, the waiter woke");
}

static void futex_ops(void) {
    /* A value that changed: EAGAIN at once. */
    word_a = 1;
    if (futex(&word_a, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0) != -1 || errno != EAGAIN) {
        fail("FUTEX_WAIT on a changed value: %s, want EAGAIN", strerror(errno));
        return;
    }
    /* An absolute CLOCK_REALTIME deadline 50 ms away: ETIMEDOUT after it. */
    word_a = 0;
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_nsec += 50000000;
    if (at.tv_nsec >= 1000000000) {
        at.tv_sec++;
        at.tv_nsec -= 1000000000;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long r = futex(&word_a, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &at, NULL, FUTEX_BITSET_MATCH_ANY);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long waited = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    if (r != -1 || errno != ETIMEDOUT || waited < 40) {
        fail("FUTEX_WAIT_BITSET|CLOCK_REALTIME: %ld (%s) after %ld ms, want ETIMEDOUT after 50", r, strerror(errno),
             waited);
        return;
    }
    /* CMP_REQUEUE: wake one of three waiters, move the other two to word_b, wake them there. */
    pthread_t t[3];
    atomic_store(&waiting, 0);
    for (int i = 0; i < 3; i++) {
        pthread_create(&t[i], NULL, wait_on_a, NULL);
    }
    if (!wait_for_waiters(3)) {
        fail("the waiters did not start");
        return;
    }
    if (futex(&word_a, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)2, &word_b, 1) != -1 || errno != EAGAIN) {
        fail("FUTEX_CMP_REQUEUE with a stale value: %s, want EAGAIN", strerror(errno));
        return;
    }
    r = futex(&word_a, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)2, &word_b, 0);
    if (r != 3) {
        fail("FUTEX_CMP_REQUEUE woke and moved %ld, want 3", r);
        return;
    }
    if ((r = futex(&word_a, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0)) != 0) {
        fail("FUTEX_WAKE on the old word after the requeue woke %ld, want 0", r);
        return;
    }
    /* WAKE_OP: set word_b to 5, wake waiters on word_a (none) and, since the old value was 0, on word_b. */
    r = futex(&word_a, FUTEX_WAKE_OP_PRIVATE, 1, (void *)10, &word_b,
              FUTEX_OP(FUTEX_OP_SET, 5, FUTEX_OP_CMP_EQ, 0));
    if (r != 2 || word_b != 5) {
        fail("FUTEX_WAKE_OP woke %ld and left %u, want 2 and 5", r, word_b);
        return;
    }
    for (int i = 0; i < 3; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        if ((long)ret != 0) {
            fail("a woken waiter's FUTEX_WAIT returned %ld", (long)ret);
            return;
        }
    }
    /* WAKE_BITSET wakes only the waiters whose bitset it meets. */
    if (futex(&word_a, FUTEX_WAKE_BITSET_PRIVATE, 1, NULL, NULL, 0) != -1 || errno != EINVAL) {
        fail("FUTEX_WAKE_BITSET with bitset 0: %s, want EINVAL", strerror(errno));
        return;
    }
    ok("EAGAIN, CLOCK_REALTIME deadline after %ld ms, CMP_REQUEUE 1+2, WAKE_OP 2", waited);
}

/* ---- thread-exit: pthread_exit and return end a thread; the main thread may end first. ---- */

static void *exits_early(void *arg) {
    (void)arg;
    pthread_exit((void *)42);
}

static void *outlives_main(void *arg) {
    (void)arg;
    sleep_ms(50);
    printf("OK thread-exit: a thread outlived the main thread and ended the process with exit(0)\n");
    fflush(stdout);
    exit(0);
}

static void thread_exit(void) {
    pthread_t t;
    void *ret;
    pthread_create(&t, NULL, exits_early, NULL);
    pthread_join(t, &ret);
    if ((long)ret != 42) {
        fail("pthread_exit(42) joined as %ld", (long)ret);
        return;
    }
    pthread_create(&t, NULL, outlives_main, NULL);
    syscall(SYS_exit, 0); /* only the main thread ends */
}

/* ---- exit-group-from-thread: exit() in a second thread ends every thread with its status. ---- */

static void *exit_seven(void *arg) {
    (void)arg;
    printf("exiting exit-group-from-thread: status 7 from thread %d\n", tid());
    fflush(stdout);
    exit(7);
}

static void exit_group_from_thread(void) {
    pthread_t t;
    pthread_create(&t, NULL, exit_seven, NULL);
    for (;;) {
        pause();
    }
}

/* ---- thread-limit: thread creation fails with EAGAIN at the limit, and the process goes on. ---- */

static void *park_forever(void *arg) {
    (void)arg;
    for (;;) {
        pause();
    }
    return NULL;
}

static void thread_limit(void) {
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 64 * 1024);
    int created_count = 0, e = 0;
    pthread_t t;
    while (created_count < 4096 && (e = pthread_create(&t, &a, park_forever, NULL)) == 0) {
        created_count++;
    }
    if (e == 0) {
        ok("%d threads without reaching a limit", created_count); /* natively */
    } else if (e != EAGAIN) {
        fail("after %d threads pthread_create gave %s, want EAGAIN", created_count, strerror(e));
    } else if (created_count < 100) {
        fail("only %d threads before EAGAIN", created_count);
    } else {
        ok("%d threads, then EAGAIN", created_count);
    }
    fflush(stdout);
    _exit(failures == 0 ? 0 : 1);
}

/* ---- tgkill: a signal sent to one thread runs its handler on that thread. ---- */

static volatile pid_t handled_on;

static void note_tid(int signo) {
    (void)signo;
    handled_on = tid();
}

static pid_t target_tid;
static atomic_int target_ready;

static void *signal_target(void *arg) {
    (void)arg;
    target_tid = tid();
    atomic_store(&target_ready, 1);
    while (handled_on == 0) {
        sleep_ms(1);
    }
    return NULL;
}

static void tgkill_check(void) {
    signal(SIGUSR1, note_tid);
    pthread_t t;
    pthread_create(&t, NULL, signal_target, NULL);
    while (!atomic_load(&target_ready)) {
        sleep_ms(1);
    }
    if (syscall(SYS_tgkill, getpid(), target_tid, SIGUSR1) != 0) {
        fail("tgkill: %s", strerror(errno));
        return;
    }
    pthread_join(t, NULL);
    if (syscall(SYS_tgkill, getpid(), target_tid, SIGUSR1) != -1 || errno != ESRCH) {
        fail("tgkill to a thread that ended: %s, want ESRCH", strerror(errno));
    } else if (handled_on != target_tid) {
        fail("the handler ran on thread %d, want %d", handled_on, target_tid);
    } else {
        ok("the handler ran on the target thread %d; ESRCH once it ended", target_tid);
    }
}

/* ---- yield: two threads that hand a token back and forth with sched_yield. ---- */

static atomic_int token;

static void *ponger(void *arg) {
    (void)arg;
    for (int i = 0; i < 100; i++) {
        while (atomic_load(&token) != 2 * i + 1) {
            sched_yield();
        }
        atomic_store(&token, 2 * i + 2);
    }
    return NULL;
}

static void yield_check(void) {
    pthread_t t;
    pthread_create(&t, NULL, ponger, NULL);
    for (int i = 0; i < 100; i++) {
        while (atomic_load(&token) != 2 * i) {
            sched_yield();
        }
        atomic_store(&token, 2 * i + 1);
    }
    pthread_join(t, NULL);
    if (atomic_load(&token) != 200) {
        fail("token %d, want 200", atomic_load(&token));
    } else {
        ok("100 round trips through sched_yield");
    }
}

/* ---- no-new-processes: fork, vfork, posix_spawn and execve are refused; threads are not. ---- */

extern char **environ;

static void no_new_processes(void) {
    pid_t p = fork();
    if (p == 0) {
        _exit(0);
    }
    if (p != -1 || errno != EAGAIN) {
        fail("fork: %d (%s), want EAGAIN", p, strerror(errno));
        return;
    }
    char *argv[] = {"/bin/true", NULL};
    pid_t child;
    int e = posix_spawn(&child, "/bin/true", NULL, NULL, argv, environ);
    if (e == 0) {
        fail("posix_spawn started pid %d", child);
        return;
    }
    execve("/bin/true", argv, environ);
    if (errno != EACCES) {
        fail("execve: %s, want EACCES", strerror(errno));
        return;
    }
    ok("fork EAGAIN, posix_spawn %s, execve EACCES", strerror(e));
}

/* ---- epoll-edge: edge-triggered registrations report each edge once; another thread makes new ones. ---- */

static int edge_eventfd;

static void *write_eventfd_later(void *arg) {
    (void)arg;
    sleep_ms(50);
    uint64_t one = 1;
    if (write(edge_eventfd, &one, sizeof one) != sizeof one) {
        return (void *)1;
    }
    return NULL;
}

/* ---- epoll-mod-rearm: EPOLL_CTL_MOD of a ready edge-triggered fd reports it again (libuv re-arms so). ---- */

static void epoll_mod_rearm(void) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = sv[0]};
    epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev);
    if (write(sv[1], "x", 1) != 1) {
        fail("write: %s", strerror(errno));
        return;
    }
    struct epoll_event got[4];
    int n1 = epoll_wait(ep, got, 4, 1000);
    int n2 = epoll_wait(ep, got, 4, 0);
    if (n1 != 1 || n2 != 0) {
        fail("data arrived: %d events, then %d; want 1, then 0", n1, n2);
        return;
    }
    epoll_ctl(ep, EPOLL_CTL_MOD, sv[0], &ev);
    int n3 = epoll_wait(ep, got, 4, 0);
    if (n3 != 1 || !(got[0].events & EPOLLIN)) {
        fail("after EPOLL_CTL_MOD of the unread socket: %d events, want EPOLLIN again", n3);
        return;
    }
    ok("an unread edge-triggered socket is reported again after EPOLL_CTL_MOD");
}

static void epoll_edge(void) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.fd = sv[0]};
    epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev);
    struct epoll_event got[4];
    int n1 = epoll_wait(ep, got, 4, 0);
    int first = n1 == 1 ? (int)got[0].events : 0;
    int n2 = epoll_wait(ep, got, 4, 0);
    if (n1 != 1 || !(first & EPOLLOUT) || n2 != 0) {
        fail("a writable socket: %d events (%#x), then %d; want 1 with EPOLLOUT, then 0", n1, first, n2);
        return;
    }
    if (write(sv[1], "x", 1) != 1) {
        fail("write: %s", strerror(errno));
        return;
    }
    int n3 = epoll_wait(ep, got, 4, 1000);
    if (n3 != 1 || !(got[0].events & EPOLLIN)) {
        fail("data arrived: %d events, want EPOLLIN", n3);
        return;
    }
    edge_eventfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event wake = {.events = EPOLLIN | EPOLLET, .data.fd = edge_eventfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, edge_eventfd, &wake);
    uint64_t one = 1;
    if (write(edge_eventfd, &one, sizeof one) != sizeof one) {
        fail("write eventfd: %s", strerror(errno));
        return;
    }
    int n4 = epoll_wait(ep, got, 4, 1000);
    int n5 = epoll_wait(ep, got, 4, 0);
    if (n4 != 1 || got[0].data.fd != edge_eventfd || n5 != 0) {
        fail("eventfd written: %d events, then %d; want 1, then 0", n4, n5);
        return;
    }
    /* Still readable (nobody read it): only a new write is a new edge, and it must wake this wait. */
    pthread_t t;
    pthread_create(&t, NULL, write_eventfd_later, NULL);
    int n6 = epoll_wait(ep, got, 4, 5000);
    pthread_join(t, NULL);
    if (n6 != 1 || got[0].data.fd != edge_eventfd) {
        fail("a second write by another thread: %d events, want the eventfd's new edge", n6);
        return;
    }
    ok("each edge once: writable, data, eventfd writes (one from another thread during the wait)");
}

/* ---- epoll-late-add: a file added (through a dup of the epoll fd) while another thread waits wakes it. ---- */

static int late_epoll;
static int late_ready_first;
static int late_release[2];

static void *add_later(void *arg) {
    (void)arg;
    sleep_ms(50);
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    uint64_t one = 1;
    if (late_ready_first && write(efd, &one, sizeof one) != sizeof one) {
        return (void *)1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = efd};
    if (epoll_ctl(late_epoll, EPOLL_CTL_ADD, efd, &ev) != 0) {
        return (void *)1;
    }
    sleep_ms(50);
    if (!late_ready_first && write(efd, &one, sizeof one) != sizeof one) {
        return (void *)1;
    }
    /* Stays until the wait is over: its exit must not be what ends the wait. */
    char c;
    if (read(late_release[0], &c, 1) != 1) {
        return (void *)1;
    }
    return NULL;
}

static void epoll_late_add(void) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    late_epoll = fcntl(ep, F_DUPFD_CLOEXEC, 3); /* as tokio: its registrations go through a dup */
    int idle[2];
    pipe(idle); /* the wait's only file at first: never ready */
    struct epoll_event never = {.events = EPOLLIN, .data.fd = idle[0]};
    epoll_ctl(ep, EPOLL_CTL_ADD, idle[0], &never);
    pipe(late_release);
    for (late_ready_first = 0; late_ready_first <= 1; late_ready_first++) {
        pthread_t t;
        pthread_create(&t, NULL, add_later, NULL);
        struct epoll_event got[4];
        int n = epoll_wait(ep, got, 4, 5000);
        if (write(late_release[1], "x", 1) != 1) {
            fail("release: %s", strerror(errno));
            return;
        }
        void *rc;
        pthread_join(t, &rc);
        if (rc != NULL || n != 1 || !(got[0].events & EPOLLIN)) {
            fail("%s added while this thread waited: %d events, want 1",
                 late_ready_first ? "a ready eventfd" : "an eventfd written later", n);
            return;
        }
        epoll_ctl(ep, EPOLL_CTL_DEL, got[0].data.fd, NULL);
        close(got[0].data.fd);
    }
    ok("a wait in progress sees files another thread adds, ready or made ready later");
}

/* ---- never-serves: every thread waits, none for connections: a template that never freezes. ---- */

static pthread_mutex_t idle_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cond = PTHREAD_COND_INITIALIZER;

static void *wait_forever(void *arg) {
    (void)arg;
    pthread_mutex_lock(&idle_lock);
    for (;;) {
        pthread_cond_wait(&idle_cond, &idle_lock);
    }
    return NULL;
}

static void never_serves(void) {
    pthread_t t;
    pthread_create(&t, NULL, wait_forever, NULL);
    pthread_join(t, NULL);
}

/*
 * rseq-abort: two threads add to per-CPU counters in a restartable sequence (the tcmalloc and
 * librseq pattern, on glibc's registration of every thread): the section checks it still runs on
 * the CPU whose counter it loaded, spins a little between the load and the store, and commits
 * with the store. A preemption or signal inside must send the thread to the abort handler, which
 * retries; then no addition is lost. Natively the threads run on any CPUs; in the engine on one.
 */
#define RSEQ_ADDS 1000000
#define RSEQ_CPUS 1024

static struct {
    long value;
    char pad[56];
} rseq_counters[RSEQ_CPUS];
static atomic_long rseq_aborts;

static struct rseq *rseq_area(void) {
    return (struct rseq *) ((char *) __builtin_thread_pointer() + __rseq_offset);
}

/* One addition to this CPU's counter in a restartable sequence: 1 when it committed, 0 when aborted. */
static int rseq_add(struct rseq *rs) {
    int cpu = (int) __atomic_load_n(&rs->cpu_id_start, __ATOMIC_RELAXED);
    long *value = &rseq_counters[cpu % RSEQ_CPUS].value;
    __asm__ goto(
        ".pushsection __rseq_cs, \"aw\"\n"
        ".balign 32\n"
        "3: .long 0, 0\n"
        ".quad 1f, (2f - 1f), 4f\n"
        ".popsection\n"
        "leaq 3b(%%rip), %%rax\n"
        "movq %%rax, 8(%[rs])\n"
        "1: cmpl %[cpu], 4(%[rs])\n"
        "jnz 4f\n"
        "movq (%[value]), %%rbx\n"
        "movl $200, %%ecx\n"
        "5: decl %%ecx\n"
        "jnz 5b\n"
        "addq $1, %%rbx\n"
        "movq %%rbx, (%[value])\n"
        "2:\n"
        ".pushsection __rseq_failure, \"ax\"\n"
        ".long 0x53053053\n"
        "4: jmp %l[aborted]\n"
        ".popsection\n"
        :
        : [rs] "r"(rs), [cpu] "r"(cpu), [value] "r"(value)
        : "memory", "cc", "rax", "rbx", "rcx"
        : aborted);
    return 1;
aborted:
    atomic_fetch_add(&rseq_aborts, 1);
    return 0;
}

static void *rseq_adder(void *arg) {
    (void) arg;
    struct rseq *rs = rseq_area();
    for (long i = 0; i < RSEQ_ADDS;) {
        i += rseq_add(rs);
    }
    return NULL;
}

static long rseq_total(void) {
    long total = 0;
    for (int i = 0; i < RSEQ_CPUS; i++) {
        total += rseq_counters[i].value;
    }
    return total;
}

static volatile long rseq_handler_adds;

static void rseq_on_alarm(int sig) {
    (void) sig;
    while (!rseq_add(rseq_area())) {
    }
    rseq_handler_adds++;
}

/*
 * rseq-signal: one thread adds in restartable sequences while a 1 ms timer's handler adds too: a
 * signal delivered inside a section must send the thread to its abort handler on return, or it
 * stores a value loaded before the handler's addition.
 */
static void rseq_signal(void) {
    if (__rseq_size == 0) {
        fail("glibc registered no rseq area (__rseq_size 0)");
        return;
    }
    signal(SIGALRM, rseq_on_alarm);
    struct itimerval every = {{0, 1000}, {0, 1000}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &every, NULL);
    struct rseq *rs = rseq_area();
    for (long i = 0; i < RSEQ_ADDS;) {
        i += rseq_add(rs);
    }
    setitimer(ITIMER_REAL, &off, NULL);
    long expected = RSEQ_ADDS + rseq_handler_adds;
    if (rseq_total() != expected) {
        fail("total %ld, not %ld: additions were lost (aborts %ld)", rseq_total(), expected, (long) rseq_aborts);
        return;
    }
    ok("no addition lost, handlers %s, aborts %s", rseq_handler_adds > 0 ? "some" : "none",
       rseq_aborts > 0 ? "some" : "none");
}

static void rseq_abort(void) {
    if (__rseq_size == 0) {
        fail("glibc registered no rseq area (__rseq_size 0)");
        return;
    }
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        if (pthread_create(&t[i], NULL, rseq_adder, NULL) != 0) {
            fail("pthread_create failed");
            return;
        }
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
    }
    long total = rseq_total();
    if (total != 2L * RSEQ_ADDS) {
        fail("total %ld, not %ld: additions were lost (aborts %ld)", total, 2L * RSEQ_ADDS, (long) rseq_aborts);
        return;
    }
    ok("total %ld, aborts %s", total, rseq_aborts > 0 ? "some" : "none");
}

int main(int argc, char **argv) {
    static const struct check checks[] = {
        {"create-join", create_join},
        {"mutex-condvar", mutex_condvar},
        {"tls", tls},
        {"spin-wait", spin_wait},
        {"robust-mutex", robust_mutex},
        {"futex-ops", futex_ops},
        {"futex-attacks", futex_attacks},
        {"thread-exit", thread_exit},
        {"exit-group-from-thread", exit_group_from_thread},
        {"thread-limit", thread_limit},
        {"tgkill", tgkill_check},
        {"yield", yield_check},
        {"no-new-processes", no_new_processes},
        {"never-serves", never_serves},
        {"epoll-edge", epoll_edge},
        {"epoll-mod-rearm", epoll_mod_rearm},
        {"epoll-late-add", epoll_late_add},
        {"rseq-abort", rseq_abort},
        {"rseq-signal", rseq_signal},
    };
    return run_check(argc, argv, checks, sizeof checks / sizeof checks[0]);
}
