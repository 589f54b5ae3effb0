/*
 * Values a hostile program passes where the engine once computed with them as Java longs (the
 * eighth review, 2026-12-05, fourth session), for HostileValuesTest; the same lines natively.
 * argv[1] is a writable directory. Each line: the call, what it returned, errno.
 *   netlink-recvmsg   recvmsg on a NETLINK_ROUTE socket into two iovecs whose lengths sum past
 *                     Long.MAX_VALUE to a few bytes more than a multiple of 2^64 (the engine's
 *                     buffer was one byte, the answer written into it a hundred: the JVM died)
 *   netlink-sendmsg   sendmsg of an iovec whose length runs past user space
 *   netlink-recvfrom  recvfrom of an answer with a length of -1 (a size_t: the largest)
 *   netlink-sendto    sendto with a length of -1
 *   preadv/pwritev    a negative position: the file and its offset untouched
 * With "names" as argv[2] instead, names that are not UTF-8 (the engine's one deliberate
 * difference here: EILSEQ, as a file system that takes only UTF-8 names answers; Linux's ext4
 * takes any bytes):
 *   create a\xffb, then a\xef\xbf\xbdb (U+FFFD, valid), then open a\xfeb: one file per name or none;
 *   then the host's link L to a\xffb (made by the test): EILSEQ too, never a\xef\xbf\xbdb
 * With "umask" as argv[2]: unix sockets bound under umask 077 and 0, their files' modes (Linux:
 * 0777 less the umask; the host's bind used the JVM's)
 * With "madvise" as argv[2]: the discarding advices on each kind of mapping (the engine zeroed
 * every one): private anonymous memory reads zeros after MADV_DONTNEED, shared memory keeps its
 * data, a file mapping its file's; MADV_FREE takes private anonymous memory only, MADV_REMOVE
 * shared writable memory only
 * With "memory" as argv[2]: what mmap takes (no pipe, no device but /dev/zero) and the checks of
 * msync, mlock and mincore (they answered 0 to anything, or ENOSYS); with "prot-none" a PROT_NONE
 * mapping of a 256 MiB sparse file (Linux allocates nothing; the engine reads the file in, so it
 * counts against the memory limit)
 * With "numbers" as argv[2]: arguments Linux takes as an int or an unsigned int (dup2's new
 * fd, getgroups' size), getcwd's size_t, fadvise's advice and length, and the futex operations
 * Linux refuses (FUTEX_WAIT with FUTEX_CLOCK_REALTIME) or looks up (a shared futex's page)
 *   readlink          of the file's /proc/self/fd link, a size whose upper half is set (an int
 *                     to Linux: 2) and one of 2^31
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

static char buffer[8192];

static void line(const char *call, long r) {
    printf("%s r=%ld errno=%d\n", call, r, r < 0 ? errno : 0);
}

static struct {
    struct nlmsghdr h;
    struct rtgenmsg g;
} link_dump = {{sizeof link_dump, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, 0}, {AF_UNSPEC}};

static void drain(int nl) {
    while (syscall(SYS_recvfrom, nl, buffer, sizeof buffer, MSG_DONTWAIT, 0, 0) > 0) {
    }
}

static void netlink(void) {
    int nl = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    syscall(SYS_sendto, nl, &link_dump, sizeof link_dump, 0, 0, 0);
    long first = syscall(SYS_recvfrom, nl, buffer, sizeof buffer, MSG_DONTWAIT | MSG_PEEK, 0, 0);
    drain(nl);
    syscall(SYS_sendto, nl, &link_dump, sizeof link_dump, 0, 0, 0);
    struct iovec two[2] = {{buffer, 0x7fffffffffffffffL}, {buffer, 0x7fffffffffffffffL - 65536 + 1 + first}};
    struct msghdr m = {.msg_iov = two, .msg_iovlen = 2};
    line("netlink-recvmsg", syscall(SYS_recvmsg, nl, &m, MSG_DONTWAIT));
    drain(nl);
    struct iovec past = {buffer, 0x800000000000L};
    struct msghdr s = {.msg_iov = &past, .msg_iovlen = 1};
    line("netlink-sendmsg", syscall(SYS_sendmsg, nl, &s, 0));
    syscall(SYS_sendto, nl, &link_dump, sizeof link_dump, 0, 0, 0);
    long r = syscall(SYS_recvfrom, nl, buffer, -1L, MSG_DONTWAIT, 0, 0);
    printf("netlink-recvfrom r>0=%d errno=%d\n", r > 0, r < 0 ? errno : 0);
    drain(nl);
    line("netlink-sendto", syscall(SYS_sendto, nl, &link_dump, -1L, 0, 0, 0));
    close(nl);
}

static void positioned(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/values.txt", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    write(fd, "0123456789", 10);
    lseek(fd, 2, SEEK_SET);
    char got[8] = {0};
    struct iovec in = {got, 4};
    line("preadv", syscall(SYS_preadv, fd, &in, 1, -5L, 0));
    struct iovec out = {"XY", 2};
    line("pwritev", syscall(SYS_pwritev, fd, &out, 1, -1L, 0));
    char whole[16] = {0};
    pread(fd, whole, 10, 0);
    printf("offset=%ld file=%s\n", (long) lseek(fd, 0, SEEK_CUR), whole);
    close(fd);
}

static void readlinks(const char *dir) {
    char path[4096], link[64];
    snprintf(path, sizeof path, "%s/values.txt", dir);
    int fd = open(path, O_RDONLY);
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    char got[32];
    memset(got, 0, sizeof got);
    long r = syscall(SYS_readlink, link, got, 0x100000002L);
    printf("readlink r=%ld errno=%d got=%s\n", r, r < 0 ? errno : 0, got);
    line("readlink-2^31", syscall(SYS_readlinkat, AT_FDCWD, link, got, 0x80000000L));
    close(fd);
}

static void names(const char *dir) {
    const char *each[] = {"a\xff" "b", "a\xef\xbf\xbd" "b", "a\xfe" "b"};
    for (int i = 0; i < 3; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, each[i]);
        int fd = open(path, i < 2 ? O_RDWR | O_CREAT | O_EXCL : O_RDONLY, 0600);
        printf("name%d fd>=0=%d errno=%d\n", i, fd >= 0, fd < 0 ? errno : 0);
        if (fd >= 0) {
            close(fd);
        }
    }
}

static void socket_modes(const char *dir) {
    int masks[] = {077, 0};
    for (int i = 0; i < 2; i++) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof a.sun_path, "%s/s%d", dir, i);
        umask(masks[i]);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        int r = bind(s, (struct sockaddr *) &a, sizeof a);
        struct stat st;
        stat(a.sun_path, &st);
        printf("umask %03o bind=%d mode=%o\n", masks[i], r, st.st_mode & 07777);
        close(s);
    }
}

static void advise(const char *what, char *at, int advice) {
    long r = syscall(SYS_madvise, at, 4096, advice);
    if (advice == MADV_FREE && r == 0) {
        printf("%s r=0\n", what); /* the data may stay or go: Linux keeps it until memory is short */
    } else {
        printf("%s r=%ld errno=%d byte=%d\n", what, r, r < 0 ? errno : 0, at[0]);
    }
}

