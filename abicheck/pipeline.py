"""The check pipeline: paths -> objects -> rules -> Report."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from abicheck.elf import ARCH_SIGNATURES, ElfFacts
from abicheck.errors import InputError, UsageError
from abicheck.policy import DEFAULT_POLICY, Policy, load_policy, most_compatible
from abicheck.report import ArtifactResult, InputProblem, Report
from abicheck.rules import ObjectContext, run_object_rules, selected_codes
from abicheck.scan import ScanItem, scan

TARGETS = ("wheel", "nix")


@dataclass
class _WheelObjects:
    """What AB402 needs to know about each object of one wheel."""

    tags: object
    objects: list[tuple[str, str | None, list[tuple[str, str]]]] = field(default_factory=list)


def validate_options(policy: str | None, target: str, arch: str | None) -> Policy | None:
    if target not in TARGETS:
        raise UsageError(f"unknown target {target!r}; use 'wheel' or 'nix'")
    if arch is not None and arch not in ARCH_SIGNATURES:
        raise UsageError(f"unknown architecture {arch!r}; known: {', '.join(sorted(ARCH_SIGNATURES))}")
    return load_policy(policy) if policy else None


def is_musl(facts: ElfFacts) -> bool:
    return "libc.so" in facts.needed or bool(facts.interpreter and "ld-musl" in facts.interpreter)


def policy_for(facts: ElfFacts, explicit: Policy | None, item: ScanItem) -> Policy:
    """--policy wins; then the wheel's claim for this object's architecture; then the default."""
    if explicit is not None:
        return explicit
    if item.wheel is not None and item.wheel.claims:
        claims = item.wheel.claims
        return claims.get(facts.arch or "") or next(iter(claims.values()))
    return load_policy("musllinux_1_2" if is_musl(facts) else DEFAULT_POLICY)


def _expected_arch(facts: ElfFacts, arch: str | None, item: ScanItem) -> tuple[str | None, str]:
    if arch is not None:
        return arch, "--arch"
    if item.wheel is not None and item.wheel.claims:
        arches = item.wheel.arches
        if facts.arch in arches:
            return facts.arch, "the wheel tag"
        return arches[0], f"the wheel tag ({item.wheel.claims[arches[0]].tag(arches[0])})"
    return None, ""


def _needs(facts: ElfFacts, shipped: frozenset[str]) -> list[tuple[str, str]]:
    return [(n.library, n.version) for n in facts.version_needs if not n.weak and n.library not in shipped]


def check(
    paths: Iterable[str],
    *,
    policy: str | None = None,
    target: str = "wheel",
    arch: str | None = None,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
) -> Report:
    """Check files, directories and wheels; return a `Report`.

    Raises `UsageError` for options that make no sense; every problem with an
    input is recorded in `Report.errors` instead of raised.
    """
    explicit = validate_options(policy, target, arch)
    codes = selected_codes(list(select) if select else None, list(ignore) if ignore else None)
    report = Report(target=target, policy=explicit.name if explicit else None)
    problems: list[InputError] = []
    wheels: dict[str, _WheelObjects] = {}

    for item in scan(list(paths), problems):
        facts = item.reader.facts
        chosen = policy_for(facts, explicit, item)
        expected, source = _expected_arch(facts, arch, item)
        ctx = ObjectContext(path=item.display, reader=item.reader, policy=chosen, target=target,
                            expected_arch=expected, expected_arch_source=source, shipped=item.shipped)
        try:
            findings = list(run_object_rules(ctx, codes))
        except InputError as exc:  # a malformed symbol table, found lazily
            problems.append(exc)
            continue
        report.artifacts.append(ArtifactResult(item.display, findings, arch=facts.arch, policy=chosen.name))
        if item.wheel is not None and item.container is not None:
            entry = wheels.setdefault(item.container, _WheelObjects(item.wheel))
            entry.objects.append((item.display, facts.arch, _needs(facts, item.shipped)))

    if "AB402" in codes:
        for path, entry in wheels.items():
            report.artifacts.extend(_tag_results(path, entry, explicit))
    report.errors = [InputProblem(p.path or "", p.message) for p in problems]
    return report


def _tag_results(path: str, entry: _WheelObjects, explicit: Policy | None) -> list[ArtifactResult]:
    from abicheck.rules.tags import claim_finding

    results = []
    for arch, claim in entry.tags.claims.items():  # type: ignore[attr-defined]
        objects = [(d, needs) for d, a, needs in entry.objects if a == arch]
        if not objects:
            continue
        all_needs = [n for _d, needs in objects for n in needs]
        honest = most_compatible(all_needs, arch, claim.family)
        if honest is not None and honest.priority >= claim.priority:
            continue
        culprits = [d for d, needs in objects
                    if (p := most_compatible(needs, arch, claim.family)) is None or p.priority < claim.priority]
        finding = claim_finding(path, arch, claim, honest, culprits)
        results.append(ArtifactResult(path, [finding], arch=arch, policy=claim.name, kind="wheel"))
    return results
