"""Shared by tools/gen_torch_exports.py and tools/gen_runtime_exports.py: fetch wheels, write an export index.

An export index is two files in policies/: `<name>.bin`, sorted little-endian
uint64 records `hash48 << 16 | group`, where hash48 is the top 48 bits of the
first 8 bytes (little-endian) of BLAKE2b(name) (abicheck.policy.export_index.name_key)
and `group` indexes the JSON's `groups`: a library and the bit mask of the
wheels (`builds`) that define the name in it; and `<name>.json`, which says
what was read, when, and how many names and collisions there are.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import sys
import urllib.request
from array import array

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from gen_providers import INDEX, index

from abicheck.binary.elf import ElfReader
from abicheck.policy.export_index import name_key

POLICIES = os.path.join(os.path.dirname(__file__), "..", "policies")


def pypi_urls(distribution: str) -> dict[str, str]:
    """File name -> download URL of every file of `distribution` on PyPI (gen_providers' index, cached there)."""
    return {f["filename"]: f["url"] for f in index(distribution)["files"]}


def fetch(distribution: str, file: str, sha256: str | None, cache_dir: str, local: dict[str, str]) -> str:
    """The path of a wheel, downloaded into `cache_dir` if needed and checked against `sha256`."""
    path = local.get(file) or os.path.join(cache_dir, file)
    if not os.path.exists(path):
        urls = pypi_urls(distribution)
        if file not in urls:
            raise SystemExit(f"{file}: not on {INDEX.format(distribution)}; give it with --wheel")
        print(f"downloading {file}", file=sys.stderr)
        with urllib.request.urlopen(urls[file], timeout=600) as response, open(path + ".part", "wb") as out:
            shutil.copyfileobj(response, out, 1 << 22)
        os.replace(path + ".part", path)
    with open(path, "rb") as f:
        sha = hashlib.file_digest(f, "sha256").hexdigest()
    if sha256 and sha != sha256:
        raise SystemExit(f"{path}: sha256 {sha}, but providers.json recorded {sha256}")
    return path


def read_library(data: bytes, name: str) -> tuple[list[str], set[str]]:
    """(NEEDED, defined dynamic symbol names) of one shared library."""
    reader = ElfReader(data, name)
    return list(reader.facts.needed), {s.name for s in reader.exports()}


class IndexWriter:
    """Collects (name, library, build) definitions and writes the two files."""

    def __init__(self) -> None:
        self.libraries: list[str] = []
        self.entries: dict[tuple[str, str], int] = {}  # (name, library) -> mask of builds

    def add(self, bit: int, library: str, names: set[str]) -> None:
        if library not in self.libraries:
            self.libraries.append(library)
        for name in names:
            self.entries[(name, library)] = self.entries.get((name, library), 0) | (1 << bit)

    def write(self, name: str, about: str, builds: list[dict]) -> dict:
        libraries = sorted(self.libraries)
        position = {lib: i for i, lib in enumerate(libraries)}
        groups: dict[tuple[int, int], int] = {}
        keys: dict[int, set[str]] = {}
        records = set()
        for (symbol, lib), mask in self.entries.items():
            group = groups.setdefault((position[lib], mask), len(groups))
            key = name_key(symbol)
            keys.setdefault(key, set()).add(symbol)
            records.add(key << 16 | group)
        if len(groups) >= 1 << 16:
            raise SystemExit(f"{len(groups)} (library, builds) groups do not fit 16 bits")
        out = array("Q", sorted(records))
        if sys.byteorder != "little":
            out.byteswap()
        with open(os.path.join(POLICIES, f"{name}.bin"), "wb") as f:
            out.tofile(f)
        data = {
            "about": about,
            "generated": datetime.date.today().isoformat(),
            "hash": "top 48 bits of the first 8 bytes (little-endian) of BLAKE2b(name); "
                    f"{name}.bin holds sorted little-endian uint64 hash48 << 16 | group",
            "names": len(keys),
            "records": len(out),
            "collisions": sum(len(v) - 1 for v in keys.values()),
            "false_match_odds": f"{len(keys) / 2 ** 48:.1e} per name looked up that none defines",
            "libraries": libraries,
            "groups": [[lib, format(mask, "x")] for (lib, mask), _ in sorted(groups.items(), key=lambda g: g[1])],
            "builds": builds,
        }
        with open(os.path.join(POLICIES, f"{name}.json"), "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.write("\n")
        print(f"{name}: {data['names']} names, {len(out)} records, {len(groups)} groups, "
              f"{data['collisions']} collisions", file=sys.stderr)
        return data
