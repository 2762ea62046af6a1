"""The rules: each a small module with stable codes (ruff-style), and the one table of them.

A check is a pure function of a frozen context (abicheck.rules.context) that
yields `Finding`s and writes nothing. Codes never change meaning once
released; `abicheck explain CODE` prints a rule's explanation.

| family | rules |
|--------|-------|
| AB1xx  | symbol versions |
| AB2xx  | paths (interpreter, RPATH/RUNPATH) |
| AB3xx  | linkage: NEEDED libraries and imports that will not be found; kernel runtimes, torch |
| AB4xx  | architecture and wheel tags |
| AB5xx  | the Python stable ABI |
| AB6xx  | macOS objects: minimum macOS, load commands |
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from abicheck.errors import UsageError
from abicheck.report.model import Finding
from abicheck.rules import (
    arch,
    libraries,
    linkage,
    macos,
    paths,
    python_abi,
    symbols,
    tags,
    torch_abi,
    undefined,
)
from abicheck.rules.base import SCOPES, Check, Rule
from abicheck.rules.context import Context

__all__ = ["Rule", "all_rules", "expand_codes", "get_rule", "registry", "rule_codes", "run_rules",
           "selected_codes"]

_MODULES = (symbols, paths, linkage, libraries, undefined, torch_abi, arch, tags, macos, python_abi)
# The one table of codes, in the order explain, the SARIF rule list and messages have always listed them.
TABLE = ("AB101", "AB102", "AB201", "AB202", "AB301", "AB302", "AB303", "AB304", "AB305", "AB306", "AB307",
         "AB311", "AB312", "AB308", "AB309", "AB310", "AB401", "AB402", "AB403", "AB404", "AB405", "AB501", "AB502",
         "AB601", "AB602", "AB603")
_DEFINED = {rule.code: rule for module in _MODULES for rule in module.RULES}
assert set(_DEFINED) == set(TABLE), "every rule is in the table, once"
_RULES: dict[str, Rule] = {code: _DEFINED[code] for code in TABLE}
_CHECKS: dict[str, list[Check]] = {scope: [c for module in _MODULES for c in module.CHECKS if c.scope == scope]
                                   for scope in SCOPES}


def registry() -> dict[str, Rule]:
    return _RULES


def all_rules() -> list[Rule]:
    return list(_RULES.values())


def rule_codes() -> list[str]:
    return list(_RULES)


def get_rule(code: str) -> Rule:
    wanted = code.strip().upper()
    for rule in all_rules():
        if rule.code == wanted or rule.name == code.strip().lower():
            return rule
    known = ", ".join(f"{r.code} ({r.name})" for r in all_rules())
    raise UsageError(f"unknown rule {code!r}; known rules: {known}")


def expand_codes(patterns: Iterable[str]) -> set[str]:
    """Codes, code prefixes (`AB1`), rule names or `ALL`, repeated or comma-separated, as a set of codes."""
    codes = rule_codes()
    names = {r.name: r.code for r in all_rules()}
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
                raise UsageError(f"--select/--ignore: {pattern!r} matches no rule; known codes: {', '.join(codes)}")
            out |= matched
    return out


def selected_codes(select: Iterable[str] | None = None, ignore: Iterable[str] | None = None) -> set[str]:
    """Resolve one layer of --select/--ignore: codes, code prefixes (`AB1`) or `ALL`."""
    chosen = expand_codes(select) if select else set(rule_codes())
    return chosen - expand_codes(ignore or ())


def run_rules(ctx: Context, codes: set[str] | frozenset[str]) -> Iterator[Finding]:
    """Run every check of `ctx`'s scope (and, for an object, its format) that reports a selected code."""
    fmt = getattr(ctx, "format", None)
    for check in _CHECKS[ctx.scope]:
        if check.codes & codes and (fmt is None or fmt in check.formats):
            yield from (f for f in check.function(ctx) if f.code in codes)
