/* A kernel-like shared object that binds glibc symbols introduced after 2.28
 * when it is linked against a newer glibc (the host's 2.36):
 *   pthread_join, pthread_create, dlopen  -> GLIBC_2.34 (moved into libc.so.6)
 *   exp, log, pow                         -> GLIBC_2.29 (new fast implementations)
 *   arc4random                            -> GLIBC_2.36 (did not exist before)
 *   memcpy                                -> GLIBC_2.14 (fine for manylinux_2_28)
 */
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *worker(void *arg) { return arg; }

int run_worker(void) {
    pthread_t thread;
    if (pthread_create(&thread, NULL, worker, NULL) != 0)
        return -1;
    return pthread_join(thread, NULL);
}

double activation(double x) { return exp(x) + log(x + 1.0) + pow(x, 0.5); }

uint32_t random_seed(void) { return arc4random(); }

void *open_plugin(const char *name) { return dlopen(name, RTLD_NOW); }

void copy_block(void *dst, const void *src, size_t n) { memcpy(dst, src, n); }
