# Builder for tests/nix/hook-test.nix: installs test objects into $out and
# runs the abicheck hook the way stdenv's fixupPhase runs postFixupHooks.
set -eu
postFixupHooks=()
# shellcheck disable=SC1090
source "$hook"
mkdir -p "$out/lib"
for object in $objects; do
    cp "$object" "$out/lib/"
done
for h in "${postFixupHooks[@]}"; do
    "$h"
done
echo "hook harness: build finished"
