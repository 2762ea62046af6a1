/* libgreet 1.1: one more function; everything the program uses is still there. */
int greet_count = 1;
const char *greeting(void) { return "hello"; }
const char *farewell(void) { return "bye"; }
