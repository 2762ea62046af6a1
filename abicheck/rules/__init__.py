"""The rules: each a small module with stable codes (ruff-style).

A rule is a pure function of an `ObjectContext` (the ELF facts, the options
and the policy) that yields `Finding`s. Codes never change meaning once
released; `abicheck explain CODE` prints a rule's explanation.

| family | rules |
|--------|-------|
| AB1xx  | symbol versions |
| AB2xx  | paths (interpreter, RPATH/RUNPATH) |
| AB3xx  | kernel linkage (CUDA, ROCm, XPU runtimes, drivers) |
| AB4xx  | architecture and wheel tags |
| AB5xx  | the Python stable ABI |
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from abicheck.binary.elf import ElfFacts, ElfReader
from abicheck.errors import UsageError
from abicheck.policy.manylinux import Policy
from abicheck.report.model import Finding

if TYPE_CHECKING:
    from abicheck.policy.backends import BackendContext, BackendPolicy


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    summary: str
    explanation: str
    scope: str = "object"  # "object": per ELF file; "wheel": per wheel


@dataclass
class ObjectContext:
    """What a per-object rule may look at."""

    path: str
    reader: ElfReader
    policy: Policy
    target: str = "wheel"  # "wheel" or "nix"
    expected_arch: str | None = None  # from the wheel tag or --arch
    expected_arch_source: str = "--arch"
    shipped: frozenset[str] = field(default_factory=frozenset)
    backend: BackendContext | None = None  # the kernel backend, when known
    backend_policy: BackendPolicy | None = None
    abi3: bool = False  # built for the Python stable ABI (.abi3.so, an abi3 wheel)
    python_abi: tuple[int, int] = (3, 9)  # the oldest Python the stable-ABI claim covers
    python_abi_source: str = "the default (--python-abi)"

    @property
    def facts(self) -> ElfFacts:
        return self.reader.facts

    @property
    def arch(self) -> str | None:
        """The architecture whose policy limits apply: the object's own."""
        return self.facts.arch

    def finding(self, rule: Rule, message: str, hint: str, **extra: object) -> Finding:
        return Finding(code=rule.code, name=rule.name, message=message, hint=hint, path=self.path,
                       **extra)  # type: ignore[arg-type]


ObjectCheck = Callable[[ObjectContext], Iterable[Finding]]

_RULES: dict[str, Rule] | None = None
_CHECKS: list[tuple[ObjectCheck, frozenset[str]]] | None = None


def _load() -> None:
    """Each rule module lists its RULES and its CHECKS: (function, the rules it reports)."""
    global _RULES, _CHECKS
    from abicheck.rules import arch, linkage, paths, python_abi, symbols, tags

    rules: dict[str, Rule] = {}
    checks: list[tuple[ObjectCheck, frozenset[str]]] = []
    for module in (symbols, paths, linkage, arch, tags, python_abi):
        for rule in module.RULES:
            rules[rule.code] = rule
        for check, reported in module.CHECKS:
            checks.append((check, frozenset(r.code for r in reported)))
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


def run_object_rules(ctx: ObjectContext, codes: set[str]) -> Iterator[Finding]:
    """Run every check that reports at least one selected code; keep the selected findings."""
    registry()
    assert _CHECKS is not None
    for check, reported in _CHECKS:
        if reported & codes:
            yield from (f for f in check(ctx) if f.code in codes)
