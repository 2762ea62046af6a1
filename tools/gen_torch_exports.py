"""Generate policies/torch-exports.json and .bin: what every torch build's libraries export.

    python tools/gen_torch_exports.py --cache DIR [--wheel LOCAL.whl ...]

The builds are the torch wheels policies/providers.json lists (every release
kernel-builder builds for, x86_64 and aarch64, as PyPI serves them, and local
builds such as the CPU one read by tools/gen_providers.py --wheel). Each is
downloaded once into `--cache` (never into the project), checked against the
sha256 providers.json recorded, and read with abicheck's own ELF reader: for
each library in `torch/lib/` (torch's own and what it ships beside them, not
its test libraries) its NEEDED entries and every defined dynamic symbol.

The names are not stored: tools/export_index.py says how they are hashed and
laid out. It also writes tests/data/torch-exports-sample.txt, real names of
the oldest and newest x86_64 builds, against which the tests check the index
and abicheck's idea of which names are torch's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import zipfile

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from export_index import POLICIES, IndexWriter, fetch, read_library

from abicheck.analysis.torch import CXX11_MARKERS

TEST_LIBRARIES = ("libtorchbind_test.so", "libjitbackend_test.so", "libbackend_with_compiler.so",
                  "libaoti_custom_ops.so")


def read_build(path: str) -> tuple[dict[str, list[str]], dict[str, set[str]], str]:
    """(library -> NEEDED, library -> defined names, C++ ABI) of the libraries in one wheel's torch/lib/.

    torch's own (libc10*, libtorch*, libcaffe2*) and those it ships beside them
    (libgomp, libgfortran, Arm Compute Library, NVPL): `import torch` loads them
    all before a kernel. Its test libraries are left out.
    """
    needed: dict[str, list[str]] = {}
    names: dict[str, set[str]] = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            base = info.filename.rsplit("/", 1)[-1]
            if (not info.filename.startswith("torch/lib/") or "/" in info.filename[len("torch/lib/"):]
                    or not base.startswith("lib") or ".so" not in base or base in TEST_LIBRARIES):
                continue
            data = zf.read(info)
            if data[:4] == b"\x7fELF":
                needed[base], names[base] = read_library(data, info.filename)
    libc10 = names.get("libc10.so", set())
    cxx_abi = "cxx11" if any(m in n for n in libc10 for m in CXX11_MARKERS) else "cxx98"
    return needed, names, cxx_abi


RARE = ("_ZNR", "_ZNO", "_ZNKR", "_ZNKO", "_ZGV", "_ZZ", "_ZTIZ", "_ZTSZ", "_ZTIF", "_ZTSF", "_ZTIP", "_ZTV",
        "_ZTI", "_ZTS", "aoti_torch_", "torch_", "_ZNSt", "_ZNKSt")


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("+")[0].split("."))


def _sample(names: set[str]) -> list[str]:
    """Every 300th name, and up to 12 of each rarer mangled form: a test sample of real names."""
    ordered = sorted(names)
    chosen = set(ordered[::300])
    for prefix in RARE:
        chosen.update([n for n in ordered if n.startswith(prefix)][:12])
    return sorted(chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", required=True, help="a folder outside the project for the downloaded wheels")
    parser.add_argument("--wheel", action="append", default=[], help="a local torch wheel providers.json lists")
    parser.add_argument("--sample", default=os.path.join(os.path.dirname(__file__), "..", "tests", "data",
                                                         "torch-exports-sample.txt"),
                        help="where to write real export names for the tests (of the oldest and newest x86_64 "
                             "builds: every 300th name, and the rarer mangled forms)")
    args = parser.parse_args()
    sample: list[str] = []
    os.makedirs(args.cache, exist_ok=True)
    with open(os.path.join(POLICIES, "providers.json"), encoding="utf-8") as f:
        builds = json.load(f)["torch"]
    local = {os.path.basename(p): p for p in args.wheel}
    writer = IndexWriter()
    out_builds = []
    x86 = [b for b in builds if b["arch"] == "x86_64"]
    sampled = {pick(x86, key=lambda b: _release(b["version"]))["file"] for pick in (min, max)}
    for bit, build in enumerate(builds):
        path = fetch("torch", build["file"], build.get("sha256"), args.cache, local)
        print(f"reading {build['file']}", file=sys.stderr)
        needed, names, cxx_abi = read_build(path)
        if build["file"] in sampled:
            sample.extend(f"{build['file']} {lib} {name}" for lib, defined in sorted(names.items())
                          for name in _sample(defined))
        for lib, defined in names.items():
            writer.add(bit, lib, defined)
        out_builds.append({"version": build["version"], "arch": build["arch"], "backend": build["backend"],
                           "backend_version": build["backend_version"], "cxx_abi": cxx_abi,
                           "file": build["file"], "sha256": build["sha256"],
                           "libraries": {lib: needed[lib] for lib in sorted(needed)},
                           "exports": sum(len(v) for v in names.values())})
    data = writer.write("torch-exports", "What each torch build's own libraries export, for checking kernels with "
                        "no torch at hand. Generated by tools/gen_torch_exports.py from the wheels listed in "
                        "`builds`; do not edit.", out_builds)
    os.makedirs(os.path.dirname(args.sample), exist_ok=True)
    with open(args.sample, "w", encoding="utf-8") as f:
        f.write(f"# Real export names of torch's libraries (wheel, library, name), written by "
                f"tools/gen_torch_exports.py on {data['generated']}\n")
        f.writelines(line + "\n" for line in sample)


if __name__ == "__main__":
    main()
