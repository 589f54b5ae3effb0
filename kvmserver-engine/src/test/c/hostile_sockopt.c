/* Socket options that would make the host kernel act on host memory, host fds or host tables.
 * Prints "name=rc errno" per option; allowed value options must still work. */
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static void report(const char *name, int rc) {
    printf("%s=%d errno=%d\n", name, rc, rc == 0 ? 0 : errno);
}

int main(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    report("reuseaddr", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
    report("nodelay", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
    struct sock_filter code[] = {{0x06, 0, 0, 0}};
    struct sock_fprog prog = {.len = 1, .filter = code};
    report("attach_filter", setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog));
    report("attach_bpf", setsockopt(s, SOL_SOCKET, 50, &one, sizeof one));
    report("mark", setsockopt(s, SOL_SOCKET, SO_MARK, &one, sizeof one));
    char table[256];
    memset(table, 0, sizeof table);
    report("ipt_set_replace", setsockopt(s, IPPROTO_IP, 64, table, sizeof table));
    char zc[64];
    socklen_t len = sizeof zc;
    memset(zc, 0, sizeof zc);
    report("zerocopy_receive", getsockopt(s, IPPROTO_TCP, 35, zc, &len));
    report("ulp", setsockopt(s, IPPROTO_TCP, 31, "tls", 3));
    len = sizeof zc;
    report("peercred", getsockopt(s, SOL_SOCKET, SO_PEERCRED, zc, &len));
    return 0;
}
