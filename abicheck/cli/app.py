"""The `abicheck` command line: a thin typer layer over the library API.

Exit codes: 0 clean, 1 findings, 2 usage or input errors (findings take
precedence over input errors, so a run with both exits 1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Optional

import typer

from abicheck import __version__
from abicheck.cli.output import out
from abicheck.errors import UsageError

app = typer.Typer(
    name="abicheck",
    help="Check ELF, Mach-O and PE objects, kernel build trees and wheels: every reason they would fail to load.\n\n"
         "Exit status: 0 clean, 1 findings, 2 usage or input errors.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _fail(message: str) -> typer.Exit:
    from abicheck.cli.check import fail

    return typer.Exit(fail(message))


def _version_callback(value: bool) -> None:
    if value:
        # The PyPI name `abicheck` belongs to another tool; say which one this is.
        out(f"abicheck {__version__} (manylinux-abicheck)\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version_callback, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """abicheck: will this ELF object load on the user's system?"""


def _choices(*values: str) -> Callable[[str], list[str]]:
    """Shell completion of an option's closed set of values."""
    return lambda incomplete: [v for v in values if v.startswith(incomplete)]


PathsArg = Annotated[list[str], typer.Argument(help="Files, directories or .whl wheels.", show_default=False,
                                              metavar="PATH...")]


@app.command()
def check(
    paths: PathsArg,
    policy: Annotated[Optional[str], typer.Option(
        "--policy", "--manylinux", "-m", metavar="NAME",
        help="Policy to check against (default: the wheel's tag, else manylinux_2_28).")] = None,
    target: Annotated[Optional[str], typer.Option(
        metavar="wheel|nix", autocompletion=_choices("wheel", "nix"),
        help="Where the objects will run: 'wheel' (an FHS system; default) or 'nix' (the Nix store).")] = None,
    arch: Annotated[Optional[str], typer.Option(
        metavar="ARCH", help="Architecture the objects must be built for (x86_64, aarch64, ...).")] = None,
    output_format: Annotated[Optional[str], typer.Option(
        "--format", metavar="text|concise|json|sarif|github",
        autocompletion=_choices("text", "concise", "json", "sarif", "github"),
        help="Output format: text, concise (one line per object and rule), json, sarif or github.")] = None,
    select: Annotated[Optional[list[str]], typer.Option(
        metavar="CODES", help="Only these rule codes or prefixes (AB1, AB202); repeatable or comma-separated.")] = None,
    extend_select: Annotated[Optional[list[str]], typer.Option(
        "--extend-select", metavar="CODES", help="Add these rule codes or prefixes to the selection; repeatable or "
                                                 "comma-separated.")] = None,
    ignore: Annotated[Optional[list[str]], typer.Option(
        metavar="CODES", help="Skip these rule codes or prefixes, besides [tool.abicheck]'s ignore; repeatable or "
                              "comma-separated.")] = None,
    output: Annotated[Optional[str], typer.Option(
        "--output", "-o", metavar="FILE", help="Write the report to this file instead of standard output.")] = None,
    backend: Annotated[Optional[str], typer.Option(
        metavar="BACKEND",
        help="Kernel backend of loose files: cuda, rocm, xpu, cpu, or with a version (cu128, rocm64).")] = None,
    variant: Annotated[Optional[str], typer.Option(
        metavar="VARIANT", help="Kernel build variant of loose files, e.g. torch28-cxx11-cu128-x86_64-linux.")] = None,
    python_abi: Annotated[Optional[str], typer.Option(
        "--python-abi", "-p", metavar="X.Y",
        help="Oldest Python an abi3 object must load in (default: the wheel tag's, else 3.9).")] = None,
    policy_file: Annotated[Optional[list[str]], typer.Option(
        "--policy-file", metavar="FILE", help="Extra backend policy data (JSON) to merge; repeatable.")] = None,
    jobs: Annotated[Optional[int], typer.Option(
        "--jobs", "-j", min=1, metavar="N",
        help="Threads inflating wheel members, at most the cores (default: the cores, at most 8).")] = None,
    allow_empty: Annotated[bool, typer.Option(
        "--allow-empty", help="A directory or wheel without ELF objects is not an error.")] = False,
    torch: Annotated[Optional[list[str]], typer.Option(
        "--torch", metavar="PATH|X.Y",
        help="A torch kernels will meet (AB308): an installed torch folder, a torch wheel, or a release "
             "of abicheck's index (2.9) for loose objects; repeatable. Variants are checked against "
             "their own release: a --torch of it, else abicheck's index.")] = None,
    torch_mismatch: Annotated[Optional[str], typer.Option(
        "--torch-mismatch", metavar="error|skip|check", autocompletion=_choices("error", "skip", "check"),
        help="For a variant whose release neither --torch nor abicheck's index has: error "
             "(default), skip (report its symbols as not checked) or check (against the "
             "--torch given).")] = None,
    statistics: Annotated[bool, typer.Option(
        "--statistics", help="Count the findings per rule, most first, above the report.")] = False,
    fail_on: Annotated[Optional[str], typer.Option(
        "--fail-on", metavar="error|warning", autocompletion=_choices("error", "warning"),
        help="The lowest finding severity that fails the check (exit 1): error (default) or "
             "warning (an absolute RUNPATH entry, which the loader skips).")] = None,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Anything not checked (torch symbols, imports, libraries not verified) fails: exit "
                         "1.")] = False,
    torch_stable_abi: Annotated[Optional[str], typer.Option(
        "--torch-stable-abi", metavar="X.Y",
        help="Hold objects to torch's stable ABI of this release, e.g. 2.9 (AB310).")] = None,
    macos: Annotated[Optional[str], typer.Option(
        "--macos", metavar="X.Y",
        help="The oldest macOS Mach-O objects must load on, e.g. 15.0 (AB601; default: the wheel's "
             "macosx tag, or the variant's: 26.0 for Metal, else kernel-builder's 15.0).")] = None,
) -> None:
    """Check objects and report every reason they would fail to load."""
    from abicheck.cli.check import run_check

    raise typer.Exit(run_check(
        paths, policy=policy, target=target, arch=arch, output_format=output_format, select=select,
        extend_select=extend_select, ignore=ignore, output=output, backend=backend, variant=variant,
        python_abi=python_abi, policy_file=policy_file, jobs=jobs, allow_empty=allow_empty, torch=torch,
        torch_mismatch=torch_mismatch, torch_stable_abi=torch_stable_abi, macos=macos, strict=strict or None,
        fail_on=fail_on, statistics=statistics,
    ))


