"""What a rule is: a stable code and name, its explanation, its scope and the formats it applies to."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, get_args

from abicheck.binary import Format

if TYPE_CHECKING:
    from abicheck.report.model import Finding

# "object": one object (ELF, Mach-O or PE) while it is open; "load": one ELF object after the whole input
# was scanned and its NEEDED libraries resolved; "wheel": one wheel and architecture; "variant": one
# kernel variant folder.
Scope = Literal["object", "load", "wheel", "variant"]
SCOPES: tuple[str, ...] = get_args(Scope)
ELF_ONLY: frozenset[Format] = frozenset({"elf"})
MACOS_AND_WINDOWS: frozenset[Format] = frozenset({"macho", "pe"})


class Rule(NamedTuple):
    """One rule. Codes never change meaning once released (`abicheck explain CODE`)."""

    code: str
    name: str
    summary: str
    explanation: str
    scope: Scope = "object"


class Check(NamedTuple):
    """A function that reads one context and yields findings of `rules`, for objects of `formats`."""

    function: Callable[[Any], Iterable[Finding]]
    rules: tuple[Rule, ...]
    formats: frozenset[Format] = ELF_ONLY
    judged_at: Scope | None = None  # where the check runs, when not where its rules are (an ELF object's AB501)

    @property
    def scope(self) -> Scope:
        return self.judged_at or self.rules[0].scope

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(r.code for r in self.rules)


def check(function: Callable[[Any], Iterable[Finding]], *rules: Rule,
          formats: frozenset[Format] = ELF_ONLY, judged_at: Scope | None = None) -> Check:
    found = {r.scope for r in rules}
    assert len(found) == 1, f"{function.__name__} reports rules of several scopes"
    return Check(function, rules, formats, judged_at)
