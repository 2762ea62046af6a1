"""Generate policies/torch-exports.json and .bin: what every torch build's libraries export.

    python tools/gen_torch_exports.py --cache DIR [--wheel LOCAL.whl ...]

The builds are the torch wheels policies/providers.json lists (every release
kernel-builder builds for, x86_64 and aarch64, as PyPI serves them, and local
builds such as the CPU one read by tools/gen_providers.py --wheel). Each is
downloaded once into `--cache` (never into the project), checked against the
sha256 providers.json recorded, and read with abicheck's own ELF reader: for
each of torch's own libraries (`torch/lib/libc10*`, `libtorch*`, `libcaffe2*`,
not its test libraries) its NEEDED entries and every defined dynamic symbol.

The names are not stored. Each is hashed (the first 8 bytes of its BLAKE2b
digest, read little-endian, keeping the top 48 bits), and the .bin file holds
one little-endian uint64 per (name, library, builds) as `hash48 << 16 | group`,
sorted, where `group` indexes the JSON's `groups`: a library and the set of
builds (a bit mask over `builds`) that define the name in it. abicheck binary-
searches the file in place (abicheck/policy/torch_exports.py). The JSON states
the number of names, the 48-bit collisions found among them, and the odds that
a name in no torch matches an entry by chance.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import shutil
import sys
import urllib.request
import zipfile
from array import array

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from abicheck.analysis.torch import CXX11_MARKERS, TORCH_LIBRARIES
from abicheck.binary.elf import ElfReader
from abicheck.policy.torch_exports import name_key

POLICIES = os.path.join(os.path.dirname(__file__), "..", "policies")
INDEX = "https://pypi.org/simple/torch/"
TEST_LIBRARIES = ("libtorchbind_test.so", "libjitbackend_test.so", "libbackend_with_compiler.so",
                  "libaoti_custom_ops.so")


def pypi_urls() -> dict[str, str]:
    request = urllib.request.Request(INDEX, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return {f["filename"]: f["url"] for f in json.load(response)["files"]}


def fetch(build: dict, cache: str, local: dict[str, str], urls: dict[str, str] | None) -> tuple[str, dict | None]:
    """The path of the build's wheel, downloaded into `cache` if needed and checked against its sha256."""
    name = build["file"]
    path = local.get(name) or os.path.join(cache, name)
    if not os.path.exists(path):
        urls = urls if urls is not None else pypi_urls()
        if name not in urls:
            raise SystemExit(f"{name}: not on {INDEX}; give it with --wheel")
        print(f"downloading {name}", file=sys.stderr)
        with urllib.request.urlopen(urls[name], timeout=600) as response, open(path + ".part", "wb") as out:
            shutil.copyfileobj(response, out, 1 << 22)
        os.replace(path + ".part", path)
    with open(path, "rb") as f:
        sha = hashlib.file_digest(f, "sha256").hexdigest()
    if build.get("sha256") and sha != build["sha256"]:
        raise SystemExit(f"{path}: sha256 {sha}, but providers.json recorded {build['sha256']}")
    return path, urls


def read_build(path: str) -> tuple[dict[str, list[str]], dict[str, set[str]], str]:
    """(library -> NEEDED, library -> defined names, C++ ABI) of torch's own libraries in one wheel."""
    needed: dict[str, list[str]] = {}
    names: dict[str, set[str]] = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            base = info.filename.rsplit("/", 1)[-1]
            if (not info.filename.startswith("torch/lib/") or not base.startswith(TORCH_LIBRARIES)
                    or ".so" not in base or base in TEST_LIBRARIES):
                continue
            data = zf.read(info)
            reader = ElfReader(data, info.filename)
            needed[base] = list(reader.facts.needed)
            names[base] = {s.name for s in reader.exports() if not s.hidden}
            del reader, data
    libc10 = names.get("libc10.so", set())
    cxx_abi = "cxx11" if any(m in n for n in libc10 for m in CXX11_MARKERS) else "cxx98"
    return needed, names, cxx_abi


