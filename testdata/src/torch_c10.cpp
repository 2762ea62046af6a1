// A stand-in for torch's libc10.so with real c10-style mangled names, in two
// "releases": release 2 no longer has ~RegisterOperators(), as torch releases
// drop C++ symbols that kernels built against the previous one still import.
#include <string>

namespace c10 {
struct RegisterOperators {
    RegisterOperators();
    ~RegisterOperators();
};
RegisterOperators::RegisterOperators() {}
#if TORCH_RELEASE == 1
RegisterOperators::~RegisterOperators() {}
#endif
void warn(const std::string& message) { (void)message; }
}  // namespace c10
