/*
 * An HTTP/1.1 server for the route tests (one request per connection, Connection: close), written
 * as an ordinary TCP server: nothing in it knows about routes. Paths:
 *   /counter       increments a global counter, answers it: under ephemeral routing always 1
 *   /names         the TCP names it sees: the listener's and the connection's getsockname and
 *                  getpeername, SO_DOMAIN, and TCP_NODELAY after setting it on the connection
 *   /rebind        binds a new socket to the listener's own address, answers the errno (98: in use)
 *   /reach/PATH    tries to connect a unix socket to /PATH, to open /PATH's directory and to bind a
 *                  unix socket next to it; answers the three errnos (0 for success)
 *   /headers       answers the request's head (request line and headers) as its body
 *   /echo          streams the request body (Content-Length) back as it reads it
 *   /upload        reads the request body (Content-Length), answers its length and byte sum
 *   /download/N    answers N MiB of the pattern byte i = (i * 7 + 3) & 0xff
 *   /cookie        answers with a Set-Cookie header
 *   /status/N      answers status N
 *   /short         answers JSON with a Content-Length of 100 and 3 bytes, then closes: an answer cut short
 *   /charset       answers with a charset no JVM knows: Content-Type: text/plain; charset=nope
 *   /bighead       answers with 128 KiB of headers
 *   /cutclose      answers without a length (the connection's end ends it), part of it, then faults
 *   /sleep /crash  sleep 30 s, fault
 *   anything else  "hello"
 * Usage: route_server PORT [ADDRESS]   (default 127.0.0.1)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static long counter;
static int listener;
static struct sockaddr_in bound;

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) return -1;
        p += w;
        n -= (size_t) w;
    }
    return 0;
}

static void respond(int fd, int status, const char *extra, const char *body) {
    char head[512];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
                     status, strlen(body), extra);
    write_all(fd, head, n);
    write_all(fd, body, strlen(body));
}

static const char *name(struct sockaddr_in *a, char *out) {
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    sprintf(out, "%s:%d", ip, ntohs(a->sin_port));
    return out;
}

static long content_length(const char *head) {
    const char *p = strcasestr(head, "\r\nContent-Length:");
    return p ? atol(p + 17) : 0;
}

/* Reads the request head into buf; returns its length, and in *body_start how many body bytes came with it. */
static int read_head(int fd, char *buf, int size, int *body_start) {
    int got = 0;
    while (got < size - 1) {
        int n = read(fd, buf + got, size - 1 - got);
        if (n <= 0) break;
        got += n;
        buf[got] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            int head = (int) (end - buf) + 4;
            *body_start = got - head;
            return head;
        }
    }
    buf[got] = 0;
    *body_start = 0;
    return got;
}

