/* The library hostile_needed.c needs; DynamicGrantsTest gives it the soname (and so the DT_NEEDED
 * of the programs linked with it) each case names. */
int needed_symbol(void) {
    return 42;
}
