/* Network probes for the sockets tests.
 *   net_probe udp PORT    send "ping" to 127.0.0.1:PORT over UDP, print the reply
 *   net_probe tcp6 PORT   connect to [::1]:PORT, print what the server says
 *   net_probe udp6listen PORT   bind UDP on [::1]:PORT, print bind's result */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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
    } else if (strcmp(argv[1], "udp6listen") == 0) {
        int s = socket(AF_INET6, SOCK_DGRAM, 0);
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
        int rc = bind(s, (struct sockaddr *) &a, sizeof a);
        printf("bind=%d errno=%d\n", rc, rc == 0 ? 0 : errno);
    }
    return 0;
}
