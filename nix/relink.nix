# Build against a library's exported surface; relink to the library itself.
#
#   stubsOf lib       a derivation with a code-free stub (`abicheck abi stub`) of
#                     every shared library in lib/lib, and a copy of the
#                     library's headers (lib.dev's include/, else lib's): its
#                     bytes depend only on the exported surface (SONAME,
#                     symbols, versions, sizes) and the headers, so a compile
#                     that takes both from the stubs depends on nothing else.
#   relink { drv, against, name ? ... }
#                     drv's output with every RUNPATH entry and NEEDED path that
#                     names `stubsOf lib` pointed at `lib` instead, for each lib in
#                     `against` (or each { stubs; lib; }: to load another build
#                     than the one the stubs came from); then `abicheck check --target nix` confirms that
#                     every NEEDED library resolves and that the real library
#                     defines every symbol and version the object imports. A
#                     library whose surface lost what the stub promised fails here,
#                     naming the symbol.
#
# Build the expensive derivation against `stubsOf lib` instead of `lib` (in
# buildInputs, -L, -rpath): with content-addressed derivations, a change to
# `lib` that keeps its surface (a bug fix, a point release) gives byte-identical
# stubs, Nix resolves the compile derivation to the one it already built, and
# only the cheap relink runs again. This needs Nix with
# `experimental-features = ca-derivations` (Nix 2.4 and later). Without it, set
# `contentAddressed = false` and give each stub's NAR hash in `stubHashes`
# (`nix/stub-hash.sh LIB` prints it): the stubs are then fixed-output
# derivations, with the same effect, and a changed surface fails the stub
# build with a hash mismatch until the new hash is written down.
#
# The stubs and relink derivations are trivial: they are built locally
# (preferLocalBuild) and never fetched from or pushed to a binary cache
# (allowSubstitutes = false), so that they do not fill it.
{ pkgs ? null
  # the builders' platform: pkgs' host platform when pkgs is given (flakes have no currentSystem)
, system ? (if pkgs != null then pkgs.stdenv.hostPlatform.system
            else builtins.currentSystem or (throw ''
              relink.nix: give `pkgs` or `system` (pure evaluation, as in a flake, has no builtins.currentSystem)''))
  # PATH for the builders: abicheck, patchelf, and the usual coreutils, findutils, grep, sed
, path
, shell ? "/bin/sh"
, contentAddressed ? true
, stubHashes ? { }
}:

let
  caAttrs = { __contentAddressed = true; outputHashMode = "recursive"; outputHashAlgo = "sha256"; };
  fixedAttrs = name: {
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
    outputHash = stubHashes.${name} or (throw ''
      relink.nix: no stubHashes."${name}"; without ca-derivations every stub needs its hash.
      Run nix/stub-hash.sh on the library and add it.'');
  };
  run = name: attrs: script: builtins.derivation ({
    inherit name system;
    builder = shell;
    args = [ "-c" script ];
    PATH = path;
    preferLocalBuild = true;
    allowSubstitutes = false;
  } // attrs);
  nameOf = drv: drv.name or "library";
in
rec {
  stubsOf = lib:
    let name = "${nameOf lib}-stubs"; in
    run name (if contentAddressed then caAttrs else fixedAttrs (nameOf lib)) ''
      sh ${./make-stubs.sh} ${lib} "$out" ${(lib.dev or lib) + "/include"}
    '';

  # env: more attributes for the relink derivation (its environment)
  relink = { drv, against, name ? "${nameOf drv}-relinked", check ? true, env ? { } }:
    let
      # a library (built against its own stubs), or { stubs; lib; }: the stubs drv was built
      # against, and the library to load instead (another release of it, say)
      pair = a: if a ? stubs then "${a.stubs}/lib=${a.lib}/lib" else "${stubsOf a}/lib=${a}/lib";
      pairs = map pair against;
      libs = map (a: toString (a.lib or a)) against;
    in
    run name ({ pairs = builtins.concatStringsSep " " pairs; } // env) ''
      set -eu
      cp -R ${drv} "$out"
      chmod -R u+w "$out"
      find "$out" -type f | while read -r f; do
        rpath=$(patchelf --print-rpath "$f" 2>/dev/null) || continue
        new=$rpath
        for pair in $pairs; do
          from=''${pair%%=*}; to=''${pair#*=}
          new=$(printf '%s' "$new" | sed "s|$from|$to|g")
          for needed in $(patchelf --print-needed "$f"); do
            case "$needed" in "$from"/*) patchelf --replace-needed "$needed" "$to/''${needed#"$from"/}" "$f" ;; esac
          done
        done
        if [ "$new" != "$rpath" ]; then patchelf --set-rpath "$new" "$f"; fi
      done
      ${if check then ''
        if ! abicheck check --target nix --select AB301,AB311,AB312 "$out" >&2; then
          echo "relink: $out does not load against ${builtins.concatStringsSep " " libs}: the library's surface lost what the stub promised; rebuild against the new stubs" >&2
          exit 1
        fi
      '' else ""}
    '';
}
