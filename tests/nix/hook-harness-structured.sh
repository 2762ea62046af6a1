# Builder for tests/nix/hook-test.nix with __structuredAttrs: the attributes
# come from .attrs.sh, as stdenv's setup reads them, and `outputs` is an
# associative array. The objects go to the `lib` output only.
set -eu
# shellcheck disable=SC1091
source .attrs.sh
export PATH
postFixupHooks=()
# shellcheck disable=SC1090
source "$hook"
mkdir -p "${outputs[out]}" "${outputs[lib]}/lib"
for object in $objects; do
    cp "$object" "${outputs[lib]}/lib/"
done
for h in "${postFixupHooks[@]}"; do
    "$h"
done
echo "hook harness: build finished"
