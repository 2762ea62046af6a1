/* A Windows extension (.pyd) without the C runtime: imports only from the
 * Python DLL its import library names (python3.dll for the stable ABI,
 * python311.dll for one release). -DPRIVATE_API calls _PyLong_FromByteArray. */
__declspec(dllimport) void *PyLong_FromLong(long v);
#ifdef PRIVATE_API
__declspec(dllimport) void *_PyLong_FromByteArray(const unsigned char *b, unsigned long n, int le, int s);
#endif

int __stdcall DllMainCRTStartup(void *module, unsigned reason, void *reserved) { return 1; }

__declspec(dllexport) void *PyInit__ext(void) {
#ifdef PRIVATE_API
    return _PyLong_FromByteArray((const unsigned char *)"a", 1, 1, 0);
#else
    return PyLong_FromLong(42);
#endif
}
