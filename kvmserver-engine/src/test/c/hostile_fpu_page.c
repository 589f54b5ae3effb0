/*
 * A server that jumps into the engine's FPU restore page (guest 0x7000, below mmap_min_addr, where
 * on PVM a request VM's first entry after a reset loads the template's FPU state), for
 * FpuRestorePageTest. The client's address says what a connection does, so that the jump can be
 * the program's first exit after the reset (on PVM the accept is answered in the guest):
 *   127.0.0.1  "/log": a line to stdout, then the answer "logged" (any other path: "served")
 *   127.0.0.2  jumps to 0x7001 at once: the middle of the restore's first instruction
 *   127.0.0.3  jumps to 0x7000 at once: the restore again, while the host's is still due
 *   127.0.0.4  makes a call the host answers, then jumps to 0x7000: no restore is due
 *   127.0.0.5  jumps to 0x7800: the rest of the page
 *   127.0.0.6  makes a call the host answers, then single-steps (TF) into 0x7000
 * Handlers for SIGSEGV, SIGILL, SIGTRAP and SIGBUS answer "handled": the engine ends the program
 * without them, as for its doorbell page (on Linux, where nothing is mapped there, a handler for
 * SIGSEGV would run).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_request.h"

static volatile int connection = -1;

static void handled(int sig) {
    (void) sig;
    static const char body[] = "handled";
    if (connection >= 0) write_response(connection, body, sizeof body - 1);
    _exit(3);
}

static void jump(unsigned long to) {
    ((void (*)(void)) to)();
}

static void step_into(unsigned long to) {
    __asm__ volatile("pushfq; orq $0x100, (%%rsp); popfq; jmp *%0" : : "r"(to) : "memory");
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = handled};
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    sigaction(SIGTRAP, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    int listener = listen_on_loopback(atoi(argv[1]));
    if (listener < 0) return 1;
    int ep = epoll_watching_listener(listener);
    for (;;) {
        int client;
        int fd = accept_from_client(ep, listener, &client);
        if (fd < 0) continue;
        connection = fd;
        switch (client) {
        case 2: jump(0x7001); break;
        case 3: jump(0x7000); break;
        case 4: getppid(); jump(0x7000); break;
        case 5: jump(0x7800); break;
        case 6: getppid(); step_into(0x7000); break;
        }
        char path[64];
        read_request_path(fd, path, sizeof path);
        if (!strcmp(path, "/log")) {
            static const char line[] = "a line of the program's log\n";
            write(1, line, sizeof line - 1);
            write_response(fd, "logged", 6);
        } else {
            write_response(fd, "served", 6);
        }
        close(fd);
    }
}
