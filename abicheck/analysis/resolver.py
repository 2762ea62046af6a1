"""Where each NEEDED library will come from on the user's machine.

For one object in its container (a wheel, a directory tree or a loose file),
each `DT_NEEDED` name is looked for the way the loader, and pip before it,
would provide it:

1. the dynamic loader and the object's own C library (glibc or musl);
2. the loader's search path inside the container: `DT_RPATH` (only without
   `DT_RUNPATH`) or `DT_RUNPATH`, with `$ORIGIN` expanded; a directory there
   may also be where a dependency wheel installs its libraries
   (`$ORIGIN/../../nvidia/cublas/lib`). With `--target nix`, absolute entries
   are looked up on this machine, as the Nix store is where they point;
3. the policy's system libraries (auditwheel's `lib_whitelist`);
4. the distributions installed with it: the wheel's `Requires-Dist` without
   an extra, or, for a kernel, torch and what torch installs for its backend;
5. otherwise it is not found, and the answer says why: provided only by an
   extra, shipped but out of the loader's reach, or nowhere.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from abicheck.binary.elf import ElfFacts
from abicheck.policy.manylinux import GLIBC_LIBRARIES, Policy, is_loader

SHIPPED, SYSTEM, DEPENDENCY = "shipped", "system", "dependency"
EXTRA, UNREACHABLE, MISSING, UNVERIFIED = "extra", "unreachable", "missing", "unverified"
FOUND = (SHIPPED, SYSTEM, DEPENDENCY)


class Resolved(NamedTuple):
    """Where one NEEDED library comes from (`how`), and from what (`where`)."""

    library: str
    how: str  # shipped, system, dependency, extra, unreachable, missing, unverified
    where: str | None = None  # a container path, a distribution, a directory
    detail: str | None = None  # extra: the extras; unreachable: a RUNPATH that reaches it; missing: who ships it

    @property
    def found(self) -> bool:
        return self.how in FOUND

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"library": self.library, "how": self.how}
        if self.where is not None:
            data["where"] = self.where
        if self.detail is not None:
            data["detail"] = self.detail
        return data

    def describe(self) -> str:
        """As `show` prints it: `libfoo.so.1: shipped (pkg.libs/libfoo.so.1)`."""
        text = {SHIPPED: "shipped", SYSTEM: "system", DEPENDENCY: "dependency", EXTRA: "only with an extra",
                UNREACHABLE: "shipped but not reachable", MISSING: "NOT FOUND",
                UNVERIFIED: "not verified"}[self.how]
        parts = [p for p in (self.where, self.detail) if p]
        return f"{self.library}: {text}" + (f" ({'; '.join(parts)})" if parts else "")


@dataclass
class SearchPath:
    """The loader's search directories for one object, as written and as they land in the container."""

    entries: list[tuple[str, str | None]] = field(default_factory=list)  # (as written, container dir or None)
    kind: str = "RUNPATH"

    def describe(self) -> str:
        if not self.entries:
            return "no RPATH/RUNPATH"
        return f"{self.kind} " + ":".join(raw for raw, _ in self.entries)


def search_path(facts: ElfFacts, relpath: str) -> SearchPath:
    """RUNPATH (or RPATH without one), each entry with `$ORIGIN` expanded against `relpath`'s folder.

    An expanded entry is a container-relative directory (starting with `..`
    when it leaves the container); an absolute one is kept as it is; one that
    uses `$LIB`/`$PLATFORM` or is relative to the working directory becomes None.
    """
    raw = facts.runpath or facts.rpath
    kind = "RUNPATH" if facts.runpath else "RPATH"
    origin = posixpath.dirname(relpath)
    out = SearchPath(kind=kind)
    for entry in raw:
        expanded = entry.replace("${ORIGIN}", "$ORIGIN")
        if expanded.startswith("$ORIGIN"):
            rest = expanded[len("$ORIGIN"):]
            if "$" in rest:
                out.entries.append((entry, None))
                continue
            joined = posixpath.normpath(f"{origin}/{rest.lstrip('/')}" if origin else (rest.lstrip("/") or "."))
            out.entries.append((entry, joined))
        elif entry.startswith("/") and "$" not in entry:
            out.entries.append((entry, entry))
        else:
            out.entries.append((entry, None))
    return out


def _join(directory: str, name: str) -> str:
    return name if directory in ("", ".") else f"{directory}/{name}"


