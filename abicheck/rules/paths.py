"""AB2xx: interpreter and library search paths that are wrong for the target.

Two targets see paths differently:

* `wheel` (the default): the object is installed on a user's FHS system. Its
  interpreter must be the system loader and its RPATH/RUNPATH entries must be
  relative to the object (`$ORIGIN`), since nothing else exists there.
* `nix`: the object lives in the Nix store. It must not use the FHS loader or
  search FHS directories, which would mix the build host's libraries into it.

In both, a path into a build or temporary directory is a leak.
"""

from __future__ import annotations

from collections.abc import Iterator

from abicheck.policy.data import load_json
from abicheck.report.model import Finding
from abicheck.rules.base import Rule, check
from abicheck.rules.context import ObjectContext

AB201 = Rule(
    code="AB201",
    name="interpreter-not-allowed",
    summary="The program interpreter (PT_INTERP) is wrong for the target.",
    explanation="""\
An executable names its dynamic loader in PT_INTERP. With --target wheel the
object runs on a user's FHS system, so it must name that system's loader
(/lib64/ld-linux-x86-64.so.2 on x86_64); a /nix/store or build-host path does
not exist there and the program fails with "No such file or directory". With
--target nix it must not name an FHS loader (/lib64/ld-linux..., /lib/ld-...),
which would load the host's glibc into a Nix program.

Fix: for wheels, `patchelf --set-interpreter /lib64/ld-linux-x86-64.so.2` or
link with the system toolchain; in Nix, build with stdenv's cc wrapper, which
sets the store loader (or wrap the program with autoPatchelfHook).""",
)

AB202 = Rule(
    code="AB202",
    name="rpath-outside-package",
    summary="An RPATH/RUNPATH entry points outside the package.",
    explanation="""\
DT_RPATH and DT_RUNPATH tell the loader where to search for NEEDED libraries.
With --target wheel every entry must be relative to the object ($ORIGIN/...):
absolute paths (/opt/vendor/lib), /nix/store paths, build directories and
paths relative to the working directory either do not exist on a user's system
or load whatever happens to be there. With --target nix, entries into FHS
directories (/usr/lib, /lib64) pull the build host's libraries in, and build or
temporary directories are leaks (as nixpkgs' audit-tmpdir hook reports).

Fix: `patchelf --set-rpath '$ORIGIN/../lib'` (or -Wl,-rpath,'$ORIGIN/...' at
link time; auditwheel repair does this for wheels); in Nix, let the
fixupPhase's patchelf --shrink-rpath remove stray entries.""",
)


def _starts(path: str, prefixes: list[str]) -> bool:
    return any(path == p.rstrip("/") or path.startswith(p) for p in prefixes)


def _fhs_interpreters(arch: str | None, musl: bool) -> set[str]:
    data = load_json("paths.json")
    out: set[str] = set()
    for table in (data["musl_interpreters"] if musl else data["glibc_interpreters"],):
        if arch is None:
            out.update(p for paths in table.values() for p in paths)
        else:
            out.update(table.get(arch, ()))
    return out


def check_interpreter(ctx: ObjectContext) -> Iterator[Finding]:
    interp = ctx.facts.interpreter
    if interp is None:
        return
    data = load_json("paths.json")
    if ctx.target.kind == "nix":
        if _starts(interp, data["fhs_prefixes"]) or _starts(interp, data["build_dirs"]):
            yield ctx.finding(
                AB201,
                f"interpreter {interp} is an FHS path; a Nix output must use the loader from its "
                "glibc in /nix/store",
                "build with stdenv's cc wrapper (it sets the store loader), or patchelf "
                "--set-interpreter $(cat $NIX_CC/nix-support/dynamic-linker)",
                details={"interpreter": interp, "target": ctx.target.kind},
            )
        return
    allowed = _fhs_interpreters(ctx.arch, ctx.policy.family == "musllinux")
    if interp not in allowed:
        expected = " or ".join(sorted(allowed)) or "the system loader"
        where = "a /nix/store path" if interp.startswith(data["nix_store"]) else "not the system loader"
        yield ctx.finding(
            AB201,
            f"interpreter {interp} is {where}; users' systems load programs with {expected}",
            f"patchelf --set-interpreter {sorted(allowed)[0] if allowed else '<system loader>'} "
            "or build with the manylinux toolchain",
            details={"interpreter": interp, "target": ctx.target.kind},
        )


def _rpath_problem(entry: str, target: str) -> str | None:
    data = load_json("paths.json")
    if entry.startswith(("$ORIGIN", "${ORIGIN}")):
        return None
    if _starts(entry, data["build_dirs"]):
        return "a build or temporary directory"
    if target == "nix":
        if entry.startswith(data["nix_store"]):
            return None
        if _starts(entry, data["fhs_prefixes"]):
            return "an FHS directory of the build host"
        if not entry.startswith("/"):
            return "relative to the working directory, not to the object"
        return None
    if entry.startswith(data["nix_store"]):
        return "a /nix/store path, which users' systems do not have"
    if entry.startswith("/"):
        return "an absolute path outside the package"
    return "relative to the working directory, not to the object ($ORIGIN)"


def check_rpath(ctx: ObjectContext) -> Iterator[Finding]:
    for tag, entries in (("RPATH", ctx.facts.rpath), ("RUNPATH", ctx.facts.runpath)):
        for entry in entries:
            problem = _rpath_problem(entry, ctx.target.kind)
            if problem is None:
                continue
            if ctx.target.kind == "nix":
                hint = "remove it: patchelf --shrink-rpath (stdenv's fixupPhase) or fix the build's -rpath flags"
            elif ctx.target.backend is not None:  # a kernel: torch loads what it links, as kernel-builder does it
                hint = ("remove it (patchelf --remove-rpath, as kernel-builder does): a kernel's libraries come "
                        "from torch, which is loaded first")
            else:
                hint = ("make it relative to the object: patchelf --set-rpath '$ORIGIN/...' "
                        "(auditwheel repair does this)")
            # The loader skips a directory that does not exist: on a user's machine such an entry costs a lookup
            # and risks picking up a stranger's library, but does not stop loading. In a Nix output it is an
            # impurity the build must not have.
            severity = "error" if ctx.target.kind == "nix" else "warning"
            yield ctx.finding(
                AB202,
                f"{tag} entry {entry} is {problem}",
                hint,
                severity=severity,
                details={"entry": entry, "tag": tag, "target": ctx.target.kind},
            )


RULES = [AB201, AB202]
CHECKS = [check(check_interpreter, AB201), check(check_rpath, AB202)]
