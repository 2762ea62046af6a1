/* A symbol-versioned library (libver.map): ver_add exists at LIBVER_1.0 (old
 * behaviour) and at LIBVER_2.0 (the default), ver_counter only at 1.0. */
int ver_counter = 7;

int ver_add_v1(int a, int b) { return a + b; }
int ver_add_v2(int a, int b) { return a + b + 1000; }
__asm__(".symver ver_add_v1, ver_add@LIBVER_1.0");
__asm__(".symver ver_add_v2, ver_add@@LIBVER_2.0");
