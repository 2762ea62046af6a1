/* libgreet 2.0: greeting() is gone; a program built against 1.0 cannot load. */
int greet_count = 1;
const char *salutation(void) { return "hello"; }
