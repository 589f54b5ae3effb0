/* Never waits for connections: spins, so that the boot runs past max-boot-time. */
int main(void) {
    for (volatile long i = 0;; i++) {
    }
}
