/* libgreet 1.0.1: only a function body changed; the surface is the same. */
int greet_count = 1;
const char *greeting(void) { return "hello, again"; }
