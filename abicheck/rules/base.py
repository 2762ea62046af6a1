"""What a rule is: a stable code and name, its explanation, and its scope."""

from __future__ import annotations

from dataclasses import dataclass

SCOPES = ("object", "wheel", "variant")


@dataclass(frozen=True)
class Rule:
    """One rule. Codes never change meaning once released (`abicheck explain CODE`)."""

    code: str
    name: str
    summary: str
    explanation: str
    scope: str = "object"  # "object": per ELF file; "wheel": per wheel; "variant": per variant folder
