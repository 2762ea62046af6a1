"""What a rule is: a stable code and name, its explanation, and its scope."""

from __future__ import annotations

from dataclasses import dataclass

SCOPES = ("object", "wheel", "variant", "load", "foreign")


@dataclass(frozen=True)
class Rule:
    """One rule. Codes never change meaning once released (`abicheck explain CODE`)."""

    code: str
    name: str
    summary: str
    explanation: str
    # "object": per ELF file, while it is open; "load": per ELF file, after the whole input was scanned and
    # its NEEDED libraries resolved; "wheel": per wheel; "variant": per variant folder; "foreign": per
    # Mach-O or PE object (a check there may also report object-scope rules that mean the same: AB401, AB5xx)
    scope: str = "object"
    # a load-scope rule that reads every object's imports and export tables, kept while the object is open
    keeps_tables: bool = False
