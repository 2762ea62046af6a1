"""What the system libraries a policy allows export: glibc's, libstdc++'s and libgcc_s's symbols.

Each lookup answers True (defined), False (not defined) or None (the data
cannot tell: an architecture or a symbol version it does not cover). None is
reported as "not checked", never as a pass or a finding.

* glibc: `policies/glibc-symbols.json` (tools/gen_glibc_symbols.py), every
  symbol of every glibc library zig's ABI lists cover, with the versions it
  has. glibc never removes a symbol version.
* libstdc++ and libgcc_s: `policies/cxx-runtime-symbols.json`
  (tools/gen_cxx_runtime_symbols.py), read from real libraries. Every export
  carries its version (`GLIBCXX_3.4.21`, `GCC_4.2.0`), and none is ever
  removed, so the data covers every version up to the newest it records.
"""

from __future__ import annotations

from functools import cache

from abicheck.policy.data import load_json
from abicheck.policy.manylinux import is_loader

CXX_RUNTIME = frozenset({"libstdc++.so.6", "libgcc_s.so.1"})


@cache
def _glibc_arch(arch: str) -> tuple[int, str, frozenset[str]] | None:
    """(the architecture's bit in the data, its baseline version, the libraries the data covers)."""
    data = load_json("glibc-symbols.json")
    if arch not in data["arches"]:
        return None
    return 1 << data["arches"].index(arch), data["baselines"][arch], frozenset(data["libraries"])


def glibc_library_name(library: str) -> str:
    """The name a glibc library has in the data: its soname, `ld.so` for the loader."""
    return "ld.so" if is_loader(library) else library


def glibc_defined(arch: str | None, library: str, names: set[str], version: str | None) -> set[str] | None:
    """Which of `names` glibc's `library` (libc.so.6, libm.so.6, the loader, ...) defines (at `version`).

    Looked up name by name in the data as loaded: an object imports a few
    hundred glibc symbols at most, so nothing is indexed beforehand.
    """
    info = _glibc_arch(arch) if arch else None
    lib = glibc_library_name(library)
    if info is None or lib not in info[2]:
        return None
    if version is not None and not version.startswith("GLIBC_2."):
        return None  # GLIBC_PRIVATE and the like: not in the public ABI lists
    bit, baseline, _libs = info
    wanted = None if version is None else ("B" if version[6:] == baseline else version[6:])
    table = load_json("glibc-symbols.json")["symbols"]
    found = set()
    for name in names:
        for mask, entry_lib, versions in table.get(name, ()):
            if mask & bit and entry_lib == lib and (wanted is None or wanted in versions):
                found.add(name)
                break
    return found


@cache
def _cxx(library: str, arch: str, version: str | None) -> frozenset[str] | None:
    """The names one C++ runtime library defines on one architecture at `version` (None: at any)."""
    entry = load_json("cxx-runtime-symbols.json")["libraries"].get(library, {}).get(arch)
    if entry is None:
        return None
    versions = entry["versions"]
    if version is None:
        return frozenset(name for names in versions.values() for name in names)
    return frozenset(versions[version]) if version in versions else None


def cxx_runtime_defined(arch: str | None, library: str, names: set[str], version: str | None) -> set[str] | None:
    """Which of `names` libstdc++.so.6 or libgcc_s.so.1 defines (at `version`); None outside the data."""
    table = _cxx(library, arch, version) if arch else None
    if table is None:
        return None  # an architecture, or a version newer than the libraries the data was read from
    return names & table


def source(library: str) -> str:
    """Where the export data of a system library comes from, for messages."""
    if library in CXX_RUNTIME:
        return "; ".join(load_json("cxx-runtime-symbols.json")["sources"])
    return str(load_json("glibc-symbols.json")["source"])
