/*
 * A server that first does what every libc program does on a machine it does not own: asks the
 * name service cache daemon (unix socket /var/run/nscd/socket) and a DNS server (UDP port 53),
 * and reads a file (/etc/hostname), then waits a while as a slow server would, then serves
 * "hello" on 127.0.0.1:<port>, one request per connection.
 * With a third argument it also connects to 127.0.0.1:<connect-port>, which is no probe.
 * Usage: probing_server <port> [boot-delay-ms [connect-port]]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void probe(int connect_port) {
    int u = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un nscd = {.sun_family = AF_UNIX};
    strcpy(nscd.sun_path, "/var/run/nscd/socket");
    connect(u, (struct sockaddr *) &nscd, sizeof nscd);
    close(u);

    int d = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in dns = {.sin_family = AF_INET, .sin_port = htons(53)};
    inet_pton(AF_INET, "127.0.0.53", &dns.sin_addr);
    connect(d, (struct sockaddr *) &dns, sizeof dns);
    close(d);

    int f = open("/etc/hostname", O_RDONLY);
    if (f >= 0) close(f);

    if (connect_port > 0) {
        int t = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in other = {.sin_family = AF_INET, .sin_port = htons(connect_port)};
        inet_pton(AF_INET, "127.0.0.1", &other.sin_addr);
        connect(t, (struct sockaddr *) &other, sizeof other);
        close(t);
    }
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8000;
    long delay = argc > 2 ? atol(argv[2]) : 0;
    probe(argc > 3 ? atoi(argv[3]) : 0);
    if (delay > 0) {
        struct timespec t = {delay / 1000, (delay % 1000) * 1000000L};
        nanosleep(&t, NULL);
    }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (bind(s, (struct sockaddr *) &a, sizeof a) != 0 || listen(s, 16) != 0) {
        perror("bind");
        return 1;
    }
    printf("listening on %d\n", port);
    fflush(stdout);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) continue;
        char req[1024];
        read(c, req, sizeof req);
        static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
        write(c, answer, sizeof answer - 1);
        close(c);
    }
}
