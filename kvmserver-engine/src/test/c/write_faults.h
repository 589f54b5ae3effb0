/*
 * What the test servers that probe their own memory share: whether a write to (or a read of) an
 * address raises SIGSEGV, caught by a handler that jumps back (install_segv_catcher first).
 */
#ifndef KVMSERVER_TEST_WRITE_FAULTS_H
#define KVMSERVER_TEST_WRITE_FAULTS_H

#include <setjmp.h>
#include <signal.h>

static sigjmp_buf on_segv;

static void segv(int sig) {
    (void) sig;
    siglongjmp(on_segv, 1);
}

/* Catches SIGSEGV for write_faults. */
static inline void install_segv_catcher(void) {
    struct sigaction sa = {.sa_handler = segv};
    sigaction(SIGSEGV, &sa, NULL);
}

/* Whether a write to p raises SIGSEGV. */
static inline int write_faults(volatile char *p) {
    if (sigsetjmp(on_segv, 1)) {
        return 1;
    }
    *p = 1;
    return 0;
}

/* Whether a read of p raises SIGSEGV. */
static inline int read_faults(volatile char *p) {
    if (sigsetjmp(on_segv, 1)) {
        return 1;
    }
    (void) *p;
    return 0;
}

#endif
