/* A small executable, for the interpreter (PT_INTERP) checks. */
#include <stdio.h>

int main(void) {
    puts("hello");
    return 0;
}
