"""The one driver: paths -> artifacts -> targets -> analysis -> rules -> report.

    inputs.scan        every object under the paths, ELF, Mach-O or PE, as an `Artifact`
    target.decide      what each object must meet: policy, arch, backend, Python ABI, torch, macOS
    analysis           while it is open: its torch imports, its kept tables; after the scan,
                       where each NEEDED library and each import comes from (analysis.load)
    rules              every selected rule of each scope: object, load, wheel, variant
    report             the findings and the input errors, in walk/archive order

`check` is one sink of the `Run`; `abicheck show` and `abicheck abi dump`
are others: each hands `Run.objects` what to do with an open object. Nothing
here knows any particular rule.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from abicheck.analysis.load import load_contexts
from abicheck.analysis.objects import TableBudget, foreign_imports, python_imports, torch_imports
from abicheck.binary.elf import ElfReader
from abicheck.binary.macho import MachOFile
from abicheck.errors import InputError, NothingToCheck
from abicheck.inputs.artifact import Artifact, Binary
from abicheck.inputs.kernel_tree import VariantDir
from abicheck.inputs.scan import scan
from abicheck.options import CheckOptions
from abicheck.report.model import ArtifactResult, Finding, InputProblem, Report
from abicheck.rules import run_rules
from abicheck.rules.context import LoadContext, ObjectContext, ObjectRecord, VariantContext, WheelContext
from abicheck.target import Resources, decide

DEFAULT_MAX_JOBS = 8  # the default is the cores, up to this: the biggest member bounds a wheel's time anyway


def usable_cores() -> int:
    """The cores this process may run on (its affinity, as a container's CPU set limits it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows
        return os.cpu_count() or 1


def threads_for(jobs: int | None) -> int:
    """Threads inflating wheel members: `--jobs`, at most the usable cores (default: those, at most 8).

    Inflating is CPU-bound and isal and zlib release the GIL, so a thread per
    core is the most that helps: on 2 cores the torch 2.13 CPU wheel took
    1.48 s at -j1, 1.16 s at -j2 and 1.33-1.37 s at -j3 to -j16.
    """
    return min(jobs or DEFAULT_MAX_JOBS, usable_cores())


T = TypeVar("T")


def variant_info(ctx: ObjectContext | ObjectRecord) -> dict[str, Any] | None:
    """An object's build variant as the report shows it, or None outside a variant."""
    v = ctx.target.variant
    if v is None:
        return None
    return {"name": v.name, "framework": v.framework, "backend": v.backend, "backend_version": v.backend_version,
            "torch": v.torch_version, "cxx_abi": v.cxx_abi, "arch": v.arch, "os": v.os}


@dataclass(frozen=True)
class Examined(Generic[T]):
    """What a sink made of one object, with the facts the later stages need."""

    position: tuple[int, int]
    value: T
    record: ObjectRecord | None  # ELF objects only


class Run:
    """One pass over the paths: the scan, each object's target and analysis, and the scopes after it."""

    def __init__(self, options: CheckOptions, progress: Callable[[str], None] | None = None) -> None:
        self.options = options
        self.progress = progress
        self.resources = Resources(options)
        self.problems: list[InputError] = []
        self.skipped: list[str] = []
        self.pure: list[str] = []
        self.records: list[ObjectRecord] = []
        self.variant_dirs: dict[str, VariantDir] = {}
        self.budget = TableBudget()

    def close(self) -> None:
        self.resources.close()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def objects(self, paths: Iterable[str], examine: Callable[[ObjectContext], T],
                keep: bool = True) -> list[Examined[T]]:
        """`examine` each object while it is open, in walk/archive order; Mach-O object files are skipped.

        With `keep`, what the load stage needs of each ELF object is kept
        (its imports and export tables, within a memory budget).
        """
        jobs = threads_for(self.options.jobs)
        out: list[Examined[T]] = []
        expect = getattr(self.progress, "expect", None)  # a progress line that counts towards a total
        for artifact in scan(list(paths), self.problems, jobs, self.skipped, self.pure, expect):
            if self.progress is not None:
                self.progress(artifact.display)
            if artifact.origin.variant_dir is not None:
                self.variant_dirs.setdefault(artifact.origin.variant_dir.path, artifact.origin.variant_dir)
            def use(binary: Binary, artifact: Artifact = artifact) -> Examined[T] | None:
                return self._examine(artifact, binary, examine, keep)

            try:
                done = artifact.read(use)
            except InputError as exc:  # a malformed table, found only when read
                self.problems.append(exc)
                continue
            if done is not None:
                out.append(done)
        out.sort(key=lambda e: e.position)  # wheel members finish out of archive order with several jobs
        return out

    def _examine(self, artifact: Artifact, binary: Binary, examine: Callable[[ObjectContext], T],
                 keep: bool) -> Examined[T] | None:
        if isinstance(binary, MachOFile) and all(s.file_type == "object" for s in binary.slices):
            return None  # a Mach-O object file (.o): never loaded
        target = decide(artifact.origin, binary, self.options, self.resources)
        found = torch_imports(binary, target) if isinstance(binary, ElfReader) else None
        ctx = ObjectContext(artifact.origin, artifact.format, binary, target, found)
        if not isinstance(binary, ElfReader):
            return Examined(artifact.origin.position, examine(ctx), None)
        defined = frozenset(binary.version_definitions().values())
        try:
            value = examine(ctx)
            tables = self.budget.keep(binary) if keep else None
        except InputError:  # its symbol table is malformed: still loaded by others, and resolved for them
            self.records.append(ObjectRecord(artifact.origin, binary.facts, target, defined, None))
            raise
        record = ObjectRecord(artifact.origin, binary.facts, target, defined, tables,
                              python_imports(binary) if target.abi3 else ())
        self.records.append(record)
        return Examined(artifact.origin.position, value, record)

    def load_contexts(self) -> Iterator[LoadContext]:
        return load_contexts(self.records, self.resources.backend_policy)

    def loaded(self, examined: list[Examined[T]]) -> list[tuple[T, LoadContext | None]]:
        """What the sink made of each object, with its load context (an ELF object of a wheel, tree or folder)."""
        loads = {ctx.object.origin.key: ctx for ctx in self.load_contexts()}
        return [(done.value, loads.get(done.record.origin.key) if done.record is not None else None)
                for done in examined]

    def wheel_contexts(self) -> Iterator[WheelContext]:
        """One context per wheel and architecture its tag claims, with its ELF objects of that architecture."""
        wheels: dict[str, list[ObjectRecord]] = {}
        for record in sorted(self.records, key=lambda r: r.origin.position):
            container = record.origin.container
            if record.origin.wheel is not None and container is not None:
                wheels.setdefault(container.path, []).append(record)
        for path, records in wheels.items():
            tags = records[0].origin.wheel
            assert tags is not None

            def needs(r: ObjectRecord) -> tuple[str, tuple[tuple[str, str], ...]]:
                return r.path, tuple((n.library, n.version) for n in r.facts.version_needs
                                     if not n.weak and n.library not in r.origin.shipped)

            for arch, claim in tags.claims.items():
                mine = tuple(needs(r) for r in records if r.facts.arch == arch)
                if mine:
                    yield WheelContext(path, arch, claim, mine, tags.platforms)
            if not tags.claims:
                yield WheelContext(path, None, None, tuple(needs(r) for r in records), tags.platforms)

    def variant_contexts(self) -> Iterator[VariantContext]:
        for vdir in self.variant_dirs.values():
            yield VariantContext(vdir)

    def input_problems(self) -> list[InputProblem]:
        problems = self.problems
        if self.options.allow_empty:
            problems = [p for p in problems if not isinstance(p, NothingToCheck)]
        return [InputProblem(p.path or "", p.message) for p in problems]


class _Checked(NamedTuple):
    """One object's own findings and what its result shows, before the load stage adds to them."""

    path: str
    format: str
    findings: tuple[Finding, ...]
    arch: str | None
    policy: str | None
    variant: dict[str, Any] | None
    symbols: dict[str, Any] | None
    imports: dict[str, Any] | None


def check(paths: Iterable[str], *, options: CheckOptions | None = None,
          progress: Callable[[str], None] | None = None, **values: Any) -> Report:
    """Check files, directories, kernel build trees and wheels; return a `Report`.

    Options are given as `options` (a `CheckOptions`) or as keywords, which
    `CheckOptions.parse` reads: `policy`, `target` ("wheel" or "nix"), `arch`,
    `select`, `extend_select`, `ignore`, `backend`, `variant`, `python_abi`,
    `policy_files`, `jobs`, `allow_empty`, `torch`, `torch_mismatch`,
    `torch_stable_abi`, `macos`, `strict`, `fail_on` (see the README for each). Raises `UsageError`
    for options that make no sense; every problem with an input is recorded
    in `Report.errors` instead of raised. `progress`, if given, is called with
    each object's path as it is checked.
    """
    opts = options if options is not None else CheckOptions.parse(**values)
    codes = opts.codes
    with Run(opts, progress) as run:
        def own_rules(ctx: ObjectContext) -> _Checked:
            return _Checked(
                ctx.path, ctx.format, tuple(run_rules(ctx, codes)), ",".join(ctx.arches()) or None,
                policy=ctx.target.policy.name if ctx.format == "elf" else None, variant=variant_info(ctx),
                symbols=ctx.torch_imports.summary() if ctx.torch_imports is not None else None,
                imports=None if isinstance(ctx.binary, ElfReader) else foreign_imports(ctx.binary))

        artifacts = []
        for c, load in run.loaded(run.objects(paths, own_rules)):
            findings = list(c.findings)
            needed, imports = None, c.imports
            if load is not None:
                findings = sorted(findings + list(run_rules(load, codes)), key=lambda f: f.code)
                needed = [r.to_dict() for r in load.resolved]
                imports = load.imports.to_dict() if load.imports is not None else None
            artifacts.append(ArtifactResult(c.path, findings, arch=c.arch, policy=c.policy, kind=c.format,
                                            needed=needed, symbols=c.symbols, variant=c.variant, imports=imports))
        for wheel in run.wheel_contexts():
            found = list(run_rules(wheel, codes))
            if found:
                artifacts.append(ArtifactResult(wheel.path, found, arch=wheel.arch,
                                                policy=wheel.claim.name if wheel.claim else None, kind="wheel"))
        for vctx in run.variant_contexts():
            found = list(run_rules(vctx, codes))
            if found:
                artifacts.append(ArtifactResult(vctx.path, found, arch=vctx.variant_dir.variant.arch, policy=None,
                                                kind="metadata"))
        return Report(artifacts=artifacts, errors=run.input_problems(), target=opts.target,
                      policy=opts.policy.name if opts.policy else None, skipped=len(run.skipped),
                      pure_variants=list(run.pure), strict=opts.strict,
                      fail_on=opts.fail_on)
