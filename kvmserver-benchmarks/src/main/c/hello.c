/* The start-to-exit benchmark's guest: one line to stdout, exit status 0. */
#include <stdio.h>

int main(void) {
    printf("hello world\n");
    return 0;
}
