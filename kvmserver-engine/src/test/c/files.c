/*
 * File access probes, one action per argument:
 *   read:PATH     open for reading, print "PATH read <content>" or "PATH read errno=<NAME>"
 *   write:PATH    open O_WRONLY|O_CREAT|O_TRUNC and write "written", print "ok" or the errno
 *   symlink:TARGET=LINK  symlink(TARGET, LINK), print the result, then try to read LINK
 *   stat:PATH     stat(), print "ok" or the errno
 *   rmdir:PATH    rmdir(), print "ok" or the errno
 *   rename:FROM=TO  rename(), print "ok" or the errno
 * Errors are printed by name (strerrorname_np) so that tests compare exact errnos.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void do_read(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("%s read errno=%s\n", path, strerrorname_np(errno));
        return;
    }
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n < 0) {
        printf("%s read errno=%s\n", path, strerrorname_np(errno));
    } else {
        buf[n] = 0;
        while (n > 0 && buf[n - 1] == '\n') buf[--n] = 0;
        printf("%s read %s\n", path, buf);
    }
    close(fd);
}

static void do_write(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        printf("%s write errno=%s\n", path, strerrorname_np(errno));
        return;
    }
    ssize_t n = write(fd, "written", 7);
    printf("%s write %s\n", path, n == 7 ? "ok" : strerrorname_np(errno));
    close(fd);
}

static void do_symlink(char *spec) {
    char *eq = strchr(spec, '=');
    if (!eq) return;
    *eq = 0;
    const char *target = spec, *link = eq + 1;
    int r = symlink(target, link);
    printf("symlink %s -> %s %s\n", link, target, r == 0 ? "created" : strerrorname_np(errno));
    do_read(link);
}

static void do_stat(const char *path) {
    struct stat st;
    printf("%s stat %s\n", path, stat(path, &st) == 0 ? "ok" : strerrorname_np(errno));
}

static void do_rmdir(const char *path) {
    printf("%s rmdir %s\n", path, rmdir(path) == 0 ? "ok" : strerrorname_np(errno));
}

static void do_rename(char *spec) {
    char *to = strchr(spec, '=');
    if (to == NULL) return;
    *to++ = 0;
    printf("%s rename %s\n", spec, rename(spec, to) == 0 ? "ok" : strerrorname_np(errno));
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        if (!strncmp(arg, "read:", 5)) do_read(arg + 5);
        else if (!strncmp(arg, "write:", 6)) do_write(arg + 6);
        else if (!strncmp(arg, "symlink:", 8)) do_symlink(arg + 8);
        else if (!strncmp(arg, "stat:", 5)) do_stat(arg + 5);
        else if (!strncmp(arg, "rmdir:", 6)) do_rmdir(arg + 6);
        else if (!strncmp(arg, "rename:", 7)) do_rename(arg + 7);
        else { printf("unknown action %s\n", arg); return 2; }
    }
    return 0;
}
