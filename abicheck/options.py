"""The options of a check, parsed once into one frozen `CheckOptions`.

The library API (`abicheck.check(paths, **options)`), the command line,
`[tool.abicheck]` and the pytest plugin only build it; every later stage
reads it. Options come in layers, lowest first: the project's
`[tool.abicheck]`, then (for pytest) its ini options, then the command line.
A value given by a higher layer wins. The rule selection combines the way
ruff's does: each layer's `select` replaces the selection made so far, its
`extend-select` adds to it, and its `ignore` takes from it; so a command-line
`--ignore` adds to the ignores of `[tool.abicheck]`, while a command-line
`--select` starts afresh. `policy-file` lists add up across layers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from abicheck.binary.elf_model import ARCH_SIGNATURES
from abicheck.errors import InputError, UsageError
from abicheck.inputs.variants import Variant, parse_variant
from abicheck.policy.backends import BackendContext, parse_backend_option
from abicheck.policy.manylinux import Policy, load_policy
from abicheck.policy.torch_exports import release_key, torch_index
from abicheck.rules import expand_codes, rule_codes

TargetKind = Literal["wheel", "nix"]
TorchMismatch = Literal["error", "skip", "check"]
FailOn = Literal["error", "warning"]
TARGETS: tuple[str, ...] = get_args(TargetKind)
TORCH_MISMATCH: tuple[str, ...] = get_args(TorchMismatch)
MAX_JOBS = 256  # threads inflating wheel members; thousands fail to start, and each holds memory

# Every option a layer may give, with the kind of value it takes.
SCALARS = ("policy", "target", "arch", "backend", "variant", "python_abi", "torch", "torch_mismatch",
           "torch_stable_abi", "macos", "jobs", "allow_empty", "strict", "fail_on")
LISTS = ("select", "extend_select", "ignore", "policy_files")


@dataclass(frozen=True)
class CheckOptions:
    """Every option of a check, parsed and validated; see the module docstring for how layers combine."""

    codes: frozenset[str]  # the selected rule codes
    policy: Policy | None = None  # --policy: every object is held to it
    target: TargetKind = "wheel"
    arch: str | None = None
    backend: BackendContext | None = None
    variant: Variant | None = None
    python_abi: tuple[int, int] | None = None
    policy_files: tuple[str, ...] = ()
    jobs: int | None = None
    allow_empty: bool = False
    # Each an installed torch folder, a torch wheel, a saved dump of one, or a release of abicheck's index ("2.9").
    # A layer's list replaces a lower layer's.
    torch: tuple[str, ...] = ()
    torch_mismatch: TorchMismatch = "error"
    torch_stable_abi: tuple[int, int] | None = None
    macos: tuple[int, int] | None = None
    strict: bool = False  # anything not checked fails the check (exit 1)
    fail_on: FailOn = "error"  # the lowest finding severity that fails the check

    @classmethod
    def parse(cls, **values: Any) -> CheckOptions:
        """One layer of values, as `abicheck.check` takes them; raises UsageError for one that makes no sense."""
        return cls.from_layers(values)

    @classmethod
    def from_layers(cls, *layers: Mapping[str, Any]) -> CheckOptions:
        """Combine layers (lowest first; None values are absent) and parse the result."""
        unknown = sorted({k for layer in layers for k in layer} - set(SCALARS) - set(LISTS))
        if unknown:
            raise UsageError(f"unknown option {unknown[0]!r}")
        merged: dict[str, Any] = {}
        for layer in layers:
            merged.update({k: v for k, v in layer.items() if k in SCALARS and v is not None})
        policy_files = tuple(p for layer in layers for p in (layer.get("policy_files") or ()))
        codes = _selection(layers)
        torch = tuple(_as_list(merged.get("torch")))
        for name in ("policy", "arch", "backend", "variant", "python_abi", "macos", "torch_stable_abi"):
            value = merged.get(name)
            if value is not None and not str(value).strip():
                raise UsageError(f"--{name.replace('_', '-')} needs a value")
        if any(not isinstance(t, str) or not t.strip() for t in torch):
            raise UsageError("--torch needs a value")
        target = merged.get("target", "wheel")
        if target not in TARGETS:
            raise UsageError(f"unknown target {target!r}; use 'wheel' or 'nix'")
        arch = merged.get("arch")
        if arch is not None and arch not in ARCH_SIGNATURES:
            raise UsageError(f"unknown architecture {arch!r}; known: {', '.join(sorted(ARCH_SIGNATURES))}")
        mismatch = merged.get("torch_mismatch", "error")
        if mismatch not in TORCH_MISMATCH:
            raise UsageError(f"unknown torch mismatch handling {mismatch!r}; use error, skip or check")
        fail_on = merged.get("fail_on", "error")
        if fail_on not in ("error", "warning"):
            raise UsageError(f"unknown --fail-on {fail_on!r}; use error or warning")
        jobs = merged.get("jobs")
        if jobs is not None and jobs > MAX_JOBS:
            raise UsageError(f"--jobs {jobs} is more than {MAX_JOBS}; each job holds up to one member's tables")
        variant = None
        if merged.get("variant"):
            try:
                variant = parse_variant(merged["variant"])
            except InputError as exc:
                raise UsageError(f"--variant: {exc.message}") from None
        return cls(
            codes=frozenset(codes),
            policy=load_policy(merged["policy"]) if merged.get("policy") else None,
            target=target,
            arch=arch,
            backend=parse_backend_option(merged["backend"]) if merged.get("backend") else None,
            variant=variant,
            python_abi=parse_python_abi(merged["python_abi"]) if merged.get("python_abi") else None,
            policy_files=policy_files,
            jobs=jobs,
            allow_empty=bool(merged.get("allow_empty", False)),
            torch=torch,
            torch_mismatch=mismatch,
            torch_stable_abi=parse_torch_stable_abi(merged["torch_stable_abi"])
            if merged.get("torch_stable_abi") else None,
            macos=parse_release(merged["macos"], "--macos", "a macOS release such as 15.0")
            if merged.get("macos") else None,
            strict=bool(merged.get("strict", False)),
            fail_on=fail_on,
        )


def _as_list(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _selection(layers: Iterable[Mapping[str, Any]]) -> set[str]:
    """The selected codes: each layer's select replaces, extend-select adds, ignore removes (as in ruff)."""
    chosen = set(rule_codes())
    for layer in layers:
        select = _as_list(layer.get("select"))
        if select:
            chosen = expand_codes(select)
        chosen |= expand_codes(_as_list(layer.get("extend_select")))
        chosen -= expand_codes(_as_list(layer.get("ignore")))
    return chosen


