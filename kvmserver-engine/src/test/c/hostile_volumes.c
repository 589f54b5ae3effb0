/*
 * Tries to write a read-only volume nested in a writable one, for EscapeTest: the writable
 * volume is at argv[1] (/app) and the read-only one at argv[1]/etc/secrets, whose key.txt the
 * test wrote; on the host the read-only volume's directory is inside the writable one's. Prints
 * one "name=result" pair per attempt (0 or the errno):
 *   open-write      open(etc/secrets/key.txt, O_RDWR): the read-only volume refuses
 *   rename-parent   rename(etc, etc2): would move the read-only volume's files to where only the
 *                   writable grant covers them (on Linux the mount would move with its parent)
 *   exchange-parent renameat2(other, etc, RENAME_EXCHANGE): the same, by exchange
 *   moved-write     open(etc2/secrets/key.txt, O_WRONLY) after the renames: ENOENT if they failed
 *   fchmod          fchmod of key.txt opened read-only through the read-only volume
 *   futimens        futimens of it to the epoch
 * then "key=CONTENT" as key.txt reads after all of it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int result(long rc) {
    return rc < 0 ? errno : 0;
}

int main(int argc, char **argv) {
    const char *root = argc > 1 ? argv[1] : "/app";
    char etc[256], etc2[256], other[256], key[256], moved[256];
    snprintf(etc, sizeof etc, "%s/etc", root);
    snprintf(etc2, sizeof etc2, "%s/etc2", root);
    snprintf(other, sizeof other, "%s/other", root);
    snprintf(key, sizeof key, "%s/etc/secrets/key.txt", root);
    snprintf(moved, sizeof moved, "%s/etc2/secrets/key.txt", root);
    int fd = open(key, O_RDWR);
    printf("open-write=%d", result(fd));
    if (fd >= 0) close(fd);
    printf(" rename-parent=%d", result(rename(etc, etc2)));
    mkdir(other, 0755);
    printf(" exchange-parent=%d", result(syscall(SYS_renameat2, AT_FDCWD, other, AT_FDCWD, etc, 2 /* RENAME_EXCHANGE */)));
    fd = open(moved, O_WRONLY | O_TRUNC);
    printf(" moved-write=%d", result(fd));
    if (fd >= 0) {
        write(fd, "PWNED", 5);
        close(fd);
    }
    /* Undo whatever moved, so that the last read sees the file where it was. */
    if (access(etc2, F_OK) == 0) rename(etc2, etc);
    fd = open(key, O_RDONLY);
    printf(" fchmod=%d", result(fchmod(fd, 0666)));
    struct timespec epoch[2] = {{0, 0}, {0, 0}};
    printf(" futimens=%d", result(futimens(fd, epoch)));
    char content[64] = {0};
    pread(fd, content, sizeof content - 1, 0);
    printf(" key=%s\n", content);
    return 0;
}
