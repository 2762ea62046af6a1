/* The same kernel-like shared object without arc4random, so that it can be
 * built against glibc 2.28 (zig cc -target <arch>-linux-gnu.2.28), where it
 * binds only versions that manylinux_2_28 allows.
 */
#include <math.h>
#include <pthread.h>
#include <string.h>

static void *worker(void *arg) { return arg; }

int run_worker(void) {
    pthread_t thread;
    if (pthread_create(&thread, NULL, worker, NULL) != 0)
        return -1;
    return pthread_join(thread, NULL);
}

double activation(double x) { return exp(x) + log(x + 1.0) + pow(x, 0.5); }

void copy_block(void *dst, const void *src, unsigned long n) { memcpy(dst, src, n); }
