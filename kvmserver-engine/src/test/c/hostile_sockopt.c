/* Socket options that would make the host kernel act on host memory, host fds or host tables,
 * route packets through addresses the network policy never saw, busy-poll the host's devices, or
 * hold more of the host's kernel memory than a default host gives a socket. Prints "name=rc errno"
 * per option; allowed value options must still work, as an unprivileged process's do. */
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
    report("prefer_busy_poll", setsockopt(s, SOL_SOCKET, 69, &one, sizeof one));
    int budget = 60000;
    report("busy_poll_budget", setsockopt(s, SOL_SOCKET, 70, &budget, sizeof budget));
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    /* NOP, loose source route via 127.0.0.3 */
    unsigned char lsrr[8] = {1, 0x83, 7, 4, 127, 0, 0, 3};
    report("ip_options_lsrr", setsockopt(udp, IPPROTO_IP, IP_OPTIONS, lsrr, sizeof lsrr));
    unsigned char record_route[8] = {7, 7, 4, 0, 0, 0, 0, 1};
    report("ip_options_rr", setsockopt(udp, IPPROTO_IP, IP_OPTIONS, record_route, sizeof record_route));
    int udp6 = socket(AF_INET6, SOCK_DGRAM, 0);
    /* A type 4 (segment routing) header with one segment, fd00::2. */
    unsigned char rthdr[24] = {17, 2, 4, 0, 0, 0, 0, 0, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    report("ipv6_rthdr", setsockopt(udp6, IPPROTO_IPV6, 57, rthdr, sizeof rthdr));
    report("ipv6_2292rthdr", setsockopt(udp6, IPPROTO_IPV6, 5, rthdr, sizeof rthdr));
    unsigned char hop[8] = {17, 0, 1, 4, 0, 0, 0, 0};
    report("ipv6_hopopts", setsockopt(udp6, IPPROTO_IPV6, 54, hop, sizeof hop));
    report("ipv6_rthdr_cleared", setsockopt(udp6, IPPROTO_IPV6, 57, NULL, 0));
    int huge = 1 << 30, got = 0;
    report("sndbuf", setsockopt(udp, SOL_SOCKET, SO_SNDBUF, &huge, sizeof huge));
    len = sizeof got;
    getsockopt(udp, SOL_SOCKET, SO_SNDBUF, &got, &len);
    printf("sndbuf_got=%d\n", got);
    report("rcvbuf", setsockopt(udp, SOL_SOCKET, SO_RCVBUF, &huge, sizeof huge));
    len = sizeof got;
    getsockopt(udp, SOL_SOCKET, SO_RCVBUF, &got, &len);
    printf("rcvbuf_got=%d\n", got);
    int minus_one = -1;
    report("sndbuf_minus_one", setsockopt(udp, SOL_SOCKET, SO_SNDBUF, &minus_one, sizeof minus_one));
    len = sizeof got;
    getsockopt(udp, SOL_SOCKET, SO_SNDBUF, &got, &len);
    printf("sndbuf_minus_one_got=%d\n", got);
    return 0;
}
