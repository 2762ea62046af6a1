/* The program built against libgreet's stubs: its header and its code-free library. */
#include <stdio.h>

#include "greet.h"

int main(void) {
    printf("%s (%d)\n", greeting(), greet_count);
    return 0;
}
