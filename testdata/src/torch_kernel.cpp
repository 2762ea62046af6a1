// A kernel-like object importing from torch: c10 and at symbols, one taking a
// std::string (so its mangled name carries the C++ ABI it was built with).
#include <string>

namespace c10 {
struct RegisterOperators {
    RegisterOperators();
    ~RegisterOperators();
};
void warn(const std::string& message);
}  // namespace c10
namespace at {
int add(int a, int b);
}  // namespace at

extern "C" int kernel_entry(int x) {
    c10::RegisterOperators guard;
    c10::warn("kernel");
    return at::add(x, 1);
}