@dataclass
class Environment:
    """What the user's machine will have beside the objects of one container."""

    files: set[str]  # container-relative paths of shipped ELF files (and symlinks to them)
    sonames: dict[str, str]  # SONAME -> container path, for shipped libraries
    root: str | None = None  # on disk, for loose files and directories
    kind: str = "wheel"  # the container: "wheel", "dir" or "file"
    target: str = "wheel"
    dependencies: dict[str, tuple[str, str]] = field(default_factory=dict)  # library -> (distribution, path)
    dependency_names: list[str] = field(default_factory=list)  # the distributions, for messages
    extras: dict[str, tuple[str, str]] = field(default_factory=dict)  # library -> (distribution, extras)
    unverified: Callable[[str], bool] | None = None  # libraries whose provider the data cannot tell
    torch_build: str | None = None  # a kernel's: the torch build whose installs `dependencies` are exactly
    torch_installs: dict[str, str] | None = None  # and the version of each distribution it installs
    chosen: dict[str, tuple[str, str]] = field(default_factory=dict)  # a wheel's dependency -> (version, specifier)
    unknown_dependencies: list[str] = field(default_factory=list)  # declared, not in the data, not at hand
    exports_at_hand: Mapping[str, Any] = field(default_factory=dict)  # site-packages path -> Exports, of wheels checked

    @property
    def loose(self) -> bool:
        """A loose file: its RUNPATH is looked up on disk, beside it."""
        return self.kind == "file"

    def __post_init__(self) -> None:
        self._by_name: dict[str, list[str]] = {}
        for path in sorted(self.files):
            self._by_name.setdefault(posixpath.basename(path), []).append(path)

    def _shipped_at(self, directory: str, library: str) -> str | None:
        path = posixpath.normpath(_join(directory, library))
        if self.loose:
            on_disk = os.path.join(self.root or ".", path)
            return path if os.path.isfile(on_disk) else None
        return path if path in self.files else None

    def resolve(self, facts: ElfFacts, relpath: str, policy: Policy, musl: bool) -> list[Resolved]:
        """One `Resolved` per NEEDED entry of the object at `relpath`."""
        path = search_path(facts, relpath)
        return [self._one(lib, path, policy, musl, facts.arch) for lib in facts.needed]

    def _one(self, lib: str, path: SearchPath, policy: Policy, musl: bool, arch: str | None) -> Resolved:
        if is_loader(lib) or (musl and lib.startswith("libc.musl-")) or (not musl and lib in GLIBC_LIBRARIES
                                                                           and lib in policy.libraries):
            return Resolved(lib, SYSTEM, "the C library")
        glibc_own = lib in GLIBC_LIBRARIES  # never satisfied by a shipped copy
        for raw, directory in path.entries:
            if directory is None:
                continue
            if directory.startswith("/"):
                if self.target == "nix" and os.path.isfile(os.path.join(directory, lib)):
                    return Resolved(lib, SYSTEM, os.path.join(directory, lib))
                continue
            if directory.startswith("..") and not self.loose:
                continue  # outside the wheel or tree: nothing of it is installed
            if not glibc_own and (hit := self._shipped_at(directory, lib)) is not None:
                return Resolved(lib, SHIPPED, hit)
            dep = self.dependencies.get(lib)
            if dep is not None and dep[1] == _join(directory, lib):
                return Resolved(lib, DEPENDENCY, dep[0], f"through {raw}")
        if lib in policy.libraries:
            return Resolved(lib, SYSTEM, f"{policy.name} system library")
        if lib in self.dependencies:
            return Resolved(lib, DEPENDENCY, self.dependencies[lib][0])
        if lib in self.extras:
            dist, extras = self.extras[lib]
            return Resolved(lib, EXTRA, dist, extras)
        if not glibc_own:
            elsewhere = self._by_name.get(lib) or ([self.sonames[lib]] if lib in self.sonames else [])
            if elsewhere:
                return Resolved(lib, UNREACHABLE, elsewhere[0], None)
        if self.unverified is not None and self.unverified(lib):
            return Resolved(lib, UNVERIFIED, None, "no data on what torch installs for this backend")
        if self.unknown_dependencies:
            # A declared dependency may install it where the RUNPATH looks (PyQt5-Qt5's Qt5/lib), or load it
            # before this object is imported (dpctl's libDPCTLSyclInterface.so for dpnp): not known, not missing.
            return Resolved(lib, UNVERIFIED, None, f"not verified: {', '.join(self.unknown_dependencies)} not at "
                                                   "hand (declared dependencies abicheck has no file list for)")
        return Resolved(lib, MISSING)


def suggested_runpath(relpath: str, library_path: str) -> str:
    """The `$ORIGIN`-relative RUNPATH entry that makes `library_path` reachable from `relpath`."""
    rel = posixpath.relpath(posixpath.dirname(library_path) or ".", posixpath.dirname(relpath) or ".")
    return "$ORIGIN" if rel == "." else f"$ORIGIN/{rel}"
