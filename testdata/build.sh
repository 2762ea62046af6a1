#!/usr/bin/env bash
# Rebuild every committed test binary under testdata/bin/ and its manifest.
#
# Tests never compile: they use the committed outputs of this recipe. Run it
# only when a source or a step here changes, then commit bin/ and
# manifest.json together.
#
# Needs (Debian 12): gcc, g++, binutils, gcc-aarch64-linux-gnu,
# gcc-riscv64-linux-gnu, patchelf, and from PyPI ziglang and pyelftools.
set -euo pipefail
cd "$(dirname "$0")"

SRC=src
OUT=bin
ZIG=(python3 -m ziglang cc -Wl,--strip-debug)
CFLAGS=(-shared -fPIC -O2 -g0 -Wl,-z,max-page-size=4096)
# A fixed, well-formed store path: the tests only look at its shape.
NIX_GLIBC=/nix/store/0c6q3ix6p7yqr0d8bhvzk6x9a9mr6b9l-glibc-2.28

rm -rf "$OUT"
mkdir -p "$OUT"/{x86_64,aarch64,riscv64,i686,s390x,mips,bad}

# Reproducible enough for review: no build ids, no paths from this machine.
LDREPRO=(-Wl,--build-id=none -ffile-prefix-map="$PWD"=.)

# --- x86_64, host toolchain (glibc 2.36, GCC 12): violating --------------
gcc "${CFLAGS[@]}" "${LDREPRO[@]}" -Wl,-soname,libnewglibc.so -o "$OUT/x86_64/newglibc.so" "$SRC/newglibc.c" -lm
gcc "${CFLAGS[@]}" "${LDREPRO[@]}" -o "$OUT/x86_64/portable-host.so" "$SRC/portable.c" -lm
g++ -std=c++20 "${CFLAGS[@]}" "${LDREPRO[@]}" -Wl,-soname,libnewcxx.so.1 -o "$OUT/x86_64/newcxx.so" "$SRC/newcxx.cpp"
gcc "${CFLAGS[@]}" "${LDREPRO[@]}" -o "$OUT/x86_64/weakref.so" "$SRC/weakref.c"
g++ "${CFLAGS[@]}" "${LDREPRO[@]}" -o "$OUT/x86_64/shared-counter.so" "$SRC/shared_counter.cpp"
python3 tools/set_weak_need.py "$OUT/x86_64/weakref.so" GLIBC_2.36
gcc -O2 -g0 "${LDREPRO[@]}" -o "$OUT/x86_64/tool" "$SRC/tool.c"

# A stand-in zlib and an object that uses one of its blacklisted symbols.
mkdir -p "$OUT/x86_64/runtimes"
gcc "${CFLAGS[@]}" "${LDREPRO[@]}" -Wl,-soname,libz.so.1 -o "$OUT/x86_64/runtimes/libz.so.1" "$SRC/zlib_standin.c"
gcc "${CFLAGS[@]}" "${LDREPRO[@]}" -o "$OUT/x86_64/zlib-internal.so" "$SRC/zlib_user.c" \
    -L"$OUT/x86_64/runtimes" -l:libz.so.1

# --- x86_64, glibc 2.28 via zig: conformant -------------------------------
"${ZIG[@]}" -target x86_64-linux-gnu.2.28 "${CFLAGS[@]}" -Wl,--build-id=none \
    -o "$OUT/x86_64/portable-glibc228.so" "$SRC/portable.c" -lm

# --- stripped and section-less twins ---------------------------------------
for f in newglibc newcxx portable-glibc228; do
    strip --strip-all -o "$OUT/x86_64/$f.stripped.so" "$OUT/x86_64/$f.so"
done
python3 tools/drop_sections.py "$OUT/x86_64/newglibc.so" "$OUT/x86_64/newglibc.nosections.so"

