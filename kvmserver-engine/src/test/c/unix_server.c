/* Listens on the unix socket path argv[1]; answers each connection with "unix hello" and closes.
 * With "chmod" as argv[2] each connection first tries to take the modes of the socket and of its
 * directory away (chmod of both, fchmod of the directory) and answers with the errno of each. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", argv[1]);
    unlink(argv[1]);
    if (bind(s, (struct sockaddr *) &a, sizeof a) < 0) {
        perror("bind");
        return 1;
    }
    if (listen(s, 16) < 0) {
        perror("listen");
        return 1;
    }
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) continue;
        if (argc > 2 && strcmp(argv[2], "chmod") == 0) {
            char path[108], report[128];
            snprintf(path, sizeof path, "%s", argv[1]);
            const char *dir = dirname(path);
            int on_socket = chmod(argv[1], 0) == 0 ? 0 : errno;
            int on_dir = chmod(dir, 0) == 0 ? 0 : errno;
            int held = open(dir, O_RDONLY | O_DIRECTORY);
            int on_held = fchmod(held, 0) == 0 ? 0 : errno;
            close(held);
            int n = snprintf(report, sizeof report, "chmod socket=%s dir=%s fchmod dir=%s\n", strerrorname_np(on_socket),
                             strerrorname_np(on_dir), strerrorname_np(on_held));
            write(c, report, n);
        }
        const char *msg = "unix hello";
        write(c, msg, strlen(msg));
        close(c);
    }
}
