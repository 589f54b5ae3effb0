/*
 * Kernel features threaded programs need (issue 10), one check per run:
 *
 *   threads create-join | mutex-condvar | tls | spin-wait | robust-mutex
 *
 * Each check prints "OK <check>: ..." or "FAIL <check>: ..." and exits 0 only if it passed.
 * A check that hangs is a failure too: the test that runs it has a deadline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
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

int main(int argc, char **argv) {
    static const struct check checks[] = {
        {"create-join", create_join},
        {"mutex-condvar", mutex_condvar},
        {"tls", tls},
        {"spin-wait", spin_wait},
        {"robust-mutex", robust_mutex},
    };
    return run_check(argc, argv, checks, sizeof checks / sizeof checks[0]);
}
