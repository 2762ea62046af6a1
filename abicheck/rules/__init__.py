"""The rules: each a small module with stable codes (ruff-style).

A check is a pure function of a context (one object's ELF facts, options and
policy; or one wheel; or one variant folder: see abicheck.context) that
yields `Finding`s. Codes never change meaning once
released; `abicheck explain CODE` prints a rule's explanation.

| family | rules |
|--------|-------|
| AB1xx  | symbol versions |
| AB2xx  | paths (interpreter, RPATH/RUNPATH) |
| AB3xx  | linkage: NEEDED libraries that will not be found; kernel runtimes and drivers |
| AB4xx  | architecture and wheel tags |
| AB5xx  | the Python stable ABI |
| AB6xx  | macOS objects: minimum macOS, load commands |
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from abicheck.errors import UsageError
from abicheck.rules.base import SCOPES, Rule

if TYPE_CHECKING:
    from abicheck.context import ObjectContext, VariantContext, WheelContext
    from abicheck.foreign_stage import ForeignContext
    from abicheck.load_stage import LoadContext

    Context = ObjectContext | WheelContext | VariantContext | LoadContext | ForeignContext
    from abicheck.report.model import Finding

__all__ = ["Rule", "all_rules", "get_rule", "keeps_tables", "registry", "run_rules", "selected_codes"]

Check = Callable[[Any], Iterable["Finding"]]

_RULES: dict[str, Rule] | None = None
_CHECKS: dict[str, list[tuple[Check, frozenset[str]]]] | None = None


def _load() -> None:
    """Each rule module lists its RULES and its CHECKS: (function, the rules it reports).

    A check's scope is its rules' scope: it is called with an `ObjectContext`,
    a `WheelContext` or a `VariantContext` (see abicheck.context).
    """
    global _RULES, _CHECKS
    from abicheck.rules import (
        arch,
        foreign,
        libraries,
        linkage,
        paths,
        python_abi,
        symbols,
        tags,
        torch_abi,
        undefined,
    )

    rules: dict[str, Rule] = {}
    checks: dict[str, list[tuple[Check, frozenset[str]]]] = {scope: [] for scope in SCOPES}
    for module in (symbols, paths, linkage, libraries, undefined, torch_abi, arch, tags, python_abi, foreign):
        for rule in module.RULES:
            rules[rule.code] = rule
        for check, reported, *explicit in module.CHECKS:
            scopes = set(explicit) or {r.scope for r in reported}  # a foreign check may report AB401, AB5xx
            assert len(scopes) == 1, f"{check.__name__} reports rules of several scopes"
            checks[scopes.pop()].append((check, frozenset(r.code for r in reported)))
    _RULES, _CHECKS = rules, checks


def registry() -> dict[str, Rule]:
    if _RULES is None:
        _load()
    assert _RULES is not None
    return _RULES


def all_rules() -> list[Rule]:
    return list(registry().values())


def get_rule(code: str) -> Rule:
    wanted = code.strip().upper()
    for rule in all_rules():
        if rule.code == wanted or rule.name == code.strip().lower():
            return rule
    known = ", ".join(f"{r.code} ({r.name})" for r in all_rules())
    raise UsageError(f"unknown rule {code!r}; known rules: {known}")


def selected_codes(select: Iterable[str] | None = None, ignore: Iterable[str] | None = None) -> set[str]:
    """Resolve --select/--ignore: codes, code prefixes (`AB1`) or `ALL`."""
    codes = [r.code for r in all_rules()]
    names = {r.name: r.code for r in all_rules()}

    def expand(patterns: Iterable[str]) -> set[str]:
        out: set[str] = set()
        for raw in patterns:
            for pattern in raw.split(","):
                pattern = pattern.strip()
                if not pattern:
                    continue
                if pattern.upper() == "ALL":
                    out.update(codes)
                    continue
                if pattern in names:
                    out.add(names[pattern])
                    continue
                matched = {c for c in codes if c.startswith(pattern.upper())}
                if not matched:
                    raise UsageError(
                        f"--select/--ignore: {pattern!r} matches no rule; "
                        f"known codes: {', '.join(codes)}")
                out |= matched
        return out

    chosen = expand(select) if select else set(codes)
    return chosen - expand(ignore or ())


def keeps_tables(codes: set[str]) -> bool:
    """Whether a selected rule needs each object's imports and export tables after its reader is gone."""
    return any(rule.keeps_tables for rule in all_rules() if rule.code in codes)


def run_rules(ctx: Context, codes: set[str]) -> Iterator[Finding]:
    """Run every check of `ctx`'s scope that reports a selected code; keep the selected findings."""
    registry()
    assert _CHECKS is not None
    for check, reported in _CHECKS[ctx.scope]:
        if reported & codes:
            yield from (f for f in check(ctx) if f.code in codes)
