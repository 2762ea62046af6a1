"""Generate policies/variants.json: the build-variant grammar kernel-builder and `kernels` use today.

    python tools/gen_variants.py KERNELS_CHECKOUT > policies/variants.json

KERNELS_CHECKOUT is a checkout (or a bare clone: `git show` is used when it
has no work tree) of github.com/huggingface/kernels. Read from it:

* kernels/src/kernels/variants.py: the frameworks (`torch28-cxx11`,
  `torch-stable-abi29`, `tvm-ffi01`) as their `_VARIANT_REGEX`es;
* kernels/src/kernels/backends.py: the compute tokens `parse_backend`
  accepts (`cu128`, `rocm71`, `xpu20253`, `cann80`, `cpu`, `metal`, `tpu`,
  `neuron`), each with its backend name and version pattern;
* kernels/src/kernels/variants.py `resolve_variants`: the operating systems
  a variant may name (linux, darwin, windows);
* nix-builder/build-variants.json: every variant kernel-builder builds
  today, kept as examples and checked against the grammar;
* docs/source/kernel-requirements.md: the backend types metadata.json may
  declare (the noarch variants are `torch-<type>`);
* kernel-builder/src/check_abi.rs and variants.py: check-abi's default
  `--macos`, and the macOS the kernels loader requires for Metal variants.

The script fails when the sources no longer look as expected, rather than
guessing.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys

FILES = {
    "variants": "kernels/src/kernels/variants.py",
    "backends": "kernels/src/kernels/backends.py",
    "build_variants": "nix-builder/build-variants.json",
    "requirements": "docs/source/kernel-requirements.md",
    "check_abi": "kernel-builder/src/check_abi.rs",
}


def read(checkout: str, path: str) -> str:
    on_disk = os.path.join(checkout, path)
    if os.path.isfile(on_disk):
        with open(on_disk, encoding="utf-8") as f:
            return f.read()
    return subprocess.run(["git", "-C", checkout, "show", f"HEAD:{path}"], capture_output=True, text=True,
                          check=True).stdout


def commit_of(checkout: str) -> str:
    out = subprocess.run(["git", "-C", checkout, "log", "-1", "--format=%H %cs"], capture_output=True, text=True,
                         check=False)
    return out.stdout.strip() or "unknown commit"


def fail(message: str) -> None:
    sys.exit(f"gen_variants: {message}; the kernels sources changed shape, update this script")


def frameworks(source: str) -> dict[str, str]:
    """Framework name -> the regex kernels parses it with."""
    out = {}
    for cls, pattern in re.findall(r'class (\w+):.*?_VARIANT_REGEX[^=]*=\s*re\.compile\(r"([^"]+)"\)', source, re.S):
        out[cls] = pattern
    wanted = {"Torch": "torch", "TorchStableAbi": "torch-stable-abi", "TvmFfi": "tvm-ffi"}
    if set(out) != set(wanted):
        fail(f"expected the frameworks {sorted(wanted)}, found {sorted(out)}")
    return {wanted[cls]: pattern for cls, pattern in out.items()}


def computes(source: str) -> list[dict[str, str | None]]:
    """Each compute token `parse_backend` accepts: exact ones (`cpu`) and versioned prefixes (`cu`)."""
    body = source[source.index("def parse_backend"):]
    body = body[:body.index("\ndef ", 1)]
    branches = re.findall(r'(?:s == "(\w+)"|s\.startswith\("(\w+)"\)):\s*return (\w+)\.parse', body)
    if not branches:
        fail("no branches in parse_backend")
    out = []
    for exact, prefix, cls in branches:
        block = source[source.index(f"class {cls}:"):]
        block = block[:block.index("\n@", 1)] if "\n@" in block[1:] else block
        name = re.search(r'def name\(self\) -> str:\s*return "(\w+)"', block)
        if name is None:
            fail(f"no name for {cls}")
        pattern = re.search(r'_VARIANT_REGEX[^=]*=\s*re\.compile\(r"([^"]+)"\)', block)
        if prefix and pattern is None:
            fail(f"{cls} takes a version but has no _VARIANT_REGEX")
        out.append({"token": exact or prefix, "backend": name.group(1),
                    "pattern": pattern.group(1) if prefix and pattern else None})
    return out


def systems(source: str) -> list[str]:
    body = source[source.index("def resolve_variants"):]
    body = body[:body.index("\ndef ", 1)]
    found = sorted(set(re.findall(r'os == "(\w+)"', body)) | {"linux"})
    if "darwin" not in found:
        fail("resolve_variants names no darwin")
    return found


def backend_types(text: str) -> list[str]:
    m = re.search(r"The backend `type` must be one of (.*?)\.", text, re.S)
    if m is None:
        fail("kernel-requirements.md no longer lists the backend types")
    return sorted(re.findall(r"`(\w+)`", m.group(1)))


def macos(variants_src: str, check_abi_src: str) -> dict[str, str]:
    """kernel-builder check-abi's default --macos, and the macOS the kernels loader requires for Metal."""
    default = re.search(r'default_value = "([\d.]+)"\)\]\s*macos:', check_abi_src)
    metal = re.search(r'_METAL_MIN_MACOS_VERSION = Version\("([\d.]+)"\)', variants_src)
    if default is None or metal is None:
        fail("no macOS default in check_abi.rs or no Metal minimum in variants.py")
    return {"check_abi_default": default.group(1), "metal_minimum": metal.group(1)}


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    checkout = sys.argv[1]
    variants_src = read(checkout, FILES["variants"])
    backends_src = read(checkout, FILES["backends"])
    built = json.loads(read(checkout, FILES["build_variants"]))
    examples = sorted({name for per_system in built.values() for names in per_system.values() for name in names})
    json.dump({
        "about": "The build-variant grammar of kernel-builder and kernels: frameworks, compute tokens, "
                 "operating systems, noarch backends. Generated by tools/gen_variants.py; do not edit.",
        "source": f"github.com/huggingface/kernels {commit_of(checkout)}: " + ", ".join(FILES.values()),
        "generated": datetime.date.today().isoformat(),
        "frameworks": frameworks(variants_src),
        "computes": computes(backends_src),
        "arches": sorted({name.rsplit("-", 2)[1] for name in examples}),
        "systems": systems(variants_src),
        "noarch_backends": backend_types(read(checkout, FILES["requirements"])),
        # kernels' Noarch accepts any name; kernels published before the per-backend
        # noarch names still ship `torch-universal`, which it resolves like any noarch
        "noarch_legacy": ["universal"],
        "macos": macos(variants_src, read(checkout, FILES["check_abi"])),
        "built_today": examples,
    }, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
