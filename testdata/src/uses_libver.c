/* Built against the current libver.so.1, so it needs ver_add@LIBVER_2.0. */
extern int ver_add(int a, int b);

int use_ver(int x) { return ver_add(x, 1); }
