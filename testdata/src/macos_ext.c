/* A Python extension for macOS built for the stable ABI (Py_LIMITED_API 3.9).
 * -DPRIVATE_API also calls _PyLong_FromByteArray, outside the stable ABI;
 * -DUSE_DYLIB calls into libomp_standin.dylib, linked by whatever install
 * name that dylib was given. */
#define Py_LIMITED_API 0x03090000
#include <Python.h>

#ifdef USE_DYLIB
extern int omp_standin_threads(void);
#endif
#ifdef PRIVATE_API
extern PyObject *_PyLong_FromByteArray(const unsigned char *bytes, size_t n, int little_endian, int is_signed);
#endif

PyObject *answer(void) {
#ifdef PRIVATE_API
    return _PyLong_FromByteArray((const unsigned char *)"a", 1, 1, 0);
#elif defined(USE_DYLIB)
    return PyLong_FromLong(omp_standin_threads());
#else
    return PyLong_FromLong(42);
#endif
}
