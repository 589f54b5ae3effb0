/*
 * Reads memory nobody wrote, as much as it likes: GET /fresh/N maps 256 MiB read-only at
 * (16 + N) GiB (a new address each request) and reads a byte of every page; GET /template reads
 * every page of 256 MiB the program mapped read-write at start and never touched. Answers the
 * sum of the bytes read ("sum=0": untouched memory reads as zeros). On Linux such reads map the
 * zero page and cost no memory. GET /filemap maps 1 GiB of its own executable (a map size far
 * beyond the file, as LMDB makes) and answers its first byte ("first=127": ELF's magic).
 * MOVE_RESERVATION=1: at start, map 4 GiB PROT_NONE, block the space above it, and grow it with
 * mremap(MREMAP_MAYMOVE) (a runtime moving its reservation: Linux moves page tables, no memory).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http_request.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define SIZE (256UL << 20)

static long sum_pages(const volatile unsigned char *p, unsigned long size) {
    long sum = 0;
    for (unsigned long at = 0; at < size; at += 4096) {
        sum += p[at];
    }
    return sum;
}

int main(int argc, char **argv) {
    if (getenv("MOVE_RESERVATION")) {
        char *r = mmap(NULL, 4UL << 30, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        void *above = mmap(r + (4UL << 30), 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        void *moved = mremap(r, 4UL << 30, (4UL << 30) + (1UL << 20), MREMAP_MAYMOVE);
        if (r == MAP_FAILED || above == MAP_FAILED || moved == MAP_FAILED || moved == r) {
            printf("reservation not moved\n");
            return 1;
        }
    }
    int listener = listen_on_loopback(atoi(argv[1]));
    unsigned char *untouched = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int ep = epoll_watching_listener(listener);
    for (;;) {
        int fd = accept_when_reported(ep, listener);
        if (fd < 0) continue;
        char path[64], body[64];
        read_request_path(fd, path, sizeof path);
        int n = 0;
        long sum = -1;
        if (sscanf(path, "/fresh/%d", &n) == 1) {
            void *at = (void *) ((16UL + (unsigned long) n) << 30);
            void *p = mmap(at, SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
            sum = p == MAP_FAILED ? -2 : sum_pages(p, SIZE);
        } else if (strcmp(path, "/filemap") == 0) {
            int exe = open("/proc/self/exe", O_RDONLY);
            unsigned char *p = mmap(NULL, 1UL << 30, PROT_READ, MAP_SHARED, exe, 0);
            sum = p == MAP_FAILED ? -2 : p[0];
            if (p != MAP_FAILED) munmap(p, 1UL << 30);
            close(exe);
            snprintf(body, sizeof body, "first=%ld", sum);
            write_response(fd, body, strlen(body));
            close(fd);
            continue;
        } else if (strcmp(path, "/template") == 0) {
            sum = untouched == MAP_FAILED ? -2 : sum_pages(untouched, SIZE);
        }
        snprintf(body, sizeof body, "sum=%ld", sum);
        write_response(fd, body, strlen(body));
        close(fd);
    }
}
