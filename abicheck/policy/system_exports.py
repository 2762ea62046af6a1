"""What the system libraries a policy allows export: glibc's, libstdc++'s and libgcc_s's symbols.

Each lookup answers True (defined), False (not defined) or None (the data
cannot tell: an architecture or a symbol version it does not cover). None is
reported as "not checked", never as a pass or a finding.

* glibc: `policies/glibc-exports.json` (tools/gen_glibc_symbols.py
  --exports), every symbol of every glibc library zig's ABI lists cover, by
  architecture, library and version. glibc never removes a symbol version.
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


def glibc_library_name(library: str) -> str:
    """The name a glibc library has in the data: its soname, `ld.so` for the loader."""
    return "ld.so" if is_loader(library) else library


@cache
def _glibc_names(arch: str, library: str, version: str | None) -> frozenset[str] | None:
    """The names glibc's `library` defines on `arch` at `version` (None: at any); None outside the data."""
    libraries = load_json("glibc-exports.json")["arches"].get(arch)
    if libraries is None or library not in libraries:
        return None
    versions = libraries[library]
    if version is None:
        return frozenset(name for names in versions.values() for name in names.split())
    return frozenset(versions.get(version, "").split())


def glibc_defined(arch: str | None, library: str, names: set[str], version: str | None) -> set[str] | None:
    """Which of `names` glibc's `library` (libc.so.6, libm.so.6, the loader, ...) defines (at `version`)."""
    if arch is None or (version is not None and not version.startswith("GLIBC_2.")):
        return None  # GLIBC_PRIVATE and the like: not in the public ABI lists
    table = _glibc_names(arch, glibc_library_name(library), version)
    return None if table is None else names & table


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
    return str(load_json("glibc-exports.json")["source"])