def parse_python_abi(value: str) -> tuple[int, int]:
    text = value.strip().lower().removeprefix("cp")
    parts = text.split(".") if "." in text else [text[:1], text[1:]]
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise UsageError(f"bad --python-abi {value!r}; use a version such as 3.9 (or cp39)")
    found = int(parts[0]), int(parts[1])
    if found[0] != 3 or found < (3, 2):
        raise UsageError(f"bad --python-abi {value!r}: the stable ABI (abi3) begins with Python 3.2")
    return found


def parse_torch_stable_abi(value: str) -> tuple[int, int]:
    """A torch release abicheck's torch data reaches: AB310 against a release it has not seen would pass all."""
    found = parse_release(value, "--torch-stable-abi")
    releases = torch_index().releases()
    if releases and found > release_key(releases[-1]):
        raise UsageError(f"bad --torch-stable-abi {value!r}: newer than any torch release abicheck's data "
                         f"knows (the newest is {releases[-1]})")
    return found


def parse_release(text: str, what: str, example: str = "a torch release such as 2.9") -> tuple[int, int]:
    """`2.9` -> (2, 9) (`15` -> (15, 0) for macOS); UsageError for anything else."""
    parts = text.strip().split(".")
    if len(parts) == 1 and "macOS" in example:
        parts.append("0")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise UsageError(f"bad {what} {text!r}; use {example}")
    return int(parts[0]), int(parts[1])
