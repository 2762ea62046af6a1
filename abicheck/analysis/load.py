"""The load stage: each ELF object after the whole input was scanned, with its NEEDED libraries resolved.

`load_contexts` resolves every object's NEEDED entries in its container
(abicheck.analysis.resolver), settles what other objects load first
(abicheck.analysis.loaded), and looks every import up in the load scope
(abicheck.analysis.symbols). Objects are known by their container and path
inside it, and taken in the order they were found, so the result is the
same whatever the number of jobs.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Iterator

from abicheck.analysis.environment import build_environment
from abicheck.analysis.loaded import group_roots, settle
from abicheck.analysis.providers import canonicalize_name
from abicheck.analysis.resolver import SHIPPED, Environment, Resolved, search_path
from abicheck.analysis.symbols import Provider, resolve_object_imports, symbol_scope
from abicheck.binary.elf_model import is_musl
from abicheck.binary.exports import Exports
from abicheck.inputs.artifact import Container
from abicheck.policy.backends import BackendPolicy
from abicheck.rules.context import LoadContext, ObjectRecord


def load_contexts(records: Iterable[ObjectRecord], policies: Callable[[], BackendPolicy]) -> Iterator[LoadContext]:
    """Each object found in a wheel, tree or folder, with its NEEDED libraries and imports resolved."""
    objects = sorted((r for r in records if r.origin.container is not None), key=lambda r: r.origin.position)
    sonames: dict[str, dict[str, str]] = {}
    for record in objects:
        if record.facts.soname:
            sonames.setdefault(_where(record), {}).setdefault(record.facts.soname, record.origin.relpath)
    at_hand: dict[str, dict[str, str]] = {}  # the wheels being checked: distribution -> library -> path
    exports_at_hand: dict[str, Exports] = {}  # their libraries' exports, by path in site-packages
    listed: set[str] = set()  # the wheels whose files are in at_hand: each once, not once per object
    for record in objects:
        container = record.origin.container
        if container is not None and container.kind == "wheel" and container.wheel and container.wheel.name:
            shipped_by = at_hand.setdefault(canonicalize_name(container.wheel.name), {})
            if container.path not in listed:
                listed.add(container.path)
                for path in sorted(container.files):
                    shipped_by.setdefault(posixpath.basename(path), path)
            if record.tables is not None and record.tables.exports is not None:
                exports_at_hand.setdefault(record.origin.relpath, record.tables.exports)
    environments: dict[tuple[str, str | None, str | None, str | None, str | None], Environment] = {}
    chosen: list[Environment] = []
    found: list[tuple[str, str, list[Resolved]]] = []
    for record in objects:
        facts, target, container = record.facts, record.target, _container(record)
        backend = target.backend
        key = (container.path, facts.arch, backend.backend if backend else None, backend.version if backend else None,
               target.torch.describe() if target.torch is not None else None)
        if key not in environments:
            environments[key] = build_environment(container, sonames.get(container.path, {}), target.kind,
                                                  facts.arch, backend, target.backend_policy, target.torch,
                                                  at_hand)
            environments[key].exports_at_hand = exports_at_hand
        chosen.append(environments[key])
        found.append((container.path, record.origin.relpath,
                      chosen[-1].resolve(facts, record.origin.relpath, target.policy, is_musl(facts))))
    links = {_where(r): _container(r).links for r in objects}
    searches = {(_where(r), r.origin.relpath): search_path(r.facts, r.origin.relpath) for r in objects}
    files = {_where(r): _container(r).files for r in objects}
    resolutions, loaders = settle(found, links, searches, lambda container, path: path in files.get(container, ()))
    settled = [tuple(r) for r in resolutions]
    versions = {(_where(r), r.origin.relpath): r.defined_versions for r in objects}
    peers: dict[str, dict[str, tuple[ObjectRecord, tuple[Resolved, ...]]]] = {}
    for record, resolved in zip(objects, settled, strict=True):
        peers.setdefault(_where(record), {})[record.origin.relpath] = (record, resolved)
    contexts: dict[tuple[str, str], LoadContext] = {}
    for record, resolved, env in zip(objects, settled, chosen, strict=True):
        where, relpath = _where(record), record.origin.relpath
        shipped = {}
        for r in resolved:
            if r.how == SHIPPED and r.where:
                file = links[where].get(r.where, r.where)
                if (where, file) in versions:
                    shipped[r.library] = (r.where, versions[(where, file)])
        contexts[(where, relpath)] = LoadContext(record, resolved, searches[(where, relpath)], env, shipped,
                                                 peers[where], policies)
    scopes: dict[tuple[str, str], list[Provider]] = {}  # each object's scope, once: a group root's serves all it loads

    def scope_of(key: tuple[str, str]) -> list[Provider]:
        if key not in scopes:
            scopes[key] = symbol_scope(contexts[key])
        return scopes[key]

    for (where, relpath), ctx in contexts.items():
        groups = tuple((root, scope_of((where, root))) for root in group_roots(where, relpath, loaders)
                       if root != relpath)
        yield ctx._replace(imports=resolve_object_imports(ctx, scope_of((where, relpath)), groups))


def _container(record: ObjectRecord) -> Container:
    container = record.origin.container
    assert container is not None  # only objects of a wheel, tree or folder are loaded here
    return container


def _where(record: ObjectRecord) -> str:
    return _container(record).path