static void handle(int fd) {
    static char buf[65536];
    int extra = 0;
    int head = read_head(fd, buf, 8192, &extra);
    char path[256] = "/";
    sscanf(buf, "%*s %255s", path);
    char *query = strchr(path, '?');
    if (query) *query = 0; /* paths are matched without their query */
    if (strncmp(path, "/streamed/", 10) == 0) {
        memmove(path, path + 9, strlen(path + 9) + 1); /* a second server's route: the same paths */
    }
    char body[1024];
    if (strcmp(path, "/counter") == 0) {
        snprintf(body, sizeof body, "counter=%ld", ++counter);
        respond(fd, 200, "", body);
    } else if (strcmp(path, "/names") == 0) {
        struct sockaddr_in l, local, peer;
        socklen_t len = sizeof l;
        getsockname(listener, (struct sockaddr *) &l, &len);
        len = sizeof local;
        getsockname(fd, (struct sockaddr *) &local, &len);
        len = sizeof peer;
        getpeername(fd, (struct sockaddr *) &peer, &len);
        int one = 1, nodelay = 0, domain = 0;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        len = sizeof nodelay;
        getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len);
        len = sizeof domain;
        getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
        char a[64], b[64], c[64];
        snprintf(body, sizeof body, "listener=%s local=%s peer=%s family=%d domain=%d nodelay=%d", name(&l, a),
                 name(&local, b), name(&peer, c), peer.sin_family, domain, nodelay);
        respond(fd, 200, "", body);
    } else if (strcmp(path, "/rebind") == 0) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        int rc = bind(s, (struct sockaddr *) &bound, sizeof bound);
        snprintf(body, sizeof body, "rebind=%d", rc == 0 ? 0 : errno);
        close(s);
        respond(fd, 200, "", body);
    } else if (strncmp(path, "/reach/", 7) == 0) {
        struct sockaddr_un target = {.sun_family = AF_UNIX};
        snprintf(target.sun_path, sizeof target.sun_path, "%s", path + 6);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        int connected = connect(s, (struct sockaddr *) &target, sizeof target) == 0 ? 0 : errno;
        close(s);
        char dir[256];
        snprintf(dir, sizeof dir, "%s", path + 6);
        int opened = open(dirname(dir), O_RDONLY | O_DIRECTORY);
        int open_errno = opened >= 0 ? 0 : errno;
        if (opened >= 0) close(opened);
        struct sockaddr_un mine = {.sun_family = AF_UNIX};
        snprintf(mine.sun_path, sizeof mine.sun_path, "%s/c1", dir);
        s = socket(AF_UNIX, SOCK_STREAM, 0);
        int bound = bind(s, (struct sockaddr *) &mine, sizeof mine) == 0 ? 0 : errno;
        close(s);
        snprintf(body, sizeof body, "connect=%d open=%d bind=%d", connected, open_errno, bound);
        respond(fd, 200, "", body);
    } else if (strcmp(path, "/headers") == 0) {
        buf[head] = 0;
        respond(fd, 200, "", buf);
    } else if (strcmp(path, "/echo") == 0) {
        long length = content_length(buf);
        char h[256];
        int n = snprintf(h, sizeof h, "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\nConnection: close\r\n\r\n", length);
        write_all(fd, h, n);
        long done = extra;
        if (extra > 0 && write_all(fd, buf + head, extra) < 0) return;
        while (done < length) {
            int r = read(fd, buf, sizeof buf);
            if (r <= 0) return;
            if (write_all(fd, buf, r) < 0) return;
            done += r;
        }
    } else if (strcmp(path, "/upload") == 0) {
        long length = content_length(buf);
        unsigned long sum = 0;
        long done = 0;
        for (int i = 0; i < extra; i++) sum += (unsigned char) buf[head + i];
        done = extra;
        while (done < length) {
            int r = read(fd, buf, sizeof buf);
            if (r <= 0) break;
            for (int i = 0; i < r; i++) sum += (unsigned char) buf[i];
            done += r;
        }
        snprintf(body, sizeof body, "bytes=%ld sum=%lu", done, sum);
        respond(fd, 200, "", body);
    } else if (strcmp(path, "/drain") == 0) {
        /* reads whatever comes until the client's end, whatever the framing: a chunked body too */
        long done = extra;
        int r;
        while ((r = read(fd, buf, sizeof buf)) > 0) done += r;
        snprintf(body, sizeof body, "drained=%ld", done);
        respond(fd, 200, "", body);
    } else if (strncmp(path, "/download/", 10) == 0) {
        long length = atol(path + 10) << 20;
        char h[256];
        int n = snprintf(h, sizeof h, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                         "Content-Length: %ld\r\nConnection: close\r\n\r\n", length);
        write_all(fd, h, n);
        for (long at = 0; at < length;) {
            int chunk = length - at < (long) sizeof buf ? (int) (length - at) : (int) sizeof buf;
            for (int i = 0; i < chunk; i++) buf[i] = (char) (((at + i) * 7 + 3) & 0xff);
            if (write_all(fd, buf, chunk) < 0) return;
            at += chunk;
        }
    } else if (strcmp(path, "/garbage") == 0) {
        static const char junk[] = "this is not an HTTP answer\r\n\r\n";
        write_all(fd, junk, sizeof junk - 1);
    } else if (strcmp(path, "/early") == 0) {
        respond(fd, 413, "", "answered before the body"); /* and closed, the body unread */
    } else if (strcmp(path, "/cookie") == 0) {
        respond(fd, 200, "Set-Cookie: session=guest-secret; Path=/\r\n", "cookie set");
    } else if (strncmp(path, "/status/", 8) == 0) {
        respond(fd, atoi(path + 8), "X-Guest: yes\r\n", "status");
    } else if (strcmp(path, "/short") == 0) {
        static const char cut[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\nok\n";
        write_all(fd, cut, sizeof cut - 1);
    } else if (strcmp(path, "/cutclose") == 0) {
        static const char part[] = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"balance\": 1";
        write_all(fd, part, sizeof part - 1);
        *(volatile int *) 16 = 1;
    } else if (strcmp(path, "/bighead") == 0) {
        static char head[140 * 1024];
        int n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n");
        for (int i = 0; i < 1024; i++) {
            n += snprintf(head + n, sizeof head - n, "X-Big-%04d: %0120d\r\n", i, 0);
        }
        n += snprintf(head + n, sizeof head - n, "\r\nok");
        write_all(fd, head, n);
    } else if (strcmp(path, "/charset") == 0) {
        respond(fd, 200, "Content-Type: text/plain; charset=nope\r\n", "charset");
    } else if (strcmp(path, "/sleep") == 0) {
        sleep(30);
        respond(fd, 200, "", "woke");
    } else if (strcmp(path, "/crash") == 0) {
        *(volatile int *) 16 = 1;
    } else {
        respond(fd, 200, "", "hello");
    }
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8000;
    const char *host = argc > 2 ? argv[2] : "127.0.0.1";
    listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bound.sin_family = AF_INET;
    bound.sin_port = htons(port);
    inet_pton(AF_INET, host, &bound.sin_addr);
    if (bind(listener, (struct sockaddr *) &bound, sizeof bound) < 0) {
        perror("bind");
        return 1;
    }
    if (listen(listener, 128) < 0) {
        perror("listen");
        return 1;
    }
    printf("route_server listening on %s:%d\n", host, port);
    fflush(stdout);
    for (;;) {
        int c = accept(listener, NULL, NULL);
        if (c < 0) continue;
        handle(c);
        close(c);
    }
}
