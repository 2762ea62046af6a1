# shellcheck shell=sh
# make-stubs.sh LIB OUT: a stub (`abicheck abi stub`) of every shared library
# in LIB/lib, in OUT/lib; symlinks are kept as they are. Used by relink.nix's
# stubsOf and by stub-hash.sh, so both make the same bytes.
set -eu
lib=$1
out=$2
mkdir -p "$out/lib"
found=0
for f in "$lib"/lib/*.so*; do
    [ -e "$f" ] || [ -L "$f" ] || continue
    n=${f##*/}
    if [ -L "$f" ]; then
        cp -P "$f" "$out/lib/$n"
    else
        abicheck abi stub "$f" -o "$out/lib/$n"
        found=1
    fi
done
if [ "$found" = 0 ]; then
    echo "make-stubs.sh: no shared library in $lib/lib" >&2
    exit 1
fi
