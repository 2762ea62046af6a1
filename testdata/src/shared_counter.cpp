// Copies a std::shared_ptr: libstdc++'s reference counting (GCC 11 and later,
// with glibc 2.32+ headers) reads __libc_single_threaded. Nothing in the code
// names it: a rebuild against older glibc headers drops it.
#include <memory>

std::shared_ptr<int> keep(const std::shared_ptr<int>& value) {
    std::shared_ptr<int> copy = value;
    return copy;
}
