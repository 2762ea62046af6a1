# stdenvGlibc228: nixpkgs' compiler and binutils, wrapped to build and link
# against glibc 2.28, so what it produces needs nothing newer than
# manylinux_2_28 allows.
#
# C++: nixpkgs' GCC ships a libstdc++ far newer than GCC 7's GLIBCXX_3.4.24.
# We link libstdc++ and libgcc statically (-static-libstdc++ -static-libgcc),
# so no GLIBCXX_/CXXABI_ version is needed at run time at all. Trade-offs:
#  * each shared object gets its own copy of libstdc++'s state; kernel
#    builders have seen std::regex and locale initialisation break when two
#    such copies (or one and the process's libstdc++) meet in one process.
#    Keep C++ standard-library objects from crossing the boundary, or build
#    libstdc++ from GCC 8 against glibc 2.28 instead (slower to build, but
#    shared and compatible with the system's libstdc++).
#  * the static libstdc++ was compiled against nixpkgs' newer glibc headers;
#    if it uses a function glibc 2.28 lacks (arc4random in newer GCCs'
#    std::random_device), the link fails against glibc 2.28, loudly, and the
#    abicheck hook reports any symbol that slips through.
{ stdenv
, wrapCCWith
, wrapBintoolsWith
, overrideCC
, glibc_2_28
}:

let
  bintools = wrapBintoolsWith {
    bintools = stdenv.cc.bintools.bintools;
    libc = glibc_2_28;
  };
  cc = wrapCCWith {
    cc = stdenv.cc.cc;
    inherit bintools;
    libc = glibc_2_28;
    extraBuildCommands = ''
      echo "-static-libstdc++ -static-libgcc" >> $out/nix-support/cc-ldflags
    '';
  };
in
overrideCC stdenv cc
