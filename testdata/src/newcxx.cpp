// A C++ shared object that needs a libstdc++ newer than GCC 7's
// (manylinux_2_28 allows GLIBCXX_3.4.24 at most):
//   std::filesystem   -> GLIBCXX_3.4.26
//   std::to_chars(double) -> GLIBCXX_3.4.29
#include <charconv>
#include <filesystem>
#include <stdexcept>
#include <string>

std::string file_stem(const char *path) {
    return std::filesystem::path(path).stem().string();
}

int format_double(double value, char *begin, char *end) {
    return static_cast<int>(std::to_chars(begin, end, value).ptr - begin);
}

void fail(const char *what) { throw std::runtime_error(what); }
