/* Network probes for the sockets tests.
 *   net_probe udp PORT    send "ping" to 127.0.0.1:PORT over UDP, print the reply
 *   net_probe tcp6 PORT   connect to [::1]:PORT, print what the server says
 *   net_probe udp6listen PORT   bind UDP on [::1]:PORT, print bind's result
 *   net_probe udpstranger PORT  send "ping" to 127.0.0.1:PORT twice from an unbound UDP socket;
 *                         after each the test sends a datagram from a stranger, then the reply:
 *                         print what a peek, a read and a recvmsg find, and what is left
 *   net_probe protocols 0 the errno of a socket of each protocol other than TCP and UDP */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void ping(int s, int port) {
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (sendto(s, "ping", 4, 0, (struct sockaddr *) &to, sizeof to) != 4) {
        printf("sendto errno=%d\n", errno);
        exit(0);
    }
    /* Readable may be a stranger's datagram the engine then drops (as a datagram with a bad
     * checksum makes a socket look readable on Linux): wait until something is there to read. */
    for (int waits = 0;; waits++) {
        struct pollfd p = {.fd = s, .events = POLLIN};
        int queued = 0;
        if (waits == 50 || poll(&p, 1, 5000) != 1) {
            printf("no reply\n");
            exit(0);
        }
        if (ioctl(s, FIONREAD, &queued) == 0 && queued > 0) {
            return;
        }
    }
}

static int open_socket(int domain, int type, int protocol) {
    int s = socket(domain, type, protocol);
    return s >= 0 ? 0 : errno;
}

int main(int argc, char **argv) {
    int port = atoi(argv[2]);
    char buf[128] = {0};
    if (strcmp(argv[1], "udp") == 0) {
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (sendto(s, "ping", 4, 0, (struct sockaddr *) &to, sizeof to) != 4) {
            printf("sendto errno=%d\n", errno);
            return 0;
        }
        struct pollfd p = {.fd = s, .events = POLLIN};
        if (poll(&p, 1, 5000) != 1) {
            printf("no reply\n");
            return 0;
        }
        struct sockaddr_in from;
        socklen_t len = sizeof from;
        int n = recvfrom(s, buf, sizeof buf - 1, 0, (struct sockaddr *) &from, &len);
        printf("udp reply=%.*s from_port_ok=%d\n", n, buf, ntohs(from.sin_port) == port);
    } else if (strcmp(argv[1], "tcp6") == 0) {
        int s = socket(AF_INET6, SOCK_STREAM, 0);
        struct sockaddr_in6 to = {.sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
        if (connect(s, (struct sockaddr *) &to, sizeof to) != 0) {
            printf("connect errno=%d\n", errno);
            return 0;
        }
        int n = read(s, buf, sizeof buf - 1);
        printf("tcp6 read=%.*s\n", n > 0 ? n : 0, buf);
    } else if (strcmp(argv[1], "udpstranger") == 0) {
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        ping(s, port);
        int queued = -1;
        ioctl(s, FIONREAD, &queued);
        printf("fionread=%d\n", queued);
        int n = recv(s, buf, sizeof buf - 1, MSG_PEEK);
        printf("peek=%.*s buffer=%s\n", n > 0 ? n : 0, buf, buf);
        memset(buf, 0, sizeof buf);
        n = read(s, buf, sizeof buf - 1);
        printf("read=%.*s buffer=%s\n", n > 0 ? n : 0, buf, buf);
        memset(buf, 0, sizeof buf);
        ping(s, port);
        struct sockaddr_in from;
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf - 1};
        struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1};
        n = recvmsg(s, &m, 0);
        printf("recvmsg=%.*s from_port_ok=%d buffer=%s\n", n > 0 ? n : 0, buf, ntohs(from.sin_port) == port, buf);
        memset(buf, 0, sizeof buf);
        struct pollfd p = {.fd = s, .events = POLLIN};
        poll(&p, 1, 300);
        n = recv(s, buf, sizeof buf - 1, MSG_DONTWAIT);
        printf("rest=%d errno=%d buffer=%s\n", n, n < 0 ? errno : 0, buf);
    } else if (strcmp(argv[1], "protocols") == 0) {
        printf("icmp=%d icmpv6=%d mptcp=%d udplite=%d seqpacket=%d tcp=%d udp=%d tcp6=%d udp6=%d\n",
               open_socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP), open_socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6),
               open_socket(AF_INET, SOCK_STREAM, 262), open_socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE),
               open_socket(AF_INET, SOCK_SEQPACKET, 0), open_socket(AF_INET, SOCK_STREAM, IPPROTO_TCP),
               open_socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP), open_socket(AF_INET6, SOCK_STREAM, IPPROTO_TCP),
               open_socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP));
    } else if (strcmp(argv[1], "udp6listen") == 0) {
        int s = socket(AF_INET6, SOCK_DGRAM, 0);
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
        int rc = bind(s, (struct sockaddr *) &a, sizeof a);
        printf("bind=%d errno=%d\n", rc, rc == 0 ? 0 : errno);
    }
    return 0;
}
