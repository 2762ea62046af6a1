/* Built against glibc 2.28 (zig cc -target x86_64-linux-gnu.2.28) while using
 * what later glibc releases added, as code from a static archive of a newer
 * toolchain (libgcc_eh, libstdc++.a) does: the link leaves them undefined and
 * unversioned, and a glibc 2.28 system cannot load the object. */
extern unsigned int arc4random(void);
extern char __libc_single_threaded;

unsigned int pick(void) { return __libc_single_threaded ? arc4random() : 0u; }
