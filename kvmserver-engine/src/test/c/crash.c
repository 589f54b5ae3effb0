/*
 * Ways to die, chosen by argv[1]: null (write through NULL), loop (spin forever),
 * abort (abort()), ud2 (illegal instruction), ok (exit 0, for comparison).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    const char *how = argc > 1 ? argv[1] : "null";
    if (!strcmp(how, "null")) {
        *(volatile int *) 0 = 1;
    } else if (!strcmp(how, "loop")) {
        for (volatile unsigned long i = 0;; i++) {
        }
    } else if (!strcmp(how, "abort")) {
        abort();
    } else if (!strcmp(how, "ud2")) {
        __asm__ volatile("ud2");
    } else if (!strcmp(how, "ok")) {
        return 0;
    }
    printf("still alive after %s\n", how);
    return 3;
}
