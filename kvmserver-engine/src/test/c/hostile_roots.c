/*
 * Tries to take away the trees the operator grants, for EscapeTest: argv[1] and argv[2] are two
 * writable trees (allow-write roots, or the guest paths of two writable volumes), empty; argv[3]
 * is a writable file granted on its own, or "-". Prints one "name=result" pair per attempt (0 or
 * the errno):
 *   rmdir   rmdir(argv[1]): would remove the host directory every later request is granted
 *   rename  rename(argv[1], argv[2]/moved): would move it into the other tree
 *   mkdir   mkdir(argv[1]) after both: a mount point exists (would write an entry in its parent,
 *           which no grant covers, if the directory were gone)
 *   unlink  unlink(argv[3])
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int result(long rc) {
    return rc < 0 ? errno : 0;
}

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    char moved[512];
    snprintf(moved, sizeof moved, "%s/moved", argv[2]);
    printf("rmdir=%d", result(rmdir(argv[1])));
    printf(" rename=%d", result(rename(argv[1], moved)));
    printf(" mkdir=%d", result(mkdir(argv[1], 0777)));
    if (strcmp(argv[3], "-") != 0) printf(" unlink=%d", result(unlink(argv[3])));
    printf("\n");
    return 0;
}
