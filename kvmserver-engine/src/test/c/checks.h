/*
 * One named check per run, for the kernel-feature fixtures (threads.c, signals.c): a check reports
 * "OK <check>: ..." or "FAIL <check>: ..." on stdout, and the program exits 0 only if none failed.
 */
#ifndef KVMSERVER_CHECKS_H
#define KVMSERVER_CHECKS_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct check {
    const char *name;
    void (*run)(void);
};

static const char *check;
static int failures;

static void report(const char *verdict, const char *fmt, va_list ap) {
    printf("%s %s: ", verdict, check);
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
}

static void ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ok(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    report("OK", fmt, ap);
    va_end(ap);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    report("FAIL", fmt, ap);
    va_end(ap);
    failures++;
}

/* Runs the check argv[1] names; 2 for a bad command line. */
static int run_check(int argc, char **argv, const struct check *checks, size_t count) {
    if (argc == 2) {
        for (size_t i = 0; i < count; i++) {
            if (strcmp(argv[1], checks[i].name) == 0) {
                check = checks[i].name;
                checks[i].run();
                return failures == 0 ? 0 : 1;
            }
        }
    }
    fprintf(stderr, "usage: %s CHECK, one of:", argv[0]);
    for (size_t i = 0; i < count; i++) {
        fprintf(stderr, " %s", checks[i].name);
    }
    fputc('\n', stderr);
    return 2;
}

#endif
