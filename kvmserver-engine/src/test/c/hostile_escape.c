/*
 * Tries to leave the sandbox through paths, sockets, the environment and processes, printing
 * one "name=result" line per attempt (0 or the errno). The test lays out, under argv[1] (the
 * allowed, writable directory and the cwd): file.txt, planted -> ../secret.txt,
 * planted-dir -> .., planted-abs -> /etc/passwd, and a read-only volume at /ro with data.txt.
 * argv[2] is the secret file's absolute host path (outside the allowed set).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

extern char **environ;

static void report(const char *name, long r) {
    printf("%s=%ld\n", name, r < 0 ? (long) errno : 0L);
}

static long try_open(const char *path, int flags) {
    int fd = open(path, flags, 0644);
    if (fd >= 0) close(fd);
    return fd;
}

int main(int argc, char **argv) {
    const char *allowed = argv[1];
    const char *secret = argv[2];
    char path[8192];
    report("control-open-file", try_open("file.txt", O_RDONLY));
    report("dotdot", try_open("../secret.txt", O_RDONLY));
    report("absolute", try_open(secret, O_RDONLY));
    report("etc-passwd", try_open("/etc/passwd", O_RDONLY));
    report("planted-symlink", try_open("planted", O_RDONLY));
    report("planted-dir-symlink", try_open("planted-dir/secret.txt", O_RDONLY));
    report("planted-abs-symlink", try_open("planted-abs", O_RDONLY));
    snprintf(path, sizeof path, "/proc/self/root%s", secret);
    report("proc-self-root", try_open(path, O_RDONLY));
    report("proc-self-cwd", try_open("/proc/self/cwd/../secret.txt", O_RDONLY));
    report("proc-1-root", try_open("/proc/1/root/etc/passwd", O_RDONLY));
    report("proc-self-fd-dotdot", try_open("/proc/self/fd/../../../etc/passwd", O_RDONLY));
    snprintf(path, sizeof path, "%s/../%s", allowed, strrchr(secret, '/') + 1);
    report("absolute-dotdot", try_open(path, O_RDONLY));
    int dir = open(".", O_RDONLY | O_DIRECTORY);
    report("openat-dirfd-dotdot", openat(dir, "../secret.txt", O_RDONLY));
    report("openat-dirfd-absolute", openat(dir, secret, O_RDONLY));
    report("openat-dirfd-planted", openat(dir, "planted-dir/secret.txt", O_RDONLY));
    int file = open("file.txt", O_RDONLY);
    report("openat-file-as-dirfd", openat(file, "x", O_RDONLY));
    report("guest-symlink", symlink(secret, "mine"));
    report("guest-hardlink", link(secret, "mine-hard"));
    report("open-guest-symlink", try_open("mine", O_RDONLY));
    report("rename-out", rename("file.txt", "../stolen.txt"));
    report("chdir-out", chdir(".."));
    report("mknod", mknod("dev", S_IFCHR | 0600, makedev(1, 3)));
    report("dev-kvm", try_open("/dev/kvm", O_RDWR));
    report("dev-mem", try_open("/dev/mem", O_RDONLY));
    memset(path, 'a', sizeof path);
    path[sizeof path - 1] = 0;
    report("path-8191", try_open(path, O_RDONLY));
    path[4096] = 0;
    report("path-4096", try_open(path, O_RDONLY));
    for (int i = 0; i + 2 < 4000; i += 2) memcpy(path + i, "a/", 2);
    path[4000] = 0;
    report("path-deep", try_open(path, O_RDONLY));
    /* read-only volume */
    report("ro-read", try_open("/ro/data.txt", O_RDONLY));
    report("ro-write", try_open("/ro/data.txt", O_WRONLY));
    report("ro-append", try_open("/ro/data.txt", O_WRONLY | O_APPEND));
    report("ro-trunc", try_open("/ro/data.txt", O_RDONLY | O_TRUNC));
    report("ro-create", try_open("/ro/new.txt", O_WRONLY | O_CREAT));
    report("ro-unlink", unlink("/ro/data.txt"));
    report("ro-mkdir", mkdir("/ro/d", 0755));
    report("ro-rename", rename("/ro/data.txt", "/ro/moved.txt"));
    report("ro-rename-out", rename("/ro/data.txt", "moved.txt"));
    int ro = open("/ro", O_RDONLY | O_DIRECTORY);
    report("ro-openat-write", openat(ro, "data.txt", O_RDWR));
    report("ro-volume-dotdot", try_open("/ro/../etc/passwd", O_RDONLY));
    /* environment */
    int leaked = 0;
    for (char **e = environ; *e; e++) leaked += strstr(*e, "SECRET") != NULL;
    char envbuf[4096] = {0};
    int env = open("/proc/self/environ", O_RDONLY);
    long n = env >= 0 ? read(env, envbuf, sizeof envbuf - 1) : -1;
    for (long i = 0; i < n; i++) if (!envbuf[i]) envbuf[i] = '\n';
    printf("env-leaked=%d proc-environ-leaked=%d\n", leaked, n > 0 && strstr(envbuf, "SECRET") != NULL);
    /* network */
    int tcp = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(22)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    report("connect-denied", connect(tcp, (struct sockaddr *) &sin, sizeof sin));
    struct sockaddr_in6 mapped = {.sin6_family = AF_INET6, .sin6_port = htons(22)};
    mapped.sin6_addr.s6_addr[10] = mapped.sin6_addr.s6_addr[11] = 0xff;
    mapped.sin6_addr.s6_addr[12] = 127;
    mapped.sin6_addr.s6_addr[15] = 1;
    int tcp6 = socket(AF_INET6, SOCK_STREAM, 0);
    report("connect-v4-mapped-denied", connect(tcp6, (struct sockaddr *) &mapped, sizeof mapped));
    int tcp2 = socket(AF_INET, SOCK_STREAM, 0);
    sin.sin_port = htons(8099);
    sin.sin_addr.s_addr = htonl(INADDR_ANY);
    report("bind-denied", bind(tcp2, (struct sockaddr *) &sin, sizeof sin));
    report("listen-unbound-denied", listen(socket(AF_INET, SOCK_STREAM, 0), 1));
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    sin.sin_port = htons(53);
    sin.sin_addr.s_addr = htonl(0x08080808);
    report("sendto-denied", sendto(udp, "x", 1, 0, (struct sockaddr *) &sin, sizeof sin));
    report("raw-socket", socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
    /* NETLINK_ROUTE is the engine's own stand-in (the loopback alone); any other reaches the host */
    report("netlink-audit-socket", socket(AF_NETLINK, SOCK_RAW, 9 /* NETLINK_AUDIT */));
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    int us = socket(AF_UNIX, SOCK_STREAM, 0);
    snprintf(un.sun_path, sizeof un.sun_path, "%s.sock", secret);
    report("unix-bind-outside", bind(us, (struct sockaddr *) &un, sizeof un));
    snprintf(un.sun_path, sizeof un.sun_path, "/run/docker.sock");
    report("unix-connect-outside", connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *) &un, sizeof un));
    snprintf(un.sun_path, sizeof un.sun_path, "../escape.sock");
    report("unix-bind-dotdot", bind(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *) &un, sizeof un));
    report("unix-bind-ro-volume", (snprintf(un.sun_path, sizeof un.sun_path, "/ro/x.sock"),
                                   bind(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *) &un, sizeof un)));
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    memcpy(un.sun_path, "\0abstract", 9);
    report("unix-abstract", bind(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *) &un, 2 + 9));
    /* The family alone: Linux autobinds to an abstract name any host process can connect to. */
    int autobound = socket(AF_UNIX, SOCK_STREAM, 0);
    report("unix-autobind", bind(autobound, (struct sockaddr *) &un, sizeof(sa_family_t)));
    report("unix-autobind-listen", listen(autobound, 1));
    snprintf(un.sun_path, sizeof un.sun_path, "ok.sock");
    report("control-unix-bind-allowed", bind(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *) &un, sizeof un));
    /* processes */
    char *sh[] = {"/bin/sh", "-c", "id", NULL};
    report("execve", execve("/bin/sh", sh, environ));
    report("execveat", syscall(SYS_execveat, AT_FDCWD, "/bin/sh", sh, environ, 0));
    report("fork", syscall(SYS_fork));
    report("vfork", syscall(SYS_vfork));
    report("clone-process", syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0));
    report("clone-vfork", syscall(SYS_clone, CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0));
    report("clone3", syscall(SYS_clone3, NULL, 0));
    report("ptrace", syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, 1, 0, 0));
    report("kill-init", kill(1234, SIGKILL));
    report("kill-all", kill(-1, SIGKILL));
    report("unshare", syscall(SYS_unshare, CLONE_NEWUSER));
    report("setuid-root", syscall(SYS_setuid, 0));
    report("chroot", syscall(SYS_chroot, "/"));
    report("mount", syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, 0));
    report("iopl", syscall(SYS_iopl, 3));
    report("bpf", syscall(SYS_bpf, 0, 0, 0));
    return 0;
}
