"""The check pipeline: paths -> objects -> rules -> Report."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from abicheck.binary.elf import ARCH_SIGNATURES, ElfFacts, ElfReader
from abicheck.errors import InputError, NothingToCheck, UsageError
from abicheck.policy.manylinux import DEFAULT_POLICY, Policy, load_policy, most_compatible
from abicheck.report.model import ArtifactResult, Finding, InputProblem, Report
from abicheck.rules import ObjectContext, run_object_rules, selected_codes
from abicheck.inputs.scan import ScanItem, scan

if TYPE_CHECKING:
    from abicheck.policy.backends import BackendContext, BackendPolicy
    from abicheck.inputs.kernel_tree import VariantDir
    from abicheck.inputs.variants import Variant
    from abicheck.inputs.wheel import WheelTags

DEFAULT_PYTHON_ABI = (3, 9)

TARGETS = ("wheel", "nix")


@dataclass
class _WheelObjects:
    """What AB402 needs to know about each object of one wheel."""

    tags: WheelTags
    objects: list[tuple[tuple[int, int], str, str | None, list[tuple[str, str]]]] = field(default_factory=list)


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


def _expected_arch(facts: ElfFacts, arch: str | None, item: ScanItem,
                   variant: Variant | None) -> tuple[str | None, str]:
    if arch is not None:
        return arch, "--arch"
    if item.variant_dir is not None and item.variant_dir.variant.arch:
        return item.variant_dir.variant.arch, f"the variant {item.variant_dir.variant.name}"
    if variant is not None and variant.arch:
        return variant.arch, f"--variant {variant.name}"
    if item.wheel is not None and item.wheel.claims:
        arches = item.wheel.arches
        if facts.arch in arches:
            return facts.arch, "the wheel tag"
        return arches[0], f"the wheel tag ({item.wheel.claims[arches[0]].tag(arches[0])})"
    return None, ""


def _backend_for(item: ScanItem, option: BackendContext | None, variant: Variant | None) -> BackendContext | None:
    """The variant folder wins; then --variant/--backend; then a kernel file name."""
    from abicheck.inputs.paths import backend_from_filename

    if item.variant_dir is None and variant is None and option is None:
        named = backend_from_filename(item.display)
        if named is None:
            return None  # a plain object: the backend machinery is not even imported
    from abicheck.policy.backends import BackendContext

    if item.variant_dir is not None:
        v = item.variant_dir.variant
        return BackendContext(v.backend, v.backend_version, f"the variant {v.name}", v.name) if v.backend else None
    if variant is not None:
        if variant.backend is None:
            return None
        return BackendContext(variant.backend, variant.backend_version, f"--variant {variant.name}", variant.name)
    if option is not None:
        return option
    named = backend_from_filename(item.display)
    return BackendContext(named, None, "its file name") if named else None


def _python_abi(item: ScanItem, option: tuple[int, int] | None) -> tuple[tuple[int, int], str]:
    if option is not None:
        return option, "--python-abi"
    if item.wheel is not None and item.wheel.abi3_python is not None:
        v = item.wheel.abi3_python
        return v, f"the wheel's cp{v[0]}{v[1]}-abi3 tag"
    return DEFAULT_PYTHON_ABI, "the default; set --python-abi"


def parse_python_abi(value: str) -> tuple[int, int]:
    text = value.strip().lower().removeprefix("cp")
    parts = text.split(".") if "." in text else [text[:1], text[1:]]
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise UsageError(f"bad --python-abi {value!r}; use a version such as 3.9 (or cp39)")
    return int(parts[0]), int(parts[1])


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
    backend: str | None = None,
    variant: str | None = None,
    python_abi: str | None = None,
    policy_files: Iterable[str] = (),
    jobs: int | None = None,
    progress: Callable[[str], None] | None = None,
    allow_empty: bool = False,
) -> Report:
    """Check files, directories, kernel build trees and wheels; return a `Report`.

    Raises `UsageError` for options that make no sense; every problem with an
    input is recorded in `Report.errors` instead of raised. `jobs` threads
    inflate wheel members (default: the number of cores); `progress`, if
    given, is called with each object's path as it is checked. With
    `allow_empty`, a directory or wheel without ELF objects is not an error
    (the Nix hook checks outputs that may hold none).
    """
    explicit = validate_options(policy, target, arch)
    codes = selected_codes(list(select) if select else None, list(ignore) if ignore else None)
    backend_option = None
    if backend:
        from abicheck.policy.backends import parse_backend_option

        backend_option = parse_backend_option(backend)
    variant_option = None
    if variant:
        from abicheck.inputs.variants import parse_variant

        try:
            variant_option = parse_variant(variant)
        except InputError as exc:
            raise UsageError(f"--variant: {exc.message}") from None
    python_option = parse_python_abi(python_abi) if python_abi else None
    policy_files = tuple(policy_files)
    loaded_policy: list[BackendPolicy] = []

    def backend_policy() -> BackendPolicy:
        """Loaded once, when the first object with a kernel backend is met."""
        if not loaded_policy:
            from abicheck.policy.backends import load_backend_policy

            loaded_policy.append(load_backend_policy(policy_files))
        return loaded_policy[0]

    if policy_files:
        backend_policy()  # a bad --policy-file is a usage error before any work
    report = Report(target=target, policy=explicit.name if explicit else None)
    problems: list[InputError] = []
    wheels: dict[str, _WheelObjects] = {}
    variant_dirs: dict[str, VariantDir] = {}

    workers = jobs if jobs and jobs > 0 else (os.cpu_count() or 1)
    found: list[tuple[tuple[int, int], ArtifactResult]] = []  # (where its object was found, result)
    for item in scan(list(paths), problems, workers):
        if progress is not None:
            progress(item.display)
        facts = item.reader.facts
        chosen = policy_for(facts, explicit, item)
        expected, source = _expected_arch(facts, arch, item, variant_option)
        py_abi, py_source = _python_abi(item, python_option)
        if item.variant_dir is not None:
            variant_dirs[item.variant_dir.path] = item.variant_dir
        kernel_backend = _backend_for(item, backend_option, variant_option)
        ctx = ObjectContext(path=item.display, reader=item.reader, policy=chosen, target=target,
                            expected_arch=expected, expected_arch_source=source, shipped=item.shipped,
                            backend=kernel_backend,
                            backend_policy=backend_policy() if kernel_backend else None,
                            abi3=item.display.endswith(".abi3.so") or bool(item.wheel and item.wheel.abi3),
                            python_abi=py_abi, python_abi_source=py_source)
        def rules(reader: ElfReader, ctx: ObjectContext = ctx) -> list[Finding]:
            ctx.reader = reader
            return list(run_object_rules(ctx, codes))

        try:
            findings = item.read(rules)
        except InputError as exc:  # a malformed symbol table, found lazily
            problems.append(exc)
            continue
        result = ArtifactResult(item.display, findings, arch=facts.arch, policy=chosen.name)
        found.append((item.position, result))
        if item.wheel is not None and item.container is not None:
            entry = wheels.setdefault(item.container, _WheelObjects(item.wheel))
            entry.objects.append((item.position, item.display, facts.arch, _needs(facts, item.shipped)))

    # Wheel members finish out of archive order with several jobs; the report never shows it.
    report.artifacts = [result for _position, result in sorted(found, key=lambda pair: pair[0])]
    if "AB402" in codes:
        for path, entry in wheels.items():
            report.artifacts.extend(_tag_results(path, entry))
    if "AB305" in codes:
        for vdir in variant_dirs.values():
            report.artifacts.extend(_metadata_results(vdir))
    if allow_empty:
        problems = [p for p in problems if not isinstance(p, NothingToCheck)]
    report.errors = [InputProblem(p.path or "", p.message) for p in problems]
    return report


def _metadata_results(vdir: VariantDir) -> list[ArtifactResult]:
    from abicheck.rules.linkage import AB305

    said, variant = vdir.metadata_backend, vdir.variant
    if said is None or variant.backend is None or said == variant.backend or vdir.metadata_path is None:
        return []
    path = vdir.metadata_path
    finding = Finding(
        code=AB305.code, name=AB305.name, path=path,
        message=f"metadata.json says backend {said!r} but the variant name {variant.name} says {variant.backend!r}",
        hint="rebuild the variant, or regenerate metadata.json from the same build",
        details={"metadata_backend": said, "variant_backend": variant.backend, "variant": variant.name},
    )
    return [ArtifactResult(path, [finding], arch=variant.arch, policy=None, kind="metadata")]


def _tag_results(path: str, entry: _WheelObjects) -> list[ArtifactResult]:
    from abicheck.rules.tags import claim_finding

    results = []
    for arch, claim in entry.tags.claims.items():
        objects = [(d, needs) for _pos, d, a, needs in sorted(entry.objects) if a == arch]
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
