# glibc 2.28: the manylinux_2_28 baseline (RHEL 8 / AlmaLinux 8), built from
# the upstream release in the way nixpkgs' glibc/common.nix builds glibc.
#
# This machine has no network, so this derivation was evaluated (see
# tests/test_nix.py) but never built here. Building it needs nixpkgs and
# network access: nix-build nix -A glibc_2_28
{ lib
, stdenv
, fetchurl
, bison
, python3
, gnumake42
, linuxHeaders
}:

stdenv.mkDerivation {
  pname = "glibc";
  version = "2.28";

  src = fetchurl {
    url = "mirror://gnu/glibc/glibc-2.28.tar.xz";
    # the sha256 published for glibc-2.28.tar.xz on the GNU mirrors
    sha256 = "b1900051afad76f7a4f73e71413df4826dce085ef8ddb785a945b66d7d513082";
  };

  outputs = [ "out" "dev" "bin" "static" ];

  # make >= 4.4 hangs in glibc < 2.37's Makerules (its MAKEFLAGS parsing
  # sees the new long-option layout); nixpkgs keeps make 4.2 as gnumake42
  # for exactly such old builds, and it comes first on PATH here.
  nativeBuildInputs = [ bison python3 gnumake42 ];

  # Our own edits, written here rather than copied from elsewhere. Each
  # replace fails the build if glibc's text is not there, so a mismatch
  # cannot pass silently.
  postPatch = ''
    # Nix: the loader must not read the host's /etc/ld.so.cache ...
    substituteInPlace sysdeps/generic/dl-cache.h \
      --replace-fail 'SYSCONFDIR "/ld.so.cache"' '"/nix/var/abicheck-no-ld.so.cache"'
    # ... nor preload what the host's /etc/ld.so.preload lists.
    substituteInPlace elf/rtld.c \
      --replace-fail '"/etc/ld.so.preload"' '"/nix/var/abicheck-no-ld.so.preload"'
    # Locales come from $LOCALE_ARCHIVE (as in nixpkgs) before the compiled-in path.
    substituteInPlace locale/loadarchive.c \
      --replace-fail 'fd = __open_nocancel (archfname, O_RDONLY|O_LARGEFILE|O_CLOEXEC);' \
        'const char *nixarch = getenv ("LOCALE_ARCHIVE"); fd = __open_nocancel (nixarch != NULL ? nixarch : archfname, O_RDONLY|O_LARGEFILE|O_CLOEXEC);'
  '';

  # glibc must be configured outside its source tree.
  preConfigure = ''
    configureScript=$PWD/configure
    mkdir ../build
    cd ../build
  '';

  configureFlags = [
    "--enable-kernel=3.2.0"
    "--disable-werror"            # newer compilers warn where 2.28's authors did not
    "--enable-stack-protector=strong"
    "--enable-bind-now"
    "--disable-cet"               # no CET markers: manylinux_2_28 does not assume them
    "--disable-profile"
    "--with-headers=${linuxHeaders}/include"
    "--sysconfdir=/etc"
  ];

  # GCC >= 10 defaults to -fno-common and newer GCCs warn more; glibc 2.28
  # predates both. Hardening that glibc handles itself is left to configure.
  env.NIX_CFLAGS_COMPILE = "-fcommon -Wno-error";
  hardeningDisable = [ "fortify" "pie" "stackprotector" ];

  enableParallelBuilding = true;
  dontStrip = false;
  separateDebugInfo = false;

  postInstall = ''
    mkdir -p $static/lib
    mv $out/lib/*.a $static/lib/ || true
  '';

  meta = {
    description = "GNU C library 2.28, the manylinux_2_28 baseline";
    homepage = "https://www.gnu.org/software/libc/";
    license = lib.licenses.lgpl2Plus;
    platforms = lib.platforms.linux;
  };
}