# --- path variants (patchelf) -----------------------------------------------
cp "$OUT/x86_64/portable-glibc228.so" "$OUT/x86_64/runpath-origin.so"
patchelf --set-rpath '$ORIGIN/../lib:$ORIGIN' "$OUT/x86_64/runpath-origin.so"
cp "$OUT/x86_64/portable-glibc228.so" "$OUT/x86_64/rpath-absolute.so"
patchelf --force-rpath --set-rpath /opt/vendor/lib "$OUT/x86_64/rpath-absolute.so"
cp "$OUT/x86_64/portable-glibc228.so" "$OUT/x86_64/runpath-nix.so"
patchelf --set-rpath /nix/store/7q3ycwxx4q1rzfb7imfcj1xyz3zq0yl8-zlib-1.3.1/lib "$OUT/x86_64/runpath-nix.so"
cp "$OUT/x86_64/portable-glibc228.so" "$OUT/x86_64/runpath-usr.so"
patchelf --set-rpath /usr/lib64:/build/source/build "$OUT/x86_64/runpath-usr.so"
cp "$OUT/x86_64/tool" "$OUT/x86_64/tool-nix"
patchelf --set-interpreter "$NIX_GLIBC/lib/ld-linux-x86-64.so.2" "$OUT/x86_64/tool-nix"

# --- other architectures -----------------------------------------------------
"${ZIG[@]}" -target aarch64-linux-gnu.2.28 "${CFLAGS[@]}" -Wl,--build-id=none \
    -o "$OUT/aarch64/portable-glibc228.so" "$SRC/portable.c" -lm
aarch64-linux-gnu-gcc "${CFLAGS[@]}" "${LDREPRO[@]}" -o "$OUT/aarch64/newglibc.so" "$SRC/newglibc.c" -lm
riscv64-linux-gnu-gcc "${CFLAGS[@]}" "${LDREPRO[@]}" -o "$OUT/riscv64/newglibc.so" "$SRC/newglibc.c" -lm
# 32-bit little-endian, 64-bit big-endian and 32-bit big-endian readers.
"${ZIG[@]}" -target x86-linux-gnu.2.28 "${CFLAGS[@]}" -Wl,--build-id=none \
    -o "$OUT/i686/portable-glibc228.so" "$SRC/portable.c" -lm
"${ZIG[@]}" -target s390x-linux-gnu.2.28 "${CFLAGS[@]}" -Wl,--build-id=none \
    -o "$OUT/s390x/portable-glibc228.so" "$SRC/portable.c" -lm
"${ZIG[@]}" -target mips-linux-gnueabi.2.28 "${CFLAGS[@]}" -Wl,--build-id=none \
    -o "$OUT/mips/portable-glibc228.so" "$SRC/portable.c" -lm

# --- GPU kernels: tiny stand-in runtimes and kernel-like objects -------------
# Each stand-in is empty.c with the real library's SONAME; the kernels link
# them in good and bad combinations (their NEEDED entries are what matters).
ZIG228=("${ZIG[@]}" -target x86_64-linux-gnu.2.28 "${CFLAGS[@]}" -Wl,--build-id=none)
RT="$OUT/x86_64/runtimes"
for soname in libcudart.so.12 libcudart.so.13 libamdhip64.so.6 libamdhip64.so.7 libsycl.so.8 \
              libcuda.so.1 libc10.so libtorch.so libtorch_cpu.so libc10_cuda.so libtorch_cuda.so \
              libc10_hip.so libtorch_hip.so libc10_xpu.so libtorch_xpu.so libfoo.so; do
    "${ZIG228[@]}" -Wl,-soname,"$soname" -o "$RT/$soname" "$SRC/empty.c"
