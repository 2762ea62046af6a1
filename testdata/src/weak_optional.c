/* An optional glibc function used the way Rust's std uses it: a weak
 * reference, checked at run time, so the object loads where it is missing.
 * auditwheel's manylinux_2_17 blacklist names this symbol; a weak reference
 * to it is not a problem. getenv makes libc.so.6 a NEEDED library. */
#include <stdlib.h>

extern int __cxa_thread_atexit_impl(void (*)(void *), void *, void *) __attribute__((weak));

int has_thread_atexit(const char *name) { return __cxa_thread_atexit_impl != 0 && getenv(name) != 0; }
