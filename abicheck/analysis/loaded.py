"""Libraries found because of the objects that load them.

ld.so loads an object's NEEDED libraries breadth first, and matches a later
NEEDED entry against the SONAMEs of what is already loaded before it searches
any directory. So a shipped library without a RUNPATH of its own (auditwheel
leaves grafted libraries so) still finds a sibling, when every object that
loads it also needs that sibling directly: the sibling is loaded first.

And when an object has no DT_RUNPATH, ld.so also searches the DT_RPATH of
the object that loaded it, and of that one's loader, up the chain (glibc's
`_dl_map_object`, ld.so(8)). `auditwheel repair` writes DT_RPATH, so in a
repaired wheel a bundled library (faiss-cpu's libopenblas) finds what it needs
(libgfortran) through the RPATH of the extension that loads it. It counts
when every object that loads it reaches the library so.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping

from abicheck.analysis.resolver import SHIPPED, UNREACHABLE, UNVERIFIED, Resolved, SearchPath

# (container path, object path inside it, its resolution)
Entry = tuple[str, str, list[Resolved]]


MAX_CHAIN = 16  # loaders followed up a chain
Loaders = dict[tuple[str, str], list[tuple[str, list[Resolved]]]]  # (container, object) -> (loader, its resolution)


def loaders_of(entries: list[Entry], links: Mapping[str, Mapping[str, str]]) -> Loaders:
    """Which objects of each container load which, through a NEEDED entry resolved to a shipped file."""
    loaders: Loaders = {}
    for container, relpath, resolved in entries:
        for r in resolved:
            if r.how == SHIPPED and r.where is not None:
                target = links.get(container, {}).get(r.where, r.where)
                loaders.setdefault((container, target), []).append((relpath, resolved))
    return loaders


def group_roots(container: str, relpath: str, loaders: Loaders) -> list[str]:
    """The objects that load `relpath` (transitively) and that nothing in the container loads: the roots of
    the dlopen groups it is loaded in. Itself when nothing loads it."""
    roots: list[str] = []
    seen = {relpath}
    queue = [relpath]
    while queue:
        current = queue.pop(0)
        parents = [p for p, _r in loaders.get((container, current), []) if p != current]
        if not parents and current not in roots:
            roots.append(current)
        for parent in parents:
            if parent not in seen:
                seen.add(parent)
                queue.append(parent)
    return roots or [relpath]


def left_to_its_loader(relpath: str, loaded_here: bool) -> bool:
    """A shared library (lib*) that nothing in its container loads: something else links or dlopens it (MKL's
    layers and plugins, a Qt plugin's host), and what that one loads first is beyond abicheck's sight."""
    return not loaded_here and posixpath.basename(relpath).startswith("lib")


def settle(entries: list[Entry], links: Mapping[str, Mapping[str, str]],
           searches: Mapping[tuple[str, str], SearchPath],
           shipped: Callable[[str, str], bool]) -> tuple[list[list[Resolved]], Loaders]:
    """Each entry's resolution, with unreachable libraries its loaders load first, or reach through their
    DT_RPATH, marked shipped; and which objects load which, as settled. `searches` gives each object's
    search path, `shipped(container, path)` whether a file is in the container. A library found so is a
    loader in turn (faiss: the extension's RPATH finds libopenblas, and libopenblas, through it,
    libgfortran, which needs libquadmath): the passes repeat until nothing changes."""
    current = [list(resolved) for _c, _p, resolved in entries]
    for _ in range(MAX_CHAIN):
        settled = _settle_once(_with(entries, current), links, searches, shipped)
        if settled == current:
            break
        current = settled
    # Marking what stays unreachable not verified changes no shipped library: these loaders hold for the result.
    loaders = loaders_of(_with(entries, current), links)
    return _left_to_their_loader(_with(entries, current), loaders), loaders


def _with(entries: list[Entry], resolutions: list[list[Resolved]]) -> list[Entry]:
    return [(c, p, r) for (c, p, _old), r in zip(entries, resolutions, strict=True)]


def _left_to_their_loader(entries: list[Entry], loaders: Loaders) -> list[list[Resolved]]:
    """A shared library (lib*) nothing in its container loads is dlopened by something that usually has its
    siblings loaded already (MKL's libmkl_vml_avx2 by libmkl_core, a Qt plugin by its host): a sibling it
    cannot reach by its own search path is found by SONAME then. Not verified, rather than unreachable."""
    out = []
    for container, relpath, resolved in entries:
        if not left_to_its_loader(relpath, (container, relpath) in loaders):
            out.append(resolved)
            continue
        out.append([Resolved(r.library, UNVERIFIED, r.where, "reachable only if what loads this library loaded "
                             "it first (by SONAME)") if r.how == UNREACHABLE else r for r in resolved])
    return out


def _settle_once(entries: list[Entry], links: Mapping[str, Mapping[str, str]],
                 searches: Mapping[tuple[str, str], SearchPath],
                 shipped: Callable[[str, str], bool]) -> list[list[Resolved]]:
    loaders = loaders_of(entries, links)

    def inherited(container: str, relpath: str, library: str, depth: int = 0) -> tuple[str, str, str] | None:
        """(path, loader, RPATH entry) when every loader chain of the object reaches `library` by DT_RPATH."""
        parents = loaders.get((container, relpath), [])
        if not parents or depth >= MAX_CHAIN:
            return None
        first: tuple[str, str, str] | None = None
        for parent, _theirs in parents:
            search = searches.get((container, parent))
            hit = None
            if search is not None and search.kind == "RPATH":
                for raw, directory in search.entries:
                    if directory is not None and not directory.startswith(("/", "..")):
                        candidate = posixpath.normpath(f"{directory}/{library}") if directory != "." else library
                        if shipped(container, candidate):
                            hit = (candidate, parent, raw)
                            break
            hit = hit or inherited(container, parent, library, depth + 1)
            if hit is None:
                return None  # one of its loaders does not reach it: not found when that one loads it first
            first = first or hit
        return first

    out = []
    for container, relpath, resolved in entries:
        parents = loaders.get((container, relpath), [])
        own = searches.get((container, relpath))
        fixed = []
        for r in resolved:
            if r.how == UNREACHABLE and parents and all(
                    any(p.library == r.library and p.found for p in theirs) for _path, theirs in parents):
                r = Resolved(r.library, SHIPPED, r.where, f"loaded first by {parents[0][0]}")
            elif r.how == UNREACHABLE and (own is None or own.kind == "RPATH") and (
                    found := inherited(container, relpath, r.library)) is not None:
                path, loader, raw = found
                r = Resolved(r.library, SHIPPED, path, f"through the DT_RPATH of {loader} ({raw}), which loads it")
            fixed.append(r)
        out.append(fixed)
    return out
