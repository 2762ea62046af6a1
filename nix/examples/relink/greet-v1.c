/* libgreet 1.0 */
int greet_count = 1;
const char *greeting(void) { return "hello"; }