done
mkdir -p "$OUT/x86_64/kernels"
kernel() {  # kernel NAME LIB...
    local name=$1; shift
    local libs=()
    for lib in "$@"; do libs+=("-l:$lib"); done
    "${ZIG228[@]}" -o "$OUT/x86_64/kernels/$name" "$SRC/kernel.c" -L"$RT" -Wl,--no-as-needed "${libs[@]}" -lm
}
TORCH=(libc10.so libtorch.so libtorch_cpu.so)
kernel cuda-good.abi3.so "${TORCH[@]}" libc10_cuda.so libtorch_cuda.so libcudart.so.12
kernel cuda-cudart13.abi3.so "${TORCH[@]}" libc10_cuda.so libtorch_cuda.so libcudart.so.13
kernel cuda-hip.abi3.so "${TORCH[@]}" libc10_cuda.so libtorch_cuda.so libcudart.so.12 libamdhip64.so.6
kernel cuda-driver.abi3.so "${TORCH[@]}" libc10_cuda.so libtorch_cuda.so libcudart.so.12 libcuda.so.1
kernel cuda-stray.abi3.so "${TORCH[@]}" libc10_cuda.so libtorch_cuda.so libcudart.so.12 libfoo.so
kernel rocm-good.abi3.so "${TORCH[@]}" libc10_hip.so libtorch_hip.so libamdhip64.so.6
kernel xpu-good.abi3.so "${TORCH[@]}" libc10_xpu.so libtorch_xpu.so libsycl.so.8
kernel cpu-good.abi3.so "${TORCH[@]}"
"${ZIG228[@]}" -o "$OUT/x86_64/kernels/pyapi-limited.abi3.so" "$SRC/pyapi.c"
"${ZIG228[@]}" -DUSE_PY312 -o "$OUT/x86_64/kernels/pyapi-py312.abi3.so" "$SRC/pyapi.c"
"${ZIG228[@]}" -DUSE_PRIVATE -o "$OUT/x86_64/kernels/pyapi-private.abi3.so" "$SRC/pyapi.c"

# --- library resolution: where each NEEDED entry comes from ----------------
# A conformant object that also needs libOpenCL.so.1 (not shipped, not on any
# manylinux list), as `patchelf --add-needed` leaves it.
cp "$OUT/x86_64/portable-glibc228.so" "$OUT/x86_64/needs-opencl.so"
patchelf --add-needed libOpenCL.so.1 "$OUT/x86_64/needs-opencl.so"
# An object that needs a library of its own (libbar.so.1): without a RUNPATH,
# and with one that reaches ../pkg.libs as auditwheel repair lays it out.
"${ZIG228[@]}" -Wl,-soname,libbar.so.1 -o "$RT/libbar.so.1" "$SRC/empty.c"
"${ZIG228[@]}" -o "$OUT/x86_64/needs-libbar.so" "$SRC/kernel.c" -L"$RT" -Wl,--no-as-needed -l:libbar.so.1 -lm
cp "$OUT/x86_64/needs-libbar.so" "$OUT/x86_64/needs-libbar-origin.so"
patchelf --set-rpath '$ORIGIN/../pkg.libs' "$OUT/x86_64/needs-libbar-origin.so"
# An extension that needs libneedsbar.so (needs-libbar.so, which has no RUNPATH
# of its own, as auditwheel leaves grafted libraries) and libbar.so.1 itself:
# libbar.so.1 is loaded first, so libneedsbar.so's need is met.
cp "$OUT/x86_64/needs-libbar.so" "$RT/libneedsbar.so"
"${ZIG228[@]}" -o "$OUT/x86_64/needs-two.so" "$SRC/kernel.c" -L"$RT" -Wl,--no-as-needed \
    -l:libneedsbar.so -l:libbar.so.1 -lm
rm "$RT/libneedsbar.so"
patchelf --set-rpath '$ORIGIN/../pkg.libs' "$OUT/x86_64/needs-two.so"
# A library of torch/lib/ that reaches the CUDA runtime wheel's folder, as torch's do.
"${ZIG228[@]}" -o "$OUT/x86_64/needs-cudart-runpath.so" "$SRC/kernel.c" -L"$RT" -Wl,--no-as-needed \
    -l:libcudart.so.12 -lm
