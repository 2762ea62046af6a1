# The relink split on a small library and a program that uses it:
#
#   nix-build nix/examples/relink -A relinked --argstr path "$PATH" --arg library ./greet-v1.c
#
# `library` is the library's source; build once, change only function bodies
# (greet-v1-body.c) and build again: `compiled` is not rebuilt, `relinked` is,
# and the program prints the new text. `runtime` (another source) relinks the
# program built against `library` to that library instead. Needs `experimental-features =
# ca-derivations`, and a host compiler on `path` (this example builds with the
# machine's gcc, outside nixpkgs, so that it runs offline in CI).
{ path, library, runtime ? library, contentAddressed ? true, stubHashes ? { }, nonce ? "" }:

let
  relinkLib = import ../../relink.nix { inherit path contentAddressed stubHashes; };
  ca = if contentAddressed then { __contentAddressed = true; outputHashMode = "recursive"; outputHashAlgo = "sha256"; }
       else { };
  build = name: script: attrs: builtins.derivation ({
    inherit name;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" script ];
    PATH = path;
  } // ca // attrs);

  libgreet = source: build "libgreet" ''
    set -eu
    mkdir -p "$out/lib" "$out/include"
    cp ${./greet.h} "$out/include/greet.h"
    gcc -shared -fPIC -O2 -Wl,-soname,libgreet.so.1 -o "$out/lib/libgreet.so.1" ${source}
    ln -s libgreet.so.1 "$out/lib/libgreet.so"
  '' { inherit nonce; };
  greet = libgreet library;

  stubs = relinkLib.stubsOf greet;

  # The expensive step: it sees only the stubs (the library's headers and code-free libraries).
  compiled = build "greet-program" ''
    set -eu
    mkdir -p "$out/bin"
    gcc -O2 -I${stubs}/include -o "$out/bin/greet" ${./main.c} -L${stubs}/lib -lgreet -Wl,-rpath,${stubs}/lib
  '' { inherit nonce; };
in
{
  inherit greet stubs compiled;
  # Normally the library it was built against: `against = [ greet ]`. With
  # `runtime`, another release is loaded in its place, as when a prebuilt
  # program meets a new library; the relink check says whether it still loads.
  relinked = relinkLib.relink {
    drv = compiled;
    against = if runtime == library then [ greet ] else [ { stubs = stubs; lib = libgreet runtime; } ];
    env = { inherit nonce; };
  };
}