@app.command()
def show(
    paths: PathsArg,
    output_format: Annotated[str, typer.Option(
        "--format", metavar="text|json", help="Output format: text or json.")] = "text",
    policy: Annotated[Optional[str], typer.Option(
        help="Policy for the 'to reach' summary (default manylinux_2_28).")] = None,
) -> None:
    """Summarise each object: versions needed, NEEDED, interpreter, RPATH, best policy."""
    import json

    from abicheck.cli.show import render_summary, summarize

    if output_format not in ("text", "json"):
        raise _fail(f"unknown format {output_format!r}; use text or json")
    skipped: list[str] = []
    try:
        items, problems = summarize(paths, policy, skipped)
    except UsageError as exc:
        raise _fail(str(exc)) from None
    if output_format == "json":
        out(json.dumps({"objects": [i.to_dict() for i in items],
                                     "errors": [{"path": p.path, "message": p.message} for p in problems],
                                     "skipped_non_elf": len(skipped)},
                                    indent=2) + "\n")
    else:
        out(render_summary(items))
        for p in problems:
            out(f"{p.path}: error: {p.message}\n")
        if skipped:
            out(f"({len(skipped)} other file{'s' if len(skipped) != 1 else ''} skipped: not ELF, Mach-O or PE)\n")
    raise typer.Exit(2 if problems else 0)


@app.command()
def policies(
    arch: Annotated[Optional[str], typer.Option(metavar="ARCH", help="Only this architecture.")] = None,
) -> None:
    """List the manylinux and musllinux policies with their maximum versions."""
    from abicheck.policy.manylinux import all_policies

    shown = 0
    for policy in all_policies():
        arches = [a for a in policy.arches if arch in (None, a)]
        if not arches:
            continue
        shown += 1
        aliases = f" (alias {', '.join(policy.aliases)})" if policy.aliases else ""
        out(f"{policy.name}{aliases}\n")
        for a in arches:
            limits = ", ".join(f"{p} {lim.maximum_text}" for p, lim in sorted(policy.limits_for(a).items())
                               if lim.maximum is not None)
            out(f"  {a:<12} {limits or 'no versioned libraries'}\n")
    if shown == 0:
        raise _fail(f"no policy covers architecture {arch!r}")


@app.command()
def explain(code: Annotated[Optional[str], typer.Argument(
        help="A rule code (AB101) or name; without one, every rule is listed.")] = None) -> None:
    """Explain what a rule checks, why it matters and how to fix it."""
    from abicheck.rules import all_rules, get_rule

    if code is None:
        out("".join(f"{r.code}  {r.name:<32} {r.summary}\n" for r in all_rules())
            + "\nabicheck explain CODE says more of one.\n")
        return
    try:
        rule = get_rule(code)
    except UsageError as exc:
        raise _fail(str(exc)) from None
    out(f"{rule.code} {rule.name}\n\n{rule.summary}\n\n{rule.explanation}\n")


abi_app = typer.Typer(
    help="The ABI surface of shared objects: dump it, hash it, diff it, write a linkable stub.\n\n"
         "Exit status of diff: 0 compatible, 1 breaking (or any change with --strict), 2 errors.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(abi_app, name="abi")


@abi_app.command("dump")
def abi_dump(
    path: Annotated[str, typer.Argument(help="A .so, a wheel, or a saved dump.")],
    output_format: Annotated[str, typer.Option("--format", metavar="text|json", help="text or json.")] = "text",
    output: Annotated[Optional[str], typer.Option("--output", "-o", metavar="FILE", help="Write to this file.")] = None,
    digest: Annotated[bool, typer.Option("--hash", help="Print the sha256 of the normalized surface.")] = False,
) -> None:
    """Print the normalized exported surface: SONAME, versions, symbols."""
    from abicheck.abi.commands import run_dump

    raise typer.Exit(run_dump(path, output_format, output, digest))


@abi_app.command("diff")
def abi_diff(
    old: Annotated[str, typer.Argument(help="The old .so, wheel or saved dump.")],
    new: Annotated[str, typer.Argument(help="The new .so, wheel or saved dump.")],
    output_format: Annotated[str, typer.Option("--format", metavar="text|json", help="text or json.")] = "text",
    strict: Annotated[bool, typer.Option("--strict", help="Treat additions as a change too (exit 1).")] = False,
) -> None:
    """Say whether NEW can replace OLD: removed or changed symbols break dependents."""
    from abicheck.abi.commands import run_diff

    raise typer.Exit(run_diff(old, new, output_format, strict))


@abi_app.command("stub")
def abi_stub(
    path: Annotated[str, typer.Argument(help="A .so (x86_64 or aarch64) or its saved dump.")],
    output: Annotated[str, typer.Option("--output", "-o", metavar="FILE", help="Where to write the stub .so.")],
) -> None:
    """Write a code-free shared object with the same surface, for linking against."""
    from abicheck.abi.commands import run_stub

    raise typer.Exit(run_stub(path, output))