patchelf --set-rpath '$ORIGIN/../../nvidia/cuda_runtime/lib' "$OUT/x86_64/needs-cudart-runpath.so"
# A weak reference to a symbol the manylinux_2_17 blacklist names.
"${ZIG228[@]}" -o "$OUT/x86_64/weak-optional.so" "$SRC/weak_optional.c"
# A musl object as musllinux wheels hold them: NEEDED libc.musl-x86_64.so.1.
"${ZIG[@]}" -target x86_64-linux-musl "${CFLAGS[@]}" -Wl,--build-id=none \
    -o "$OUT/x86_64/musl.so" "$SRC/portable.c"
patchelf --replace-needed libc.so libc.musl-x86_64.so.1 "$OUT/x86_64/musl.so"

# --- torch stand-ins in two releases, and kernels built against them -------
# torch/v1/lib and torch/v2/lib hold libc10.so and libtorch_cpu.so (host g++,
# cxx11 ABI); the tests add a version.py to make them an installed torch.
TS="$OUT/x86_64/torch"
for release in 1 2; do
    mkdir -p "$TS/v$release/lib"
    g++ "${CFLAGS[@]}" "${LDREPRO[@]}" -DTORCH_RELEASE=$release -Wl,-soname,libc10.so \
        -o "$TS/v$release/lib/libc10.so" "$SRC/torch_c10.cpp"
    g++ "${CFLAGS[@]}" "${LDREPRO[@]}" -Wl,-soname,libtorch_cpu.so -o "$TS/v$release/lib/libtorch_cpu.so" \
        "$SRC/torch_cpu.cpp" -L"$TS/v$release/lib" -l:libc10.so
done
TORCHLINK=(-L"$TS/v1/lib" -Wl,--no-as-needed -l:libc10.so -l:libtorch_cpu.so)
g++ "${CFLAGS[@]}" "${LDREPRO[@]}" -o "$OUT/x86_64/kernels/torch-kernel.so" "$SRC/torch_kernel.cpp" "${TORCHLINK[@]}"
g++ "${CFLAGS[@]}" "${LDREPRO[@]}" -D_GLIBCXX_USE_CXX11_ABI=0 -o "$OUT/x86_64/kernels/torch-kernel-cxx98.so" \
    "$SRC/torch_kernel.cpp" "${TORCHLINK[@]}"
"${ZIG228[@]}" -o "$OUT/x86_64/kernels/stable-kernel.abi3.so" "$SRC/stable_kernel.c"
"${ZIG228[@]}" -DSLIP_IN_CXX -o "$OUT/x86_64/kernels/stable-kernel-cxx.abi3.so" "$SRC/stable_kernel.c"

# --- ABI surfaces: versions of one small library, and a versioned one -----
mkdir -p "$OUT/x86_64/abi" "$OUT/aarch64/abi"
SHAPE=(gcc "${CFLAGS[@]}" "${LDREPRO[@]}" -Wl,-soname,libshape.so.1)
"${SHAPE[@]}" -o "$OUT/x86_64/abi/libshape-v1.so" "$SRC/libshape.c"
"${SHAPE[@]}" -DBODY_CHANGE -o "$OUT/x86_64/abi/libshape-v1-body.so" "$SRC/libshape.c"
"${SHAPE[@]}" -DREMOVE_SCALE -o "$OUT/x86_64/abi/libshape-v2-removed.so" "$SRC/libshape.c"
"${SHAPE[@]}" -DADD_PERIM -o "$OUT/x86_64/abi/libshape-v3-added.so" "$SRC/libshape.c"
strip --strip-all -o "$OUT/x86_64/abi/libshape-v1.stripped.so" "$OUT/x86_64/abi/libshape-v1.so"
# One surface, two layouts: the same two files linked in either order.
"${SHAPE[@]}" -o "$OUT/x86_64/abi/libshape-split-ab.so" "$SRC/shape_area.c" "$SRC/shape_scale.c"
"${SHAPE[@]}" -o "$OUT/x86_64/abi/libshape-split-ba.so" "$SRC/shape_scale.c" "$SRC/shape_area.c"
# riscv64 (its e_flags carry the float ABI) with a versioned surface.
mkdir -p "$OUT/riscv64/abi"
riscv64-linux-gnu-gcc "${CFLAGS[@]}" "${LDREPRO[@]}" -Wl,-soname,libver.so.1 -Wl,--version-script="$SRC/libver.map" \
    -o "$OUT/riscv64/abi/libver.so" "$SRC/libver.c"
