/* A dynamic program that needs one library, needed_symbol's (hostile_needed_lib.c): linked by
 * DynamicGrantsTest with the library's name, run path and loader each test chooses. */
int needed_symbol(void);

int main(void) {
    return needed_symbol();
}
