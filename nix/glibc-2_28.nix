# glibc 2.28: the manylinux_2_28 baseline (RHEL 8 / AlmaLinux 8), built from
# the upstream release in the way nixpkgs' glibc/common.nix builds glibc.
#
# What was checked where is in the README ("Using with Nix"): the expression
# is evaluated against a mock nixpkgs in the tests, its postInstall runs on a
# synthetic glibc tree there, and its install steps were run by hand on a real
# glibc 2.28 build. Building it needs nixpkgs and network access:
# nix-build nix -A glibc_2_28
{ lib
, stdenv
, fetchurl
, bison
, python3
, linuxHeaders
}:

let
  # libgcc_s, which glibc 2.28 dlopen()s for pthread_cancel and pthread_exit:
  # from the compiler that builds everything else (see user-defined-trusted-dirs).
  libgcc = stdenv.cc.cc.lib;
in

stdenv.mkDerivation {
  pname = "glibc";
  version = "2.28";

  src = fetchurl {
    url = "mirror://gnu/glibc/glibc-2.28.tar.xz";
    # the sha256 published for glibc-2.28.tar.xz on the GNU mirrors
    sha256 = "b1900051afad76f7a4f73e71413df4826dce085ef8ddb785a945b66d7d513082";
  };

  outputs = [ "out" "dev" "bin" "static" ];

  # stdenv's make (4.4 in nixpkgs 24.11, which has no gnumake42 any more):
  # see the errlist edit below for the one thing 2.28 needs for it.
  nativeBuildInputs = [ bison python3 ];

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
    # Locales come from $LOCALE_ARCHIVE (as in nixpkgs) before the compiled-in
    # path, at both places loadarchive.c opens the archive (the first mapping,
    # and the reopen for a locale outside it).
    substituteInPlace locale/loadarchive.c \
      --replace-fail 'fd = __open_nocancel (archfname,' \
        'fd = __open_nocancel (getenv ("LOCALE_ARCHIVE") != NULL ? getenv ("LOCALE_ARCHIVE") : archfname,'
    # make >= 4.4 loops forever over stdio-common/errlist.o.d: 2.28's
    # sysdeps/gnu/Makefile makes the dependency files of errlist depend on the
    # generated errlist-compat.h, which they are not generated with (glibc bug
    # 31330, fixed on the 2.28 release branch after the tarball). Only the
    # objects need the header.
    substituteInPlace sysdeps/gnu/Makefile \
      --replace-fail '$(foreach o,$(object-suffixes) $(object-suffixes:=.d),\' '$(foreach o,$(object-suffixes),\'
    # make >= 4.4 also puts long options in MAKEFLAGS (--jobserver-auth=...
    # in every parallel build). 2.28 glues "r" onto the end of MAKEFLAGS,
    # which then lands inside the last long option, and looks for an "s"
    # anywhere in it to decide whether make runs silently (glibc bug 29564,
    # fixed on the 2.28 branch after the tarball). Add -r as a word of its
    # own, and look for "s" only among the short options, which make puts
    # first (the leading "-" keeps a first word there when there are none).
    substituteInPlace Makerules \
      --replace-fail 'MAKEFLAGS := $(MAKEFLAGS)r' 'MAKEFLAGS := $(MAKEFLAGS) -r'
    # (not `makefile`: stdenv's buildPhase runs `make -f $makefile` when that is set)
    for rules in Makeconfig Makerules elf/rtld-Rules; do
      substituteInPlace "$rules" \
        --replace-fail '$(findstring s,$(MAKEFLAGS))' '$(findstring s,$(firstword -$(MAKEFLAGS)))'
    done
    # `make install` runs the new ldconfig on $(slibdir) to write a cache at the
    # compiled-in path, outside $out: not in a Nix build.
    substituteInPlace Makefile \
      --replace-fail '$(elf-objpfx)ldconfig $(addprefix -r ,$(install_root))' 'true'
  '';

  # glibc must be configured outside its source tree.
  preConfigure = ''
    configureScript=$PWD/configure
    mkdir ../build
    cd ../build
  '';

  # glibc ignores --bindir and --sbindir: the programs (ldd, iconv, locale,
  # localedef, getent, ...) go to the `bin` output only when make is told so,
  # once configure has written its config.make.
  postConfigure = ''
    makeFlagsArray+=("bindir=$bin/bin" "sbindir=$bin/sbin" "rootsbindir=$bin/sbin")
    # Configure's test programs are done: from here on the cc wrapper must not
    # add rpaths of its own to what glibc links (its loader and libraries
    # must carry none).
    export NIX_DONT_SET_RPATH=1
  '';

  # The cc wrapper must not add this glibc's own lib/ as an rpath of its objects.
  env.NIX_NO_SELF_RPATH = "1";

  # Where the loader looks for libgcc_s.so.1 when pthread_cancel needs it.
  makeFlags = [ "user-defined-trusted-dirs=${libgcc}/lib" ];

  # Without it `make install` writes /etc/rpc (and friends) on the build machine.
  installFlags = [ "sysconfdir=$(out)/etc" ];

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
    # Static archives go to `static`, except the *_nonshared.a ones: the libc.so
    # and libpthread.so linker scripts name them by their path in $out/lib.
    mkdir -p "$static/lib"
    for archive in "$out"/lib/*.a; do
      case "$archive" in
        *_nonshared.a) ;;
        *) mv "$archive" "$static/lib/" ;;
      esac
    done
    # libm.a is itself a linker script on x86_64 (libm-2.28.a and libmvec.a,
    # by their paths in $out/lib): it moved with them, so it names them there.
    for script in "$static"/lib/*.a; do
      if head -c 64 "$script" | grep -q 'GNU ld script'; then
        sed -i "s|$out/lib/|$static/lib/|g" "$script"
      fi
    done
    # The Linux headers glibc's own headers include (<linux/limits.h>,
    # <linux/errno.h>, ...), beside them; glibc's own scsi/ wins. With a `dev`
    # output, stdenv configures --includedir=$dev/include: the headers are there.
    for dir in ${linuxHeaders}/include/*; do
      [ -e "$dev/include/''${dir##*/}" ] || ln -s "$dir" "$dev/include/"
    done
    # ldd and other scripts look for the loader in lib64 on 64-bit machines.
    if [ -e "$out/lib/ld-linux-x86-64.so.2" ] || [ -e "$out/lib/ld-linux-aarch64.so.1" ]; then
      ln -s lib "$out/lib64"
    fi
    rm -f "$out/etc/ld.so.cache"
  '';

  passthru = { inherit libgcc; };

  meta = {
    description = "GNU C library 2.28, the manylinux_2_28 baseline";
    homepage = "https://www.gnu.org/software/libc/";
    license = lib.licenses.lgpl2Plus;
    platforms = lib.platforms.linux;
  };
}
