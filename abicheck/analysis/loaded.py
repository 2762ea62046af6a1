"""Libraries found because another object loaded them first.

ld.so loads an object's NEEDED libraries breadth first, and matches a later
NEEDED entry against the SONAMEs of what is already loaded before it searches
any directory. So a shipped library without a RUNPATH of its own (auditwheel
leaves grafted libraries so) still finds a sibling, when every object that
loads it also needs that sibling directly: the sibling is loaded first.
"""

from __future__ import annotations

from collections.abc import Mapping

from abicheck.analysis.resolver import SHIPPED, UNREACHABLE, Resolved

# (container path, object path inside it, its resolution)
Entry = tuple[str, str, list[Resolved]]


def settle(entries: list[Entry], links: Mapping[str, Mapping[str, str]]) -> list[list[Resolved]]:
    """Each entry's resolution, with unreachable libraries that its loaders load first marked shipped."""
    loaders: dict[tuple[str, str], list[tuple[str, list[Resolved]]]] = {}
    for container, relpath, resolved in entries:
        for r in resolved:
            if r.how == SHIPPED and r.where is not None:
                target = links.get(container, {}).get(r.where, r.where)
                loaders.setdefault((container, target), []).append((relpath, resolved))
    out = []
    for container, relpath, resolved in entries:
        parents = loaders.get((container, relpath), [])
        fixed = []
        for r in resolved:
            if r.how == UNREACHABLE and parents and all(
                    any(p.library == r.library and p.found for p in theirs) for _path, theirs in parents):
                r = Resolved(r.library, SHIPPED, r.where, f"loaded first by {parents[0][0]}")
            fixed.append(r)
        out.append(fixed)
    return out
