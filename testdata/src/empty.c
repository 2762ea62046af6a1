/* Intentionally empty: linked with -Wl,-soname,<name> it becomes a tiny
 * stand-in for a runtime library (libcudart.so.12, libc10.so, ...). */