gcc "${CFLAGS[@]}" "${LDREPRO[@]}" -Wl,-soname,libver.so.1 -Wl,--version-script="$SRC/libver.map" \
    -o "$OUT/x86_64/abi/libver.so" "$SRC/libver.c"
# libver's first release (no LIBVER_2.0), and an object built against the current one.
gcc "${CFLAGS[@]}" "${LDREPRO[@]}" -Wl,-soname,libver.so.1 -Wl,--version-script="$SRC/libver_v1.map" \
    -o "$OUT/x86_64/runtimes/libver-1.0.so.1" "$SRC/libver_v1.c"
gcc "${CFLAGS[@]}" "${LDREPRO[@]}" -o "$OUT/x86_64/needs-libver2.so" "$SRC/uses_libver.c" \
    -L"$OUT/x86_64/abi" -l:libver.so -Wl,-rpath,'$ORIGIN'
aarch64-linux-gnu-gcc "${CFLAGS[@]}" "${LDREPRO[@]}" -Wl,-soname,libshape.so.1 \
    -o "$OUT/aarch64/abi/libshape-v1.so" "$SRC/libshape.c"

# --- undefined symbols (AB312) ---------------------------------------------------
# An extension built against libshape v1 (it calls shape_scale, which v2 removed).
mkdir -p "$OUT/x86_64/symbols"
gcc "${CFLAGS[@]}" "${LDREPRO[@]}" -o "$OUT/x86_64/symbols/uses-shape.so" "$SRC/uses_shape.c" \
    -L"$OUT/x86_64/abi" -l:libshape-v1.so -Wl,-rpath,'$ORIGIN'
# An object linked without the library that defines one of its functions.
gcc "${CFLAGS[@]}" "${LDREPRO[@]}" -o "$OUT/x86_64/symbols/forgot-lib.so" "$SRC/forgot_lib.c"
# Built against glibc 2.28, using what later glibc releases added (unversioned, undefined).
"${ZIG228[@]}" -o "$OUT/x86_64/symbols/newer-glibc-calls.so" "$SRC/newer_glibc_calls.c"
# libver.so.1 rebuilt with LIBVER_2.0 still defined but ver_add no longer at it.
gcc "${CFLAGS[@]}" "${LDREPRO[@]}" -Wl,-soname,libver.so.1 -Wl,--version-script="$SRC/libver_partial.map" \
    -o "$OUT/x86_64/runtimes/libver-2.0-partial.so.1" "$SRC/libver_partial.c"

# --- macOS (Mach-O) and Windows (PE) objects -------------------------------------
# zig cc targets both: Python extensions that leave the interpreter's symbols
# to the loader (macOS: -undefined dynamic_lookup; Windows: an import library
# made from a .def file), and no C runtime on Windows to keep the files small.
mkdir -p "$OUT/macos" "$OUT/windows"
PYINC=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
MAC=(python3 -m ziglang cc -shared -undefined dynamic_lookup -O2 -s -I"$PYINC")
"${MAC[@]}" -target aarch64-macos.13.0 -o "$OUT/macos/ext-arm64-13.abi3.so" "$SRC/macos_ext.c"
"${MAC[@]}" -target aarch64-macos.26.0 -o "$OUT/macos/ext-arm64-26.abi3.so" "$SRC/macos_ext.c"
"${MAC[@]}" -target x86_64-macos.11.0 -o "$OUT/macos/ext-x86_64-11.abi3.so" "$SRC/macos_ext.c"
"${MAC[@]}" -target aarch64-macos.13.0 -DPRIVATE_API -o "$OUT/macos/private-api.abi3.so" "$SRC/macos_ext.c"
python3 tools/make_fat.py "$OUT/macos/ext-universal2.abi3.so" "$OUT/macos/ext-x86_64-11.abi3.so" \
    "$OUT/macos/ext-arm64-13.abi3.so"
