# stdenvGlibc228: a stdenv whose output needs nothing newer than manylinux_2_28
# allows (GLIBC_2.28, and no GLIBCXX_/CXXABI_ version at all).
#
# C: nixpkgs' compiler and binutils, wrapped to build and link against glibc
# 2.28 (its headers, its libc.so linker script, its loader).
#
# C++: the C++ runtime is the hard part. nixpkgs' libstdc++ is far newer than
# GCC 7's GLIBCXX_3.4.24, and both ways of using it as it is fail:
#  * linking it dynamically needs GLIBCXX_3.4.25 and later at run time;
#  * linking its libstdc++.a statically fails at link time against glibc 2.28,
#    because it was compiled against nixpkgs' newer glibc: any function-local
#    static needs __libc_single_threaded (GLIBC_2.32), libgcc_eh needs
#    _dl_find_object (2.35), std::random_device arc4random (2.36); and its
#    headers (c++config.h) promise pthread_cond_clockwait and
#    pthread_mutex_clocklock, which <mutex> and <condition_variable> then
#    fail to find in glibc 2.28's headers.
# The strategy here: build GCC once more with the glibc 2.28 C toolchain, so
# that its target libraries (libstdc++, libgcc_eh, libsupc++) are configured
# against glibc 2.28's headers and compiled against them, then link them
# statically (-static-libstdc++ -static-libgcc). The object then needs no
# GLIBCXX_ version, and every glibc symbol the runtime pulls in exists in 2.28.
# Why not the alternatives:
#  * AlmaLinux 8's gcc-toolset (what kernel-builder uses today: the system's
#    libstdc++.so.6 plus libstdc++_nonshared.a for newer parts) needs
#    binaries from outside nixpkgs, fetched by hash;
#  * an era-appropriate libstdc++ (GCC 7 or 8) cannot compile the C++17/20
#    that kernels are written in.
# Trade-off of linking statically: each shared object gets its own copy of
# libstdc++'s state. Keep standard-library objects (std::string, exceptions)
# from crossing between separately linked objects, or check that the ones
# that meet were built by the same toolchain; kernels talking to torch only
# through its C++ API get torch's libstdc++ for those types, loaded first.
# The abicheck hook (abicheckHook) checks every output, so a glibc symbol or
# GLIBCXX_ version that slips through fails the build, naming it.
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
  # nixpkgs' GCC, wrapped for glibc 2.28: it builds C, and the GCC below.
  bootstrapCC = wrapCCWith {
    cc = stdenv.cc.cc;
    inherit bintools;
    libc = glibc_2_28;
  };
  # The same GCC, rebuilt by that compiler: its target libraries are
  # configured and compiled against glibc 2.28.
  gccForGlibc228 = stdenv.cc.cc.override {
    stdenv = overrideCC stdenv bootstrapCC;
  };
  cc = wrapCCWith {
    cc = gccForGlibc228;
    inherit bintools;
    libc = glibc_2_28;
    extraBuildCommands = ''
      echo "-static-libstdc++ -static-libgcc" >> $out/nix-support/cc-ldflags
    '';
  };
in
overrideCC stdenv cc
