# The toolchain kernel-builder builds with, from the RPM package set
# (./default.nix): gcc-toolset-N's gcc, g++ and libstdc++-devel merged into
# one unwrapped compiler in the shape of nixpkgs' gcc-unwrapped, wrapped with
# gcc-toolset's binutils over glibc 2.28, as a stdenv.
#
# C++ objects link the EL8 `libstdc++.so.6` dynamically: `-lstdc++` finds
# gcc-toolset's libstdc++.so, a linker script that overrides.nix points at
# the `libstdc++` package, and takes what newer GCCs add from
# libstdc++_nonshared.a (the manylinux_2_28 images' way), so an object needs
# at most GLIBCXX_3.4.25 and shares torch's libstdc++ at run time instead of
# carrying its own.
{ system
  # PATH for the merge: coreutils (cp -s, ln)
, path
, shell ? "/bin/sh"
, rpms              # the package set of ./default.nix
, glibc             # glibc 2.28 (nix/glibc-2_28.nix)
, stdenv
, wrapCCWith
, wrapBintoolsWith
, overrideCC
  # gcc-toolset-N to build with; by default the newest the metadata has, and for a CUDA variant
  # (`cuda = "12.8"`) the newest its nvcc accepts (policies/nvcc-host-compilers.json)
, toolset ? null
, cuda ? null
, triple ? "x86_64-redhat-linux"  # the target GCC's RPMs were configured for: its lib/gcc/<triple>/<N>
}:

let
  number = builtins.fromJSON;
  available = builtins.sort (a: b: number a < number b) (builtins.concatMap
    (name: let m = builtins.match "gcc-toolset-([0-9]+)-gcc" name; in if m == null then [ ] else m)
    (builtins.attrNames rpms));
  nvcc = (builtins.fromJSON (builtins.readFile ../../policies/nvcc-host-compilers.json)).cuda;
  bound = if cuda == null then null else (nvcc.${cuda} or (throw
    "nix/rpm/toolchain.nix: abicheck's data has no nvcc for CUDA ${cuda} (it has ${toString (builtins.attrNames nvcc)})")).gcc_max;
  accepted = builtins.filter (n: bound == null || number n <= bound) available;
  chosen =
    if toolset != null then
      (if bound != null && number toolset > bound
       then throw "nix/rpm/toolchain.nix: gcc-toolset-${toolset} is newer than CUDA ${cuda}'s nvcc accepts (GCC ${toString bound} at most)"
       else toolset)
    else if accepted == [ ] then
      throw "nix/rpm/toolchain.nix: the RPM metadata has no gcc-toolset${if bound == null then "" else " of GCC ${toString bound} or older for CUDA ${cuda}"}"
    else builtins.elemAt accepted (builtins.length accepted - 1);
  part = name: rpms."gcc-toolset-${chosen}-${name}"
    or (throw "nix/rpm/toolchain.nix: the RPM metadata has no gcc-toolset-${chosen}-${name}");
  parts = [ (part "gcc") (part "gcc-c++") (part "libstdc++-devel") ];
  libstdcxx = rpms."libstdc++" or (throw "nix/rpm/toolchain.nix: the RPM metadata has no libstdc++");
  # EL8's libgcc_s.so.1 (GCC 8.5's, built against glibc 2.28): the one glibc 2.28 loads for
  # pthread_cancel and unwinding. A newer GCC's needs _dl_find_object (glibc 2.35) and is refused.
  libgcc = rpms.libgcc or (throw "nix/rpm/toolchain.nix: the RPM metadata has no libgcc");

  # One tree of symlinks, the way gcc-unwrapped is laid out: bin, lib/gcc, libexec/gcc, include/c++.
  # `lib`: the runtime libraries, EL8's libstdc++.so.6 and libgcc_s.so.1 (what cc-wrapper takes from
  # cc.lib, and what glibc_2_28's user-defined-trusted-dirs names when built with this compiler).
  merged = builtins.derivation {
    name = "gcc-toolset-${chosen}-unwrapped";
    inherit system;
    builder = shell;
    PATH = path;
    outputs = [ "out" "lib" ];
    parts = map toString (parts ++ map (p: p.dev) parts);
    libstdcxx = toString libstdcxx;
    libgcc = toString libgcc;
    args = [ "-c" ''
      set -eu
      mkdir -p "$out" "$lib/lib"
      for p in $parts; do
        for dir in bin include lib libexec share; do
          if [ -d "$p/$dir" ]; then
            mkdir -p "$out/$dir"
            cp -rsn "$p/$dir/." "$out/$dir/"
          fi
        done
      done
      for f in "$libstdcxx"/lib/libstdc++.so.6* "$libgcc"/lib/libgcc_s*.so*; do ln -s "$f" "$lib/lib/"; done
    '' ];
  };
  cc = merged // {
    pname = "gcc-toolset-${chosen}";
    inherit (part "gcc") version;
    isGNU = true;
    langC = true;
    langCC = true;
  };
  bintools = wrapBintoolsWith { bintools = part "binutils"; libc = glibc; };
in
overrideCC stdenv (wrapCCWith {
  inherit cc bintools;
  libc = glibc;
  # gcc-toolset's own folder first, so that -lstdc++ is its linker script (EL8 libstdc++.so.6 plus the
  # nonshared archive), never a libstdc++.so from elsewhere.
  extraBuildCommands = ''
    echo "-L${merged}/lib/gcc/${triple}/${chosen}" >> $out/nix-support/cc-ldflags
  '';
})
