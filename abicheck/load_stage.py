"""The load stage: each object after the whole input was scanned, with its NEEDED libraries resolved.

`load_contexts` resolves every object's NEEDED entries in its container
(abicheck.resolve), settles what other objects load first, and hands each
object's `LoadContext` to the load-scope rules: the linkage rules (AB301 and
on) and the symbol resolution stage (AB312), which also reaches the shipped
libraries it loads (`peer`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from abicheck.binary.elf import ElfFacts
from abicheck.context import ContextBuilder, ObjectContext, is_musl
from abicheck.report.model import ArtifactResult, Finding
from abicheck.resolve.environment import build_environment
from abicheck.resolve.loaded import settle
from abicheck.resolve.resolver import Environment, Resolved, SearchPath, search_path

if TYPE_CHECKING:
    from abicheck.policy.backends import BackendPolicy
    from abicheck.rules.base import Rule


@dataclass
class LoadContext:
    """One object after the whole input was scanned: where each of its NEEDED libraries comes from."""

    scope: ClassVar[str] = "load"

    object: ObjectContext
    facts: ElfFacts
    relpath: str  # inside its wheel or tree
    resolved: list[Resolved]
    search: SearchPath
    environment: Environment
    builder: ContextBuilder
    shipped_versions: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)  # lib -> (path, versions)
    # a shipped library's context and resolution, by its path in the same wheel or tree
    peers: dict[str, tuple[ObjectContext, list[Resolved]]] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)  # symlink -> target, in the same wheel or tree
    imports_report: dict | None = None  # what the symbol resolution stage (AB312) did, for the report

    @property
    def path(self) -> str:
        return self.object.path

    def peer(self, where: str) -> tuple[ObjectContext, list[Resolved]] | None:
        """The shipped object at `where` (a symlink followed), with its own resolution."""
        return self.peers.get(self.links.get(where, where))

    def backend_policy(self) -> BackendPolicy:
        return self.builder.backend_policy()

    def finding(self, rule: Rule, message: str, hint: str, **extra: object) -> Finding:
        return self.object.finding(rule, message, hint, **extra)

    def attach(self, result: ArtifactResult, findings: list[Finding]) -> None:
        """Add the findings and the resolution to the object's result (its other findings first)."""
        result.findings.extend(findings)
        result.findings.sort(key=lambda f: f.code)
        result.needed = [r.to_dict() for r in self.resolved]
        if self.imports_report is not None:
            result.imports = self.imports_report



def load_contexts(builder: ContextBuilder) -> Iterator[LoadContext]:
    """After the scan: each object with its NEEDED libraries resolved in its container."""
    objects = builder.objects
    sonames: dict[int, dict[str, str]] = {}
    for origin, relpath, ctx in objects:
        if ctx.facts.soname:
            sonames.setdefault(id(origin), {}).setdefault(ctx.facts.soname, relpath)
    environments: dict[tuple, Environment] = {}
    chosen: list[Environment] = []  # each object's, in the order of objects
    found: list[tuple[int, str, list[Resolved]]] = []
    for origin, relpath, ctx in objects:
        facts, backend = ctx.facts, ctx.backend
        key = (id(origin), facts.arch, backend.backend if backend else None, backend.version if backend else None)
        if key not in environments:
            environments[key] = build_environment(origin, sonames.get(id(origin), {}), builder.target, facts.arch,
                                                  backend, ctx.backend_policy)
        chosen.append(environments[key])
        found.append((id(origin), relpath, chosen[-1].resolve(facts, relpath, ctx.policy, is_musl(facts))))
    links = {id(origin): origin.links for origin, _relpath, _ctx in objects}
    versions = {(id(origin), relpath): ctx.defined_versions for origin, relpath, ctx in objects}
    settled = settle(found, links)
    peers: dict[int, dict[str, tuple[ObjectContext, list[Resolved]]]] = {}
    for (origin, relpath, ctx), resolved in zip(objects, settled, strict=True):
        peers.setdefault(id(origin), {})[relpath] = (ctx, resolved)
    for (origin, relpath, ctx), resolved, env in zip(objects, settled, chosen, strict=True):
        shipped = {}
        for r in resolved:
            target = origin.links.get(r.where, r.where) if r.how == "shipped" and r.where else None
            if target is not None and (id(origin), target) in versions:
                shipped[r.library] = (r.where, versions[(id(origin), target)])
        yield LoadContext(ctx, ctx.facts, relpath, resolved, search_path(ctx.facts, relpath), env, builder,
                          shipped, peers[id(origin)], origin.links)
