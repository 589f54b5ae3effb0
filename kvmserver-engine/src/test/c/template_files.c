/*
 * An HTTP server whose template leaves files open for its requests, for the tests of what a
 * request may change of them (TemplateFilesTest). Before it waits for connections it makes:
 *   tmp      a tmpfile() holding "template" (glibc creates and unlinks it in /tmp)
 *   scratch  DIR/scratch created, written "template" (offset left at 8) and unlinked
 *   log      DIR/log, O_RDWR, written "0123456789"
 *   alog     DIR/alog, O_RDWR | O_APPEND, written "abcdef"
 *   lock     DIR/lockfile, with flock(LOCK_EX) held
 * One request per connection. Paths:
 *   /deleted/write/S       writes S at offset 0 of tmp (pwrite) and of scratch (lseek, write)
 *   /deleted/read          "tmp=[..] scratch=[..] off=N links=N size=N" (scratch's offset, links, size)
 *   /deleted/hold/S/MS     writes S as /deleted/write does, sleeps MS ms, answers /deleted/read's answer
 *   /deleted/grow/MB       pwrite of one byte at MB MiB into scratch: "grow=R errno=E"
 *   /append/S[/MS]         F_SETFL O_APPEND on log, writes S (then sleeps MS ms and writes S
 *                          again): "w=N off=N file=[..]"
 *   /newappend/S           opens DIR/log2 (O_CREAT), F_SETFL O_APPEND, writes S, pwrite "P" at 0:
 *                          "off=N file=[..]"
 *   /unappend/S            clears O_APPEND on alog, lseek 0, writes S: "off=N file=[..]"
 *   /lock                  flock(LOCK_EX|LOCK_NB) on the template's lock fd, then on a new
 *                          description of DIR/lockfile, then LOCK_UN and LOCK_EX|LOCK_NB on the
 *                          template's: "inherited=R/E other=R/E again=R/E"
 *   /pipe2                 "direct=R/E directory=R/E"
 * Usage: template_files PORT DIR
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http_request.h"

static int tmpfd, scratchfd, logfd, alogfd, lockfd;
static char dir[512];

static void in_dir(char *out, size_t size, const char *name) { snprintf(out, size, "%s/%s", dir, name); }

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static int file_text(int fd, char *out, size_t size) {
    long r = pread(fd, out, size - 1, 0);
    out[r > 0 ? r : 0] = 0;
    return (int) r;
}

static void deleted_write(const char *s) {
    pwrite(tmpfd, s, strlen(s), 0);
    lseek(scratchfd, 0, SEEK_SET);
    write(scratchfd, s, strlen(s));
}

static int deleted_read(char *out, size_t size) {
    char a[128], b[128];
    file_text(tmpfd, a, sizeof a);
    file_text(scratchfd, b, sizeof b);
    struct stat st;
    fstat(scratchfd, &st);
    return snprintf(out, size, "tmp=[%s] scratch=[%s] off=%ld links=%ld size=%ld", a, b,
                    (long) lseek(scratchfd, 0, SEEK_CUR), (long) st.st_nlink, (long) st.st_size);
}

static int handle(const char *path, char *out, size_t size) {
    char arg[256] = {0}, text[256];
    long ms = 0;
    if (sscanf(path, "/deleted/write/%255s", arg) == 1) {
        deleted_write(arg);
        return snprintf(out, size, "wrote");
    }
    if (!strcmp(path, "/deleted/read")) {
        return deleted_read(out, size);
    }
    if (sscanf(path, "/deleted/hold/%255[^/]/%ld", arg, &ms) == 2) {
        deleted_write(arg);
        sleep_ms(ms);
        return deleted_read(out, size);
    }
    if (sscanf(path, "/deleted/grow/%ld", &ms) == 1) {
        long r = pwrite(scratchfd, "x", 1, ms << 20);
        return snprintf(out, size, "grow=%ld errno=%d", r, r < 0 ? errno : 0);
    }
    if (sscanf(path, "/append/%255[^/]/%ld", arg, &ms) >= 1) {
        fcntl(logfd, F_SETFL, fcntl(logfd, F_GETFL) | O_APPEND);
        long w = write(logfd, arg, strlen(arg));
        if (ms > 0) {
            sleep_ms(ms);
            w += write(logfd, arg, strlen(arg));
        }
        file_text(logfd, text, sizeof text);
        return snprintf(out, size, "w=%ld off=%ld file=[%s]", w, (long) lseek(logfd, 0, SEEK_CUR), text);
    }
    if (sscanf(path, "/newappend/%255s", arg) == 1) {
        char p[600];
        in_dir(p, sizeof p, "log2");
        int fd = open(p, O_RDWR | O_CREAT, 0644);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_APPEND);
        write(fd, arg, strlen(arg));
        pwrite(fd, "P", 1, 0);
        file_text(fd, text, sizeof text);
        int n = snprintf(out, size, "off=%ld file=[%s]", (long) lseek(fd, 0, SEEK_CUR), text);
        close(fd);
        return n;
    }
    if (sscanf(path, "/unappend/%255s", arg) == 1) {
        fcntl(alogfd, F_SETFL, fcntl(alogfd, F_GETFL) & ~O_APPEND);
        lseek(alogfd, 0, SEEK_SET);
        write(alogfd, arg, strlen(arg));
        file_text(alogfd, text, sizeof text);
        return snprintf(out, size, "off=%ld file=[%s]", (long) lseek(alogfd, 0, SEEK_CUR), text);
    }
    if (!strcmp(path, "/lock")) {
        int r1 = flock(lockfd, LOCK_EX | LOCK_NB), e1 = r1 ? errno : 0;
        char p[600];
        in_dir(p, sizeof p, "lockfile");
        int other = open(p, O_RDWR);
        int r2 = flock(other, LOCK_EX | LOCK_NB), e2 = r2 ? errno : 0;
        close(other);
        flock(lockfd, LOCK_UN);
        int r3 = flock(lockfd, LOCK_EX | LOCK_NB), e3 = r3 ? errno : 0;
        return snprintf(out, size, "inherited=%d/%d other=%d/%d again=%d/%d", r1, e1, r2, e2, r3, e3);
    }
    if (!strcmp(path, "/pipe2")) {
        int p[2];
        int a = pipe2(p, O_DIRECT), ea = a ? errno : 0;
        int b = pipe2(p, O_DIRECTORY), eb = b ? errno : 0;
        return snprintf(out, size, "direct=%d/%d directory=%d/%d", a, ea, b, eb);
    }
    return snprintf(out, size, "unknown %s", path);
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    snprintf(dir, sizeof dir, "%s", argv[2]);
    char p[600];
    FILE *tf = tmpfile();
    if (!tf) { perror("tmpfile"); return 1; }
    tmpfd = fileno(tf);
    pwrite(tmpfd, "template", 8, 0);
    in_dir(p, sizeof p, "scratch");
    scratchfd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
    write(scratchfd, "template", 8);
    unlink(p);
    in_dir(p, sizeof p, "log");
    logfd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(logfd, "0123456789", 10);
    in_dir(p, sizeof p, "alog");
    alogfd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0644);
    write(alogfd, "abcdef", 6);
    in_dir(p, sizeof p, "lockfile");
    lockfd = open(p, O_RDWR | O_CREAT, 0644);
    if (tmpfd < 0 || scratchfd < 0 || logfd < 0 || alogfd < 0 || lockfd < 0 || flock(lockfd, LOCK_EX)) {
        perror("setup");
        return 1;
    }
    int listener = listen_on_loopback(atoi(argv[1]));
    if (listener < 0) { perror("listen"); return 1; }
    int ep = epoll_watching_listener(listener);
    for (;;) {
        int c = accept_when_reported(ep, listener);
        if (c < 0) continue;
        char path[512], out[1024];
        read_request_path(c, path, sizeof path);
        int n = handle(path, out, sizeof out);
        write_response(c, out, n);
        close(c);
    }
}
