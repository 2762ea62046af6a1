/* A stand-in for zlib (linked with -Wl,-soname,libz.so.1): it exports one
 * ordinary function and one internal table that manylinux policies blacklist
 * because it differs between zlib builds. */
const unsigned char _dist_code[512] = {0};

int compressBound(int n) { return n + n / 1000 + 64; }
