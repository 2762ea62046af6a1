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
from abicheck.policy.manylinux import Policy, is_loader

CXX_RUNTIME = frozenset({"libstdc++.so.6", "libgcc_s.so.1"})


def glibc_library_name(library: str) -> str:
    """The name a glibc library has in the data: its soname, `ld.so` for the loader."""
    return "ld.so" if is_loader(library) else library


@cache
def _table(kind: str, arch: str, library: str) -> dict[str, frozenset[str]] | None:
    """version -> the names `library` defines on `arch` at it (kind: glibc or cxx); None outside the data."""
    if kind == "glibc":
        versions = load_json("glibc-exports.json")["arches"].get(arch, {}).get(library)
        return None if versions is None else {v: frozenset(names.split()) for v, names in versions.items()}
    entry = load_json("cxx-runtime-symbols.json")["libraries"].get(library, {}).get(arch)
    return None if entry is None else {v: frozenset(names) for v, names in entry["versions"].items()}


@cache
def _union(kind: str, arch: str, library: str, allowed: frozenset[str] | None) -> frozenset[str]:
    """Every name of the versions in `allowed` (all versions when None) of one library."""
    table = _table(kind, arch, library) or {}
    return frozenset().union(*(names for v, names in table.items() if allowed is None or v in allowed))


@cache
def _allowed(kind: str, arch: str, library: str, policy: Policy) -> frozenset[str]:
    """The versions of one library's table that the systems of `policy` have."""
    judged = "libc.so.6" if kind == "glibc" else library  # every glibc library shares the GLIBC_ limit
    return frozenset(v for v in _table(kind, arch, library) or () if policy.allows_version(arch, judged, v))


def _defined(kind: str, arch: str, library: str, names: set[str], version: str | None,
             policy: Policy | None) -> set[str] | None:
    """The lookup both kinds share; unversioned references bind only at versions the system has."""
    table = _table(kind, arch, library)
    if table is None:
        return None
    if version is not None:
        found = table.get(version)
        return None if found is None else names & found  # None: a version newer than the data
    kept = None if policy is None else _allowed(kind, arch, library, policy)
    return names & _union(kind, arch, library, kept)


def glibc_defined(arch: str | None, library: str, names: set[str], version: str | None,
                  policy: Policy | None = None) -> set[str] | None:
    """Which of `names` glibc's `library` (libc.so.6, libm.so.6, the loader, ...) defines (at `version`).

    An unversioned reference binds to a definition at any version the user's
    glibc has: those `policy` allows, all when None.
    """
    if arch is None or (version is not None and not version.startswith("GLIBC_2.")):
        return None  # GLIBC_PRIVATE and the like: not in the public ABI lists
    return _defined("glibc", arch, glibc_library_name(library), names, version, policy)


def cxx_runtime_defined(arch: str | None, library: str, names: set[str], version: str | None,
                        policy: Policy | None = None) -> set[str] | None:
    """Which of `names` libstdc++.so.6 or libgcc_s.so.1 defines (at `version`); None outside the data.

    A version newer than the libraries the data was read from is None: not checked.
    """
    return None if arch is None else _defined("cxx", arch, library, names, version, policy)
