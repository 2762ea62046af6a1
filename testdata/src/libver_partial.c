/* A rebuilt libver.so.1 that defines LIBVER_2.0 but moved ver_add back to
 * LIBVER_1.0 only (libver_partial.map): ver_add@LIBVER_2.0 is gone. */
int ver_counter = 7;

int ver_add(int a, int b) { return a + b; }
int ver_sub(int a, int b) { return a - b; }
