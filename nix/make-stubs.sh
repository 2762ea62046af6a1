# shellcheck shell=sh
# make-stubs.sh LIB OUT [HEADERS]: a stub (`abicheck abi stub`) of every shared
# library in LIB/lib, in OUT/lib (symlinks kept as they are), and a copy of the
# HEADERS folder (default LIB/include, when there is one) in OUT/include, so
# that a compile can take everything it needs of the library from the stubs.
# Used by relink.nix's stubsOf and by stub-hash.sh, so both make the same bytes.
set -eu
lib=$1
out=$2
headers=${3:-$lib/include}
mkdir -p "$out/lib"
if [ -d "$headers" ]; then
    cp -R "$headers" "$out/include"
    chmod -R u+w "$out/include"
fi
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
