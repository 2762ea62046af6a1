/* The program built against libgreet's stubs. */
#include <stdio.h>

extern const char *greeting(void);
extern int greet_count;

int main(void) {
    printf("%s (%d)\n", greeting(), greet_count);
    return 0;
}
