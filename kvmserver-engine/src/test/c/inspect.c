/* Prints what the program was started with: argv, envp and the auxiliary vector. */
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    for (char **e = environ; *e; e++) printf("env %s\n", *e);
    printf("AT_PAGESZ=%lu\n", getauxval(AT_PAGESZ));
    printf("AT_PHNUM_ok=%d\n", getauxval(AT_PHNUM) > 0);
    printf("AT_ENTRY_ok=%d\n", getauxval(AT_ENTRY) != 0);
    printf("AT_UID=%lu\n", getauxval(AT_UID));
    printf("AT_SECURE=%lu\n", getauxval(AT_SECURE));
    printf("AT_CLKTCK=%lu\n", getauxval(AT_CLKTCK));
    const char *platform = (const char *) getauxval(AT_PLATFORM);
    printf("AT_PLATFORM=%s\n", platform ? platform : "(null)");
    const unsigned char *random = (const unsigned char *) getauxval(AT_RANDOM);
    int nonzero = 0;
    for (int i = 0; random && i < 16; i++) nonzero |= random[i];
    printf("AT_RANDOM_ok=%d\n", random != NULL && nonzero != 0);
    const char *execfn = (const char *) getauxval(AT_EXECFN);
    printf("AT_EXECFN=%s\n", execfn ? execfn : "(null)");
    printf("pid=%d\n", getpid());
    return 0;
}
