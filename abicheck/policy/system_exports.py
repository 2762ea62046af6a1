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

from collections.abc import Callable
from functools import cache

from abicheck.policy.data import load_json
from abicheck.policy.manylinux import is_loader

CXX_RUNTIME = frozenset({"libstdc++.so.6", "libgcc_s.so.1"})


def glibc_library_name(library: str) -> str:
    """The name a glibc library has in the data: its soname, `ld.so` for the loader."""
    return "ld.so" if is_loader(library) else library


@cache
def _glibc_versions(arch: str, library: str) -> dict[str, frozenset[str]] | None:
    """version -> the names glibc's `library` defines on `arch` at it; None outside the data."""
    libraries = load_json("glibc-exports.json")["arches"].get(arch)
    if libraries is None or library not in libraries:
        return None
    return {v: frozenset(names.split()) for v, names in libraries[library].items()}


@cache
def _union(table_key: tuple, allowed: frozenset[str] | None) -> frozenset[str]:
    """Every name of the versions in `allowed` (all versions when None), for one library's table."""
    table = _TABLES[table_key]
    return frozenset().union(*(names for v, names in table.items() if allowed is None or v in allowed))


_TABLES: dict[tuple, dict[str, frozenset[str]]] = {}


def _defined(key: tuple, table: dict[str, frozenset[str]] | None, names: set[str], version: str | None,
             allowed: Callable[[str], bool] | None) -> set[str] | None:
    """The lookup both libraries share; unversioned references bind only at versions the system has."""
    if table is None:
        return None
    if version is not None:
        found = table.get(version)
        return None if found is None else names & found
    _TABLES[key] = table
    kept = None if allowed is None else frozenset(v for v in table if allowed(v))
    return names & _union(key, kept)


def glibc_defined(arch: str | None, library: str, names: set[str], version: str | None,
                  allowed: Callable[[str], bool] | None = None) -> set[str] | None:
    """Which of `names` glibc's `library` (libc.so.6, libm.so.6, the loader, ...) defines (at `version`).

    An unversioned reference binds to a definition at any version the user's
    glibc has: `allowed(version)` says which (the policy's), all when None.
    """
    if arch is None or (version is not None and not version.startswith("GLIBC_2.")):
        return None  # GLIBC_PRIVATE and the like: not in the public ABI lists
    lib = glibc_library_name(library)
    return _defined(("glibc", arch, lib), _glibc_versions(arch, lib), names, version, allowed)


@cache
def _cxx(library: str, arch: str) -> dict[str, frozenset[str]] | None:
    """version -> the names one C++ runtime library defines on one architecture."""
    entry = load_json("cxx-runtime-symbols.json")["libraries"].get(library, {}).get(arch)
    if entry is None:
        return None
    return {v: frozenset(names) for v, names in entry["versions"].items()}


def cxx_runtime_defined(arch: str | None, library: str, names: set[str], version: str | None,
                        allowed: Callable[[str], bool] | None = None) -> set[str] | None:
    """Which of `names` libstdc++.so.6 or libgcc_s.so.1 defines (at `version`); None outside the data.

    A version newer than the libraries the data was read from is None: not checked.
    """
    if arch is None:
        return None
    return _defined(("cxx", arch, library), _cxx(library, arch), names, version, allowed)


def source(library: str) -> str:
    """Where the export data of a system library comes from, for messages."""
    if library in CXX_RUNTIME:
        return "; ".join(load_json("cxx-runtime-symbols.json")["sources"])
    return str(load_json("glibc-exports.json")["source"])
