"""The check pipeline: paths -> objects -> contexts -> rules -> Report.

    inputs.scan      every ELF object under the paths, with where it came from
    context          each object's policy, architecture, backend, Python ABI
    rules            every selected rule of each scope: object, wheel, variant
    resolve          after the scan, where each object's NEEDED libraries come from,
                     then the rules of the load scope
    report           the findings and the input errors, in walk/archive order

Nothing here knows any particular rule.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from abicheck.context import ContextBuilder, ObjectContext
from abicheck.errors import InputError, NothingToCheck, UsageError
from abicheck.foreign_stage import check_foreign
from abicheck.inputs.foreign import ForeignItem
from abicheck.inputs.scan import scan
from abicheck.load_stage import load_contexts
from abicheck.report.model import ArtifactResult, Finding, InputProblem, Report
from abicheck.rules import keeps_tables, run_rules, selected_codes

MAX_JOBS = 256  # threads inflating wheel members; thousands fail to start, and each holds memory
DEFAULT_MAX_JOBS = 8  # the default is the cores, up to this: the biggest member bounds a wheel's time anyway


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
    torch: str | None = None,
    torch_mismatch: str = "error",
    torch_stable_abi: str | None = None,
    macos: str | None = None,
) -> Report:
    """Check files, directories, kernel build trees and wheels; return a `Report`.

    Raises `UsageError` for options that make no sense; every problem with an
    input is recorded in `Report.errors` instead of raised. `jobs` threads
    inflate wheel members (default: the number of cores); `progress`, if
    given, is called with each object's path as it is checked. With
    `allow_empty`, a directory or wheel without ELF objects is not an error
    (the Nix hook checks outputs that may hold none). `torch` (an installed
    torch folder or a torch wheel) lets kernels' torch imports be checked
    (AB308); see `ContextBuilder` for `torch_mismatch`. `torch_stable_abi`
    ("2.9") holds every object to torch's stable ABI of that release (AB310),
    as a torch-stable-abi29 variant does. `macos` ("15.0") is the oldest macOS
    Mach-O objects must load on (AB601), instead of their wheel tag's or
    variant's.
    """
    contexts = ContextBuilder(policy=policy, target=target, arch=arch, backend=backend, variant=variant,
                              python_abi=python_abi, policy_files=policy_files, torch=torch,
                              torch_mismatch=torch_mismatch, torch_stable_abi=torch_stable_abi,
                              macos=macos)
    try:
        return _run(contexts, paths, select, ignore, jobs, progress, allow_empty)
    finally:
        contexts.close()


def _run(contexts: ContextBuilder, paths: Iterable[str], select: Iterable[str] | None,
         ignore: Iterable[str] | None, jobs: int | None, progress: Callable[[str], None] | None,
         allow_empty: bool) -> Report:
    codes = selected_codes(list(select) if select else None, list(ignore) if ignore else None)
    tables = keeps_tables(codes)
    report = Report(target=contexts.target, policy=contexts.explicit.name if contexts.explicit else None)
    problems: list[InputError] = []
    if jobs is not None and jobs > MAX_JOBS:
        raise UsageError(f"--jobs {jobs} is more than {MAX_JOBS}; each job holds up to one member's tables")
    workers = jobs if jobs and jobs > 0 else min(os.cpu_count() or 1, DEFAULT_MAX_JOBS)
    found: list[tuple[tuple[int, int], ArtifactResult]] = []  # (where its object was found, result)
    by_context: dict[int, ArtifactResult] = {}
    skipped: list[str] = []
    for item in scan(list(paths), problems, workers, skipped, report.pure_variants):
        if progress is not None:
            progress(item.display)
        if isinstance(item, ForeignItem):  # a Mach-O or PE object
            try:
                checked = check_foreign(contexts, item, lambda c: list(run_rules(c, codes)))
            except InputError as exc:
                problems.append(exc)
                continue
            if checked is not None:
                found.append((item.position, checked))
            continue
        ctx = contexts.for_object(item)

        def rules(reader, ctx: ObjectContext = ctx) -> list[Finding]:
            ctx.reader = reader  # a streamed member streamed again, keeping a missing table
            findings = list(run_rules(ctx, codes))
            if tables:
                contexts.keep_tables(ctx)
            return findings

        try:
            findings = item.read(rules)
        except InputError as exc:  # a malformed symbol table, found lazily
            problems.append(exc)
            continue
        finally:
            ctx.release()
        result = ctx.result(findings)
        found.append((item.position, result))
        by_context[id(ctx)] = result

    # Wheel members finish out of archive order with several jobs; the report never shows it.
    report.artifacts = [result for _position, result in sorted(found, key=lambda pair: pair[0])]
    for load_ctx in load_contexts(contexts):
        result = by_context.get(id(load_ctx.object))
        if result is not None:  # None: its symbol table was malformed, an input error already
            load_ctx.attach(result, list(run_rules(load_ctx, codes)))
    for scope_ctx in contexts.scope_contexts():
        findings = list(run_rules(scope_ctx, codes))
        if findings:
            report.artifacts.append(scope_ctx.result(findings))
    if allow_empty:
        problems = [p for p in problems if not isinstance(p, NothingToCheck)]
    report.errors = [InputProblem(p.path or "", p.message) for p in problems]
    report.skipped = len(skipped)
    return report
