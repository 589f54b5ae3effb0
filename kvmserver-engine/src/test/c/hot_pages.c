/*
 * A server whose requests rewrite the same pages, for the hot-page tests: after two such requests
 * the engine keeps those pages writable (no dirty-tracking fault) and restores them at every
 * reset instead. One request per connection, blocking accept. Paths:
 *   /write/V   writes byte V at four places in each of the PAGES pages of a static array
 *   /same      writes into every page and puts the old bytes back (written, left as they were)
 *   /rest      touches none of them
 *   /check     answers "pristine" if every page holds the template's bytes, else the first page
 *              and byte that differ
 *   /mark/V    writes V into the first page only
 *   /dirty/N   writes into N pages of another array (at most 2048), none of them hot before
 * Usage: hot_pages PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PAGES 64
#define PAGE 4096

static unsigned char pages[PAGES][PAGE] __attribute__((aligned(PAGE)));
static unsigned char spare[2048][PAGE] __attribute__((aligned(PAGE)));

static void respond(int fd, const char *body) {
    char buf[512];
    int n = snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     strlen(body), body);
    write(fd, buf, n);
}

static void write_all(unsigned char v) {
    for (int p = 0; p < PAGES; p++) {
        for (int at = 0; at < PAGE; at += PAGE / 4) pages[p][at + p % 7] = v;
    }
}

static void check(char *body, size_t size) {
    for (int p = 0; p < PAGES; p++) {
        for (int at = 0; at < PAGE; at++) {
            unsigned char want = (unsigned char) (p * 31 + at);
            if (pages[p][at] != want) {
                snprintf(body, size, "page %d byte %d is %d", p, at, pages[p][at]);
                return;
            }
        }
    }
    snprintf(body, size, "pristine");
}

static void handle(int fd) {
    char req[1024];
    int got = read(fd, req, sizeof req - 1);
    req[got > 0 ? got : 0] = 0;
    char path[128] = "/";
    sscanf(req, "GET %127s", path);
    char body[128] = "ok";
    if (!strncmp(path, "/write/", 7)) {
        write_all((unsigned char) atoi(path + 7));
    } else if (!strcmp(path, "/same")) {
        for (int p = 0; p < PAGES; p++) {
            volatile unsigned char *b = &pages[p][PAGE / 2];
            unsigned char old = *b;
            *b = old + 1;
            *b = old;
        }
    } else if (!strncmp(path, "/mark/", 6)) {
        pages[0][0] = (unsigned char) atoi(path + 6);
    } else if (!strncmp(path, "/dirty/", 7)) {
        int n = atoi(path + 7);
        for (int p = 0; p < n && p < 2048; p++) ((volatile unsigned char *) spare[p])[p % PAGE] = 1;
    } else if (!strcmp(path, "/check")) {
        check(body, sizeof body);
    }
    respond(fd, body);
}

int main(int argc, char **argv) {
    for (int p = 0; p < PAGES; p++) {
        for (int at = 0; at < PAGE; at++) pages[p][at] = (unsigned char) (p * 31 + at);
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(argc > 1 ? atoi(argv[1]) : 8000)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *) &addr, sizeof addr) < 0 || listen(ls, 64) < 0) {
        perror("bind/listen");
        return 1;
    }
    for (;;) {
        int conn = accept(ls, NULL, NULL);
        if (conn < 0) continue;
        handle(conn);
        close(conn);
    }
}
