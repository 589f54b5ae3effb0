/*
 * The network a program sees, for LinuxBehaviourTest: getifaddrs and if_nameindex (glibc asks a
 * NETLINK_ROUTE socket, as node's os.networkInterfaces(), python's socket.if_nameindex() and
 * Go's net.Interfaces do), then what the engine's stand-in refuses:
 *   audit=E     socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT)
 *   newaddr=E   the NLMSG_ERROR answer to an RTM_NEWADDR request (a change)
 *   flood=N/E   dump requests sent without reading the answers: how many went, and the errno
 *               of the first refused
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    struct ifaddrs *all;
    if (getifaddrs(&all) != 0) {
        printf("getifaddrs errno=%d\n", errno);
        return 0;
    }
    for (struct ifaddrs *a = all; a; a = a->ifa_next) {
        char address[64] = "-", mask[64] = "-";
        int family = a->ifa_addr ? a->ifa_addr->sa_family : -1;
        if (family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *) a->ifa_addr)->sin_addr, address, sizeof address);
            inet_ntop(AF_INET, &((struct sockaddr_in *) a->ifa_netmask)->sin_addr, mask, sizeof mask);
        } else if (family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *) a->ifa_addr)->sin6_addr, address, sizeof address);
        }
        printf("%s family=%d up=%d loopback=%d %s %s\n", a->ifa_name, family, (a->ifa_flags & IFF_UP) != 0,
               (a->ifa_flags & IFF_LOOPBACK) != 0, address, mask);
    }
    freeifaddrs(all);
    struct if_nameindex *names = if_nameindex();
    for (struct if_nameindex *i = names; i && i->if_index; i++) printf("index %u %s\n", i->if_index, i->if_name);
    if (names) if_freenameindex(names);

    int audit = socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT);
    printf("audit=%d", audit < 0 ? errno : 0);
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    struct {
        struct nlmsghdr h;
        struct ifaddrmsg a;
    } add = {{sizeof add, RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE, 7, 0}, {AF_INET, 8, 0, 0, 1}};
    send(fd, &add, sizeof add, 0);
    char answer[4096];
    long n = recv(fd, answer, sizeof answer, 0);
    struct nlmsghdr *h = (struct nlmsghdr *) answer;
    int error = n >= (long) (sizeof *h + 4) && h->nlmsg_type == NLMSG_ERROR ? -*(int *) NLMSG_DATA(h) : -1;
    printf(" newaddr=%d", error);
    struct {
        struct nlmsghdr h;
        struct rtgenmsg g;
    } dump = {{sizeof dump, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 8, 0}, {AF_UNSPEC}};
    int sent = 0, refused = 0;
    for (int i = 0; i < 100 && !refused; i++) {
        if (send(fd, &dump, sizeof dump, MSG_DONTWAIT) < 0) refused = errno;
        else sent++;
    }
    printf(" flood=%d/%d\n", sent, refused);
    return 0;
}
