/*
 * A server that attacks the PVM syscall entry's trust in the program, for SyscallEntryAttackTest.
 * Usage: hostile_entry PORT DONE SLOW, the guest addresses of the entry's `done` (where every
 * call it answers returns through) and `slow` (its doorbell). The client's address says what a
 * connection does, before anything reads its request:
 *   127.0.0.1  rings the doorbell itself for a read that takes the whole request, with RCX (where
 *              the host returns to) at `done`, inside the entry; then makes one-byte reads of the
 *              connection, now non-blocking, with `syscall`. On Linux every one is EAGAIN: the
 *              request was read. Answers "reread=N" (N of 16 reads that gave a byte) and, after a
 *              first host call that returned there, the same for a getppid.
 *   127.0.0.2  passes the engine's pages below 0x10000 (the queue page 0xc000, writable at CPL 3
 *              on PVM, and the doorbell page 0xa000) as buffers to the calls the entry answers in
 *              the guest: getsockname, getpeername, writev and read of the connection, the value
 *              of setsockopt and ioctl(FIONBIO), the event of epoll_ctl ADD. Answers
 *              each result; on Linux, where nothing is mapped there, every one is -14 (EFAULT).
 * Every call is a raw `syscall`, so that no C library code stands between the program and the
 * entry.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "http_request.h"

#define QUEUE_PAGE 0xc000UL
#define DOORBELL_PAGE 0xa000UL
/* The entry's save area on the queue page, which `done` and `slow` read. */
#define SAVED_RCX (QUEUE_PAGE + 24)
#define SAVED_RSI (QUEUE_PAGE + 32)
#define SAVED_RDI (QUEUE_PAGE + 40)
/* The answer page's count of bytes read ahead from the connection. */
#define READ_LENGTH 0xb014UL

static unsigned long done_address, slow_address;

static long call(long n, long a, long b, long c) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

/* A host call made at the entry's doorbell, as the entry makes one, but returning into the entry. */
static long call_returning_into_entry(long n, long a, long b, long c) {
    long r;
    __asm__ volatile(
        "lea 1f(%%rip), %%rcx\n\t"
        "mov %%rcx, (%[rcx_slot])\n\t"      /* where `done` goes on to: here */
        "mov %%rsi, (%[rsi_slot])\n\t"
        "mov %%rdi, (%[rdi_slot])\n\t"
        "mov %[done], %%rcx\n\t"            /* where the host returns to: inside the entry */
        "mov $0x202, %%r11d\n\t"
        "push %[slow]\n\t"
        "ret\n"
        "1:\n\t"
        : "=a"(r)
        : "a"(n), "D"(a), "S"(b), "d"(c), [rcx_slot] "r"(SAVED_RCX), [rsi_slot] "r"(SAVED_RSI),
          [rdi_slot] "r"(SAVED_RDI), [done] "r"(done_address), [slow] "r"(slow_address)
        : "rcx", "r11", "memory");
    return r;
}

static long call6(long n, long a, long b, long c, long d, long e) {
    long r;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
    return r;
}

static int epoll_fd = -1;

static int reread(int fd) {
    int got = 0;
    for (int i = 0; i < 16; i++) {
        char b;
        if (call(SYS_read, fd, (long) &b, 1) == 1) got++;
    }
    return got;
}

static void stale_page(int fd, char *body, size_t size) {
    /* The host publishes the bytes it read ahead; wait for them (each yield is a host call). */
    for (int i = 0; i < 1000 && *(volatile int *) READ_LENGTH <= 0; i++) call(SYS_sched_yield, 0, 0, 0);
    static char request[8192];
    long taken = call_returning_into_entry(SYS_read, fd, (long) request, sizeof request);
    call(SYS_fcntl, fd, F_SETFL, O_RDWR | O_NONBLOCK);
    int first = reread(fd);
    call_returning_into_entry(SYS_getppid, 0, 0, 0);
    int second = reread(fd);
    snprintf(body, size, "taken=%s reread=%d,%d", taken > 0 ? "yes" : "no", first, second);
}

static void low_buffers(int fd, char *body, size_t size) {
    int length = 16;
    struct sockaddr_in name;
    struct iovec low_base = {.iov_base = (void *) (QUEUE_PAGE + 0xf00), .iov_len = 8};
    long r[11];
    r[0] = call(SYS_getsockname, fd, QUEUE_PAGE + 0xf00, (long) &length);
    r[1] = call(SYS_getsockname, fd, (long) &name, QUEUE_PAGE + 0xf80);
    r[2] = call(SYS_getsockname, fd, DOORBELL_PAGE, (long) &length);
    r[3] = call(SYS_getpeername, fd, QUEUE_PAGE + 0xf00, (long) &length);
    r[4] = call(SYS_writev, fd, (long) &low_base, 1);
    r[5] = call(SYS_writev, fd, QUEUE_PAGE + 0xf00, 1);
    r[6] = call(SYS_read, fd, QUEUE_PAGE + 0xf00, 8);
    r[7] = call(SYS_read, fd, DOORBELL_PAGE, 8);
    r[8] = call6(SYS_setsockopt, fd, SOL_SOCKET, SO_KEEPALIVE, DOORBELL_PAGE, 4);
    r[9] = call(SYS_ioctl, fd, FIONBIO, DOORBELL_PAGE);
    r[10] = call6(SYS_epoll_ctl, epoll_fd, EPOLL_CTL_ADD, fd, DOORBELL_PAGE, 0);
    static char request[8192];
    call(SYS_read, fd, (long) request, sizeof request); /* closing with it unread would reset the connection */
    snprintf(body, size, "getsockname=%ld,%ld,%ld getpeername=%ld writev=%ld,%ld read=%ld,%ld setsockopt=%ld ioctl=%ld"
             " epoll_ctl=%ld", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10]);
}

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    done_address = strtoul(argv[2], NULL, 0);
    slow_address = strtoul(argv[3], NULL, 0);
    signal(SIGPIPE, SIG_IGN);
    int listener = listen_on_loopback(atoi(argv[1]));
    if (listener < 0) return 1;
    int ep = epoll_watching_listener(listener);
    epoll_fd = ep;
    for (;;) {
        int client;
        int fd = accept_from_client(ep, listener, &client);
        if (fd < 0) continue;
        char body[256];
        if (client == 1) {
            stale_page(fd, body, sizeof body);
        } else {
            low_buffers(fd, body, sizeof body);
        }
        call(SYS_fcntl, fd, F_SETFL, O_RDWR);
        write_response(fd, body, strlen(body));
        close(fd);
    }
}
