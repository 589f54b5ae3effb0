/* Prints a line and exits before it ever listens. */
#include <stdio.h>

int main(void) {
    puts("not a server after all");
    return 3;
}
