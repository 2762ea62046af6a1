/* libver's first release: ver_add and ver_counter at LIBVER_1.0, and no LIBVER_2.0 yet. */
int ver_counter = 7;

int ver_add(int a, int b) { return a + b; }