static void advices(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/advised.txt", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    write(fd, "0123456789", 10);
    char *private = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    private[0] = 42;
    advise("private DONTNEED", private, MADV_DONTNEED);
    private[0] = 42;
    advise("private FREE", private, MADV_FREE);
    private[0] = 42;
    advise("private REMOVE", private, MADV_REMOVE);
    char *shared = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    shared[0] = 42;
    advise("shared DONTNEED", shared, MADV_DONTNEED);
    advise("shared FREE", shared, MADV_FREE);
    advise("shared REMOVE", shared, MADV_REMOVE);
    char *file = mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    advise("file DONTNEED", file, MADV_DONTNEED);
    advise("file FREE", file, MADV_FREE);
    advise("file REMOVE", file, MADV_REMOVE);
    int read_only = open(path, O_RDONLY);
    char *shared_file = mmap(0, 4096, PROT_READ, MAP_SHARED, read_only, 0);
    advise("shared file DONTNEED", shared_file, MADV_DONTNEED);
    advise("shared file REMOVE", shared_file, MADV_REMOVE);
    close(fd);
    close(read_only);
}

static void memory(void) {
    int p[2];
    pipe(p);
    line("mmap pipe", syscall(SYS_mmap, 0, 4096, PROT_READ, MAP_PRIVATE, p[0], 0));
    int null = open("/dev/null", O_RDONLY);
    line("mmap /dev/null", syscall(SYS_mmap, 0, 4096, PROT_READ, MAP_PRIVATE, null, 0));
    char *two = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    two[0] = two[4096] = 1;
    munmap(two + 8192, 0);
    char *gone = mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(gone, 4096);
    line("msync flags", syscall(SYS_msync, two, 4096, 0xff));
    line("msync sync|async", syscall(SYS_msync, two, 4096, MS_SYNC | MS_ASYNC));
    line("msync unmapped", syscall(SYS_msync, gone, 4096, MS_SYNC));
    line("msync", syscall(SYS_msync, two, 8192, MS_SYNC));
    line("mlock unmapped", syscall(SYS_mlock, gone, 4096));
    line("mlock", syscall(SYS_mlock, two + 1, 4096));
    line("munlock", syscall(SYS_munlock, two, 8192));
    line("mlockall 0", syscall(SYS_mlockall, 0));
    line("mlockall 99", syscall(SYS_mlockall, 99));
    unsigned char vec[2] = {9, 9};
    long r = syscall(SYS_mincore, two, 8192, vec);
    printf("mincore r=%ld vec=%d,%d\n", r, vec[0], vec[1]);
    line("mincore unaligned", syscall(SYS_mincore, two + 1, 4096, vec));
    line("mincore unmapped", syscall(SYS_mincore, gone, 4096, vec));
    /* after the rest: a new mapping may take the address of the one unmapped above */
    char *write_only = mmap(0, 4096, PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    write_only[0] = 'w'; /* x86: a page that may be written may be read */
    int wp[2];
    pipe(wp);
    line("write from a PROT_WRITE page", syscall(SYS_write, wp[1], write_only, 1));
}

static void prot_none(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/sparse", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ftruncate(fd, 256L << 20);
    for (int i = 0; i < 2; i++) {
        line("mmap PROT_NONE of 256 MiB", syscall(SYS_mmap, 0, 256L << 20, PROT_NONE, MAP_PRIVATE, fd, 0) < 0 ? -1 : 0);
    }
    close(fd);
    unlink(path);
}

static void numbers(const char *dir) {
    line("dup2 to 2^32 + 7", syscall(SYS_dup2, 1, 0x100000007L));
    close(7);
    line("getgroups -1", syscall(SYS_getgroups, -1, 0));
    char cwd[4096];
    long r = syscall(SYS_getcwd, cwd, -1L);
    printf("getcwd size -1 r>0=%d\n", r > 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/advised", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    line("fadvise advice 99", syscall(SYS_fadvise64, fd, 0, 0, 99));
    line("fadvise length -1", syscall(SYS_fadvise64, fd, 0, -1L, 0));
    line("fadvise", syscall(SYS_fadvise64, fd, 0, 0, 0));
    int p[2];
    pipe(p);
    line("fadvise pipe", syscall(SYS_fadvise64, p[0], 0, 0, 0));
    int path_only = open(path, O_PATH);
    line("fadvise O_PATH", syscall(SYS_fadvise64, path_only, 0, 0, 0));
    close(path_only);
    line("getcwd size 0", syscall(SYS_getcwd, cwd, 0));
    static int word = 1;
    struct timespec soon = {0, 1000};
    line("futex WAIT|CLOCK_REALTIME", syscall(SYS_futex, &word, 0 | 256, 1, &soon, 0, 0));
    line("shared futex WAKE of NULL", syscall(SYS_futex, 0, 1, 1, 0, 0, 0));
    line("private futex WAKE of NULL", syscall(SYS_futex, 0, 1 | 128, 1, 0, 0, 0));
    close(fd);
}

static void link_to_name(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/L", dir);
    int fd = open(path, O_RDONLY);
    char got[8] = {0};
    if (fd >= 0) {
        read(fd, got, sizeof got - 1);
    }
    printf("open L fd>=0=%d errno=%d read=%s\n", fd >= 0, fd < 0 ? errno : 0, got);
}

static void memory_in(const char *dir) {
    (void) dir;
    memory();
}

/* Each mode's calls, given the writable directory. */
static const struct {
    const char *name;
    void (*run)(const char *dir);
} modes[] = {
    {"numbers", numbers}, {"memory", memory_in}, {"prot-none", prot_none}, {"madvise", advices},
    {"umask", socket_modes}, {"names", names}, {"link", link_to_name},
};

int main(int argc, char **argv) {
    if (argc < 2) {
        return 2;
    }
    for (unsigned i = 0; argc > 2 && i < sizeof modes / sizeof modes[0]; i++) {
        if (!strcmp(argv[2], modes[i].name)) {
            modes[i].run(argv[1]);
            return 0;
        }
    }
    if (argc > 2) {
        return 2;
    }
    netlink();
    positioned(argv[1]);
    readlinks(argv[1]);
    return 0;
}
