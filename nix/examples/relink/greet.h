/* libgreet's interface, installed with the library and copied into its stubs. */
#ifndef GREET_H
#define GREET_H
extern const char *greeting(void);
extern int greet_count;
#endif
