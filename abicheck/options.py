"""Option values that need parsing: the target, the architecture, Python and torch releases."""

from __future__ import annotations

from abicheck.binary.elf_model import ARCH_SIGNATURES
from abicheck.errors import UsageError
from abicheck.policy.manylinux import Policy, load_policy

TARGETS = ("wheel", "nix")


def validate_options(policy: str | None, target: str, arch: str | None) -> Policy | None:
    """Check --target and --arch; load --policy. Raises UsageError."""
    if target not in TARGETS:
        raise UsageError(f"unknown target {target!r}; use 'wheel' or 'nix'")
    if arch is not None and arch not in ARCH_SIGNATURES:
        raise UsageError(f"unknown architecture {arch!r}; known: {', '.join(sorted(ARCH_SIGNATURES))}")
    return load_policy(policy) if policy else None


def parse_python_abi(value: str) -> tuple[int, int]:
    text = value.strip().lower().removeprefix("cp")
    parts = text.split(".") if "." in text else [text[:1], text[1:]]
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise UsageError(f"bad --python-abi {value!r}; use a version such as 3.9 (or cp39)")
    return int(parts[0]), int(parts[1])


def parse_release(text: str, what: str, example: str = "a torch release such as 2.9") -> tuple[int, int]:
    """`2.9` -> (2, 9) (`15` -> (15, 0) for macOS); UsageError for anything else."""
    parts = text.strip().split(".")
    if len(parts) == 1 and "macOS" in example:
        parts.append("0")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise UsageError(f"bad {what} {text!r}; use {example}")
    return int(parts[0]), int(parts[1])
