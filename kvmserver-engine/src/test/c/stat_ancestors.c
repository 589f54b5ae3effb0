/*
 * Looks at paths as a runtime resolving its script's real path does, for LinuxBehaviourTest: for each
 * argument, "lstat=R dir=D open=R" (0 or the errno; D is 1 for a directory), where open is an
 * O_RDONLY | O_DIRECTORY open (a listing). The test grants a directory and names its ancestors,
 * the directory itself and a sibling of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        struct stat st;
        int r = lstat(argv[i], &st);
        int lstat_result = r < 0 ? errno : 0;
        int fd = open(argv[i], O_RDONLY | O_DIRECTORY);
        int open_result = fd < 0 ? errno : 0;
        if (fd >= 0) close(fd);
        printf("%s lstat=%d dir=%d open=%d\n", argv[i], lstat_result, r == 0 && S_ISDIR(st.st_mode), open_result);
    }
    return 0;
}