RARE = ("_ZNR", "_ZNO", "_ZNKR", "_ZNKO", "_ZGV", "_ZZ", "_ZTIZ", "_ZTSZ", "_ZTIF", "_ZTSF", "_ZTIP", "_ZTV",
        "_ZTI", "_ZTS", "aoti_torch_", "torch_", "_ZNSt", "_ZNKSt")


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("+")[0].split("."))


def _sample(names: set[str]) -> list[str]:
    """Every 60th name, and up to 40 of each rarer mangled form: a test sample of real names."""
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
    urls: dict | None = None
    libraries: list[str] = []
    entries: dict[tuple[str, str], int] = {}  # (name, library) -> mask of builds
    out_builds = []
    for bit, build in enumerate(builds):
        path, urls = fetch(build, args.cache, local, urls)
        print(f"reading {build['file']}", file=sys.stderr)
        needed, names, cxx_abi = read_build(path)
        if build["arch"] == "x86_64" and build["file"] in (
                min((b for b in builds if b["arch"] == "x86_64"), key=lambda b: _release(b["version"]))["file"],
                max((b for b in builds if b["arch"] == "x86_64"), key=lambda b: _release(b["version"]))["file"]):
            sample.extend(f"{build['file']} {lib} {name}" for lib, defined in sorted(names.items())
                          for name in _sample(defined))
        for lib, defined in names.items():
            if lib not in libraries:
                libraries.append(lib)
            for name in defined:
                entries[(name, lib)] = entries.get((name, lib), 0) | (1 << bit)
        out_builds.append({"version": build["version"], "arch": build["arch"], "backend": build["backend"],
                           "backend_version": build["backend_version"], "cxx_abi": cxx_abi,
                           "file": build["file"], "sha256": build["sha256"],
                           "libraries": {lib: needed[lib] for lib in sorted(needed)},
                           "exports": sum(len(v) for v in names.values())})

    libraries.sort()
    groups: dict[tuple[int, int], int] = {}
    keys: dict[int, set[str]] = {}
    records = array("Q")
    for (name, lib), mask in entries.items():
        group = groups.setdefault((libraries.index(lib), mask), len(groups))
        key = name_key(name)
        keys.setdefault(key, set()).add(name)
        records.append(key << 16 | group)
    if len(groups) >= 1 << 16:
        raise SystemExit(f"{len(groups)} (library, builds) groups do not fit 16 bits")
    records = array("Q", sorted(set(records)))
    if sys.byteorder != "little":
        records.byteswap()
    collisions = sum(len(v) - 1 for v in keys.values())
    with open(os.path.join(POLICIES, "torch-exports.bin"), "wb") as f:
        records.tofile(f)
    data = {
        "about": "What each torch build's own libraries export, for checking kernels with no torch at hand. "
                 "Generated by tools/gen_torch_exports.py from the wheels listed in `builds`; do not edit.",
        "generated": datetime.date.today().isoformat(),
        "hash": "top 48 bits of the first 8 bytes (little-endian) of BLAKE2b(name); "
                "torch-exports.bin holds sorted little-endian uint64 hash48 << 16 | group",
        "names": len(keys),
        "records": len(records),
        "collisions": collisions,
        "false_match_odds": f"{len(keys) / 2 ** 48:.1e} per name looked up that no torch defines",
        "libraries": libraries,
        "groups": [[lib, format(mask, "x")] for (lib, mask), _ in sorted(groups.items(), key=lambda g: g[1])],
        "builds": out_builds,
    }
    with open(os.path.join(POLICIES, "torch-exports.json"), "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    os.makedirs(os.path.dirname(args.sample), exist_ok=True)
    with open(args.sample, "w", encoding="utf-8") as f:
        f.write(f"# Real export names of torch's libraries (wheel, library, name), written by "
                f"tools/gen_torch_exports.py on {data['generated']}\n")
        f.writelines(line + "\n" for line in sample)
    print(f"{len(keys)} names, {len(records)} records, {len(groups)} groups, {collisions} collisions",
          file=sys.stderr)


if __name__ == "__main__":
    main()
