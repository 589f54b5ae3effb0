/* Connects to 127.0.0.1:PORT (argv[1]) and prints "connect=0" or "connect=-1 errno=N". */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(s, (struct sockaddr *) &a, sizeof a);
    if (rc == 0) printf("connect=0\n");
    else printf("connect=-1 errno=%d\n", errno);
    return 0;
}
