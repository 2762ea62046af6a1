#!/bin/sh
# stub-hash.sh LIB [HEADERS]: the NAR hash of `stubsOf LIB` (relink.nix), for
# Nix without ca-derivations, where the stubs are fixed-output derivations
# (HEADERS: the library's headers when they are not in LIB/include, as in
# its `dev` output):
#
#   stubHashes = { libgreet = "<what this prints>"; };
#
# LIB is the library's output path (nix-build -A yourLibrary). Needs abicheck
# and nix-hash on PATH.
set -eu
lib=${1:?usage: stub-hash.sh LIBRARY_OUTPUT_PATH}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! sh "$(dirname "$0")/make-stubs.sh" "$lib" "$tmp/out" ${2:+"$2"} >"$tmp/log" 2>&1; then
    cat "$tmp/log" >&2
    exit 1
fi
nix-hash --type sha256 --base32 "$tmp/out"
