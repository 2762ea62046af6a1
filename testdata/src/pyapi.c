/* An extension built as .abi3.so that uses the Python C API. The recipe
 * builds it twice:
 *   -DUSE_PY312  : also calls PyType_FromMetaclass, in the stable ABI only
 *                  since Python 3.12 (AB502 under a cp39-abi3 claim);
 *   -DUSE_PRIVATE: also calls _PyLong_AsByteArray, which is not in the
 *                  stable ABI at all (AB501).
 * The Python symbols stay undefined, as in every extension module. */
typedef struct _object PyObject;
extern PyObject *PyLong_FromLong(long);
extern PyObject *PyModule_Create2(void *, int);
#ifdef USE_PY312
extern PyObject *PyType_FromMetaclass(void *, PyObject *, void *, PyObject *);
#endif
#ifdef USE_PRIVATE
extern int _PyLong_AsByteArray(void *, unsigned char *, unsigned long, int, int);
#endif

PyObject *make_answer(void) {
#ifdef USE_PY312
    (void)PyType_FromMetaclass(0, 0, 0, 0);
#endif
#ifdef USE_PRIVATE
    (void)_PyLong_AsByteArray(0, 0, 0, 1, 0);
#endif
    return PyLong_FromLong(42);
}

PyObject *PyInit__demo(void) { return PyModule_Create2(0, 3); }
