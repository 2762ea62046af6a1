/* A library whose exported surface has each kind a Mach-O or PE export can
   have: a function, data (also zero-filled), a weak definition, thread-local
   data (Mach-O), and a hidden function that must not be listed. Built with no
   C runtime, the DLL names its own entry point. */
int surface_count = 3;
/* zero-filled and page-aligned: past the bytes its section has in the file */
int surface_zeroed __attribute__((aligned(4096)));
#ifdef _WIN32
int __stdcall DllMainCRTStartup(void *module, unsigned reason, void *reserved) { return 1; }
#else
__thread int surface_error;
#endif
int surface_area(int a, int b) { return a * b; }
__attribute__((weak)) int surface_hook(void) { return 0; }
static int hidden_helper(void) { return 1; }
__attribute__((visibility("hidden"))) int surface_private(void) { return hidden_helper(); }