cp "$OUT/macos/ext-arm64-13.abi3.so" "$OUT/macos/no-min-macos.abi3.so"
python3 tools/drop_min_macos.py "$OUT/macos/no-min-macos.abi3.so"
# An extension that loads a dylib by its /nix/store install name, and searches a build directory.
python3 -m ziglang cc -shared -O2 -s -target aarch64-macos.13.0 \
    -Wl,-install_name,/nix/store/0c6q3ix6p7yqr0d8bhvzk6x9a9mr6b9l-libomp-19.1.7/lib/libomp.dylib \
    -o "$OUT/macos/libomp_standin.dylib" "$SRC/omp_standin.c"
"${MAC[@]}" -target aarch64-macos.13.0 -DUSE_DYLIB -o "$OUT/macos/nix-dylib.abi3.so" "$SRC/macos_ext.c" \
    "$OUT/macos/libomp_standin.dylib" -Wl,-rpath,/opt/kernel-build/lib
# A dylib exporting a function, data, a weak definition and thread-local data (abi dump's Mach-O surface).
python3 -m ziglang cc -shared -O2 -s -target aarch64-macos.13.0 -Wl,-install_name,@rpath/libsurface.1.dylib \
    -o "$OUT/macos/libsurface.dylib" "$SRC/surface.c"
PE=(python3 -m ziglang cc -shared -nostdlib -O2 -s)
for lib in python3 python311; do
    python3 -m ziglang dlltool -d "$SRC/$lib.def" -l "$OUT/windows/$lib-x86_64.lib" -m i386:x86-64
    python3 -m ziglang dlltool -d "$SRC/$lib.def" -l "$OUT/windows/$lib-aarch64.lib" -m arm64
done
"${PE[@]}" -target x86_64-windows-gnu -o "$OUT/windows/stable-x86_64.pyd" "$SRC/windows_ext.c" \
    "$OUT/windows/python3-x86_64.lib"
"${PE[@]}" -target x86_64-windows-gnu -DPRIVATE_API -o "$OUT/windows/python311-x86_64.pyd" "$SRC/windows_ext.c" \
    "$OUT/windows/python311-x86_64.lib"
"${PE[@]}" -target aarch64-windows-gnu -o "$OUT/windows/stable-arm64.pyd" "$SRC/windows_ext.c" \
    "$OUT/windows/python3-aarch64.lib"
# A DLL exporting by name, data, by ordinal alone, and forwarded (abi dump's PE surface).
"${PE[@]}" -target x86_64-windows-gnu -o "$OUT/windows/surface.dll" "$SRC/surface.c" "$SRC/surface.def"
rm -f "$OUT"/windows/*.lib "$OUT"/windows/*.pdb

# --- bad inputs ---------------------------------------------------------------
printf '/* GNU ld script\n   Use the shared library, but some functions are only in\n   the static library.  */\nGROUP ( libfoo.so.1 libfoo_nonshared.a )\n' \
    > "$OUT/bad/linker-script.so"
head -c 40 "$OUT/x86_64/portable-glibc228.so" > "$OUT/bad/truncated-header.so"
head -c 2048 "$OUT/x86_64/newglibc.so" > "$OUT/bad/truncated-tables.so"
python3 - "$OUT/bad/garbage.so" <<'PY'
import random, sys
rng = random.Random(2028)  # fixed seed: the same bytes on every rebuild
data = b"\x7fELF\x02\x01\x01" + bytes(rng.randrange(256) for _ in range(4089))
open(sys.argv[1], "wb").write(data)
PY
printf 'not an ELF object, just text\n' > "$OUT/bad/not-elf.so"
: > "$OUT/bad/empty.so"

python3 tools/make_manifest.py "$OUT" > manifest.json
echo "rebuilt $(find "$OUT" -type f | wc -l) files; manifest.json updated"
