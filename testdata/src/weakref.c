/* Uses arc4random only through a weak reference, falling back when the
 * running glibc lacks it. The recipe marks its GLIBC_2.36 version need
 * VER_FLG_WEAK (GNU ld does not), as other linkers do for such references. */
#include <stdint.h>
#include <stdio.h>

extern uint32_t arc4random(void) __attribute__((weak));

unsigned seed(void) {
    puts("seeding");
    return arc4random ? arc4random() : 4u;
}
