"""`abicheck show`: what each object needs, and the oldest policy it meets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from abicheck.analysis.resolver import Resolved
from abicheck.analysis.symbols import ImportResult
from abicheck.binary.demangle import demangle
from abicheck.binary.elf_model import is_musl
from abicheck.errors import InputError
from abicheck.options import CheckOptions
from abicheck.pipeline import Run, variant_info
from abicheck.policy.manylinux import DEFAULT_POLICY, Policy, load_policy, most_compatible, numeric, split_version
from abicheck.rules import run_rules
from abicheck.rules.context import ObjectContext


@dataclass(frozen=True)
class ObjectSummary:
    path: str
    arch: str | None
    machine: str
    type: str
    interpreter: str | None
    soname: str | None
    needed: list[str]
    rpath: list[str]
    runpath: list[str]
    highest_versions: dict[str, str]  # prefix -> highest version name needed (non-weak)
    weak_versions: list[str]
    most_compatible: str | None  # e.g. manylinux_2_34_x86_64
    to_reach: dict | None = None  # what it takes to meet the target policy (AB101 hint kinds)
    resolved: list[dict] | None = None  # where each NEEDED library comes from (see docs/json-report.md)
    variant: dict | None = None  # the kernel build variant: name, backend, torch, C++ ABI, arch
    imports: dict | None = None  # the symbol resolution stage: checked, missing, not checked (AB312)
    missing_symbols: list[str] | None = None  # the imports no library it will load defines
    torch: str | None = None  # a kernel's torch symbols: what they were checked against, or why not

    def to_dict(self) -> dict:
        return asdict(self)


def _highest(versions: list[str]) -> dict[str, str]:
    best: dict[str, tuple[tuple[int, ...], str]] = {}
    for name in versions:
        prefix, rest = split_version(name)
        number = numeric(rest)
        if number is None:
            continue
        if prefix not in best or number > best[prefix][0]:
            best[prefix] = (number, name)
    return {prefix: name for prefix, (_n, name) in sorted(best.items())}


def _to_reach(ctx: ObjectContext, policy: Policy) -> dict | None:
    """Count the AB101 findings against `policy` by what fixes them."""
    if ctx.facts.arch not in policy.arches:
        return None
    findings = list(run_rules(ctx._replace(target=ctx.target._replace(policy=policy)), {"AB101"}))
    counts = {"rebuild": 0, "code-change": 0, "toolchain": 0}
    for f in findings:
        counts[f.hint_kind or "rebuild"] += 1
    return {"policy": policy.name, **counts,
            "code_change_symbols": sorted({f.symbol for f in findings if f.hint_kind == "code-change" and f.symbol})}


def _macos_tag(slices: list) -> str | None:
    """The macosx wheel tag the slices allow: the newest minimum macOS, and arm64, x86_64 or universal2."""
    versions = [tuple(int(p) for p in s.min_macos.split(".")[:2]) for s in slices if s.min_macos]
    arches = {s.arch for s in slices}
    arch = {frozenset({"aarch64"}): "arm64", frozenset({"x86_64"}): "x86_64",
            frozenset({"aarch64", "x86_64"}): "universal2"}.get(frozenset(arches))
    if not versions or arch is None:
        return None
    major, minor = max(versions)
    return f"macosx_{major}_{minor if major < 11 else 0}_{arch}"


def _foreign_summary(ctx: ObjectContext) -> ObjectSummary:
    """A Mach-O or PE object: its machines, what it loads, and for Mach-O the oldest macOS it runs on."""
    variant = variant_info(ctx)
    m = ctx.macho
    if m is not None:
        slices = [s for s in m.slices if s.file_type != "object"] or m.slices
        first = slices[0]
        return ObjectSummary(
            path=ctx.path, arch=",".join(s.arch for s in slices),
            machine=("fat Mach-O: " if m.fat else "Mach-O ") + ", ".join(
                f"{s.arch} (macOS {s.min_macos or '?'})" for s in slices),
            type=first.file_type, interpreter=None, soname=first.install_name,
            needed=[path for path, _kind in first.dylibs], rpath=list(first.rpaths), runpath=[],
            highest_versions={}, weak_versions=[path for path, kind in first.dylibs if kind == "weak"],
            most_compatible=_macos_tag(slices), variant=variant)
    pe = ctx.pe
    assert pe is not None
    return ObjectSummary(
        path=ctx.path, arch=pe.machine, machine=f"PE {pe.machine}", type="DLL" if pe.dll else "EXE",
        interpreter=None, soname=None, needed=sorted(pe.imports), rpath=[], runpath=[], highest_versions={},
        weak_versions=[], most_compatible={"x86_64": "win_amd64", "aarch64": "win_arm64", "i686": "win32"}.get(
            pe.machine), variant=variant)


def _elf_summary(ctx: ObjectContext, goal: Policy, explicit: bool) -> ObjectSummary:
    facts = ctx.facts
    needs = [n for n in facts.version_needs if n.library not in ctx.shipped]
    strong = [n for n in needs if not n.weak]
    best_tag = None
    if facts.arch is not None:
        best = most_compatible([(n.library, n.version) for n in strong], facts.arch,
                               "musllinux" if is_musl(facts) else "manylinux")
        best_tag = best.tag(facts.arch) if best else None
    return ObjectSummary(
        path=ctx.path, arch=facts.arch, machine=facts.machine_description, type=facts.type,
        interpreter=facts.interpreter, soname=facts.soname, needed=list(facts.needed),
        rpath=list(facts.rpath), runpath=list(facts.runpath),
        highest_versions=_highest([n.version for n in strong]),
        weak_versions=sorted({f"{n.version} ({n.library})" for n in needs if n.weak}),
        most_compatible=best_tag,
        to_reach=_to_reach(ctx, goal if explicit or not is_musl(facts) else load_policy("musllinux_1_2")),
        variant=variant_info(ctx),
        torch=_torch_text(ctx),
    )


def _missing(result: ImportResult) -> list[str]:
    return sorted({(demangle(name) or name) + (f"@{version}" if version else "")
                   for name, version, _library, _searched in result.missing})


def summarize(paths: list[str], policy: str | None = None,
              skipped: list[str] | None = None) -> tuple[list[ObjectSummary], list[InputError]]:
    """One summary per object; other files inside directories and wheels go to `skipped`."""
    goal = load_policy(policy or DEFAULT_POLICY)
    with Run(CheckOptions.parse()) as run:
        def summary(ctx: ObjectContext) -> ObjectSummary:
            return _elf_summary(ctx, goal, bool(policy)) if ctx.format == "elf" else _foreign_summary(ctx)

        examined = run.loaded(run.objects(paths, summary))
    out = []
    for found, load in examined:
        if load is not None:
            found = replace(found, resolved=[r.to_dict() for r in load.resolved])
            if load.imports is not None:
                found = replace(found, imports=load.imports.to_dict(), missing_symbols=_missing(load.imports))
        out.append(found)
    if skipped is not None:
        skipped.extend(run.skipped)
    return out, run.problems


def _torch_text(ctx: ObjectContext) -> str | None:
    found = ctx.torch_imports
    if found is None:
        return None
    if found.not_checked is not None:
        return f"{found.checked} checked, the rest not checked: {found.not_checked}" if found.checked else (
            f"not checked: {found.not_checked}")
    torch = ctx.target.torch
    where = f" against {torch.describe()} ({ctx.target.torch_source})" if torch is not None else ""
    missing = f", {len(found.missing)} UNDEFINED" if found.missing else ""
    return f"{found.checked} checked{where}{missing}"


def _resolution_text(entry: dict) -> str:
    return Resolved(entry["library"], entry["how"], entry.get("where"), entry.get("detail")).describe()


def render_summary(items: list[ObjectSummary]) -> str:
    lines = []
    for s in items:
        lines.append(s.path)
        rows = []
        if s.variant is not None:
            v = s.variant
            rows.append(("variant", f"{v['name']} ({v['backend'] or 'no backend'}"
                                    + (f" {v['backend_version']}" if v["backend_version"] else "")
                                    + (f", torch {v['torch']}" if v["torch"] else "")
                                    + (f", {v['cxx_abi']}" if v["cxx_abi"] else "") + ")"))
        rows += [
            ("machine", f"{s.arch or '?'} ({s.machine}), {s.type}"),
            ("interpreter", s.interpreter or "-"),
            ("soname", s.soname or "-"),
            ("needed", ", ".join(s.needed) or "-"),
            ("rpath", ":".join(s.rpath) or "-"),
            ("runpath", ":".join(s.runpath) or "-"),
            ("highest versions", ", ".join(s.highest_versions.values()) or "-"),
        ]
        if s.weak_versions:
            rows.append(("weak versions", ", ".join(s.weak_versions)))
        rows.append(("most compatible", s.most_compatible or "none of the manylinux policies"))  # or a macOS tag
        for n, r in enumerate(s.resolved or ()):
            rows.append(("resolves" if n == 0 else "", _resolution_text(r)))
        if s.torch is not None:
            rows.append(("torch symbols", s.torch))
        if s.imports is not None:
            i = s.imports
            text = f"{i['checked'] - i['missing']} resolved" if i["checked"] or i["not_checked"] else "none"
            if i["missing"]:
                text += f", {i['missing']} UNDEFINED ({', '.join((s.missing_symbols or [])[:5])}" + (
                    ", ...)" if len(s.missing_symbols or []) > 5 else ")")
            if i["not_checked"]:
                text += f", {i['not_checked']} not checked (" + "; ".join(
                    f"{lib}: {why}" for lib, why in i.get("unknown_libraries", {}).items()) + ")"
            rows.append(("imports", text))
        if s.to_reach is not None:
            r = s.to_reach
            if r["rebuild"] + r["code-change"] + r["toolchain"] == 0:
                text = "meets it already"
            else:
                text = (f"{r['rebuild']} symbols fixed by rebuilding, {r['code-change']} needing code changes"
                        + (f" ({', '.join(r['code_change_symbols'])})" if r["code_change_symbols"] else "")
                        + f", {r['toolchain']} needing an older or static C++ runtime")
            rows.append((f"to reach {r['policy']}", text))
        width = max(len(k) for k, _ in rows) + 2
        lines.extend(f"  {(k + ':') if k else '':<{width}}{v}" for k, v in rows)
    return "\n".join(lines) + "\n"
