// A stand-in for torch's libtorch_cpu.so: one at:: function; it needs libc10.so.
namespace at {
int add(int a, int b) { return a + b; }
}  // namespace at
