"""`abicheck show`: what each object needs, and the oldest policy it meets."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from abicheck.errors import InputError
from abicheck.inputs.foreign import ForeignItem
from abicheck.inputs.scan import ScanItem, scan
from abicheck.policy.manylinux import DEFAULT_POLICY, Policy, load_policy, most_compatible, numeric, split_version

if TYPE_CHECKING:
    from abicheck.binary.elf import ElfReader
    from abicheck.context import ObjectContext
    from abicheck.report.model import Finding


@dataclass
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


def _to_reach(item: ScanItem, policy: Policy) -> dict | None:
    """Count the AB101 findings against `policy` by what fixes them."""
    from abicheck.context import ObjectContext
    from abicheck.rules.symbols import check_versions

    if item.reader.facts.arch not in policy.arches:
        return None

    def versions(reader: ElfReader) -> list[Finding]:
        return list(check_versions(ObjectContext(path=item.display, reader=reader, policy=policy,
                                                 shipped=item.shipped)))

    findings = item.read(versions)
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


def _foreign_summary(item: ForeignItem) -> ObjectSummary:
    """A Mach-O or PE object: its machines, what it loads, and for Mach-O the oldest macOS it runs on."""
    from abicheck.context import variant_info

    variant = variant_info(item.variant_dir.variant) if item.variant_dir is not None else None

    def read(buf: object) -> ObjectSummary:
        from abicheck.binary.macho import MachOFile

        parsed = item.parse(buf)
        if isinstance(parsed, MachOFile):
            m = parsed
            slices = [s for s in m.slices if s.file_type != "object"] or m.slices
            first = slices[0]
            return ObjectSummary(
                path=item.display, arch=",".join(s.arch for s in slices),
                machine=("fat Mach-O: " if m.fat else "Mach-O ") + ", ".join(
                    f"{s.arch} (macOS {s.min_macos or '?'})" for s in slices),
                type=first.file_type, interpreter=None, soname=first.install_name,
                needed=[path for path, _kind in first.dylibs], rpath=list(first.rpaths), runpath=[],
                highest_versions={}, weak_versions=[path for path, kind in first.dylibs if kind == "weak"],
                most_compatible=_macos_tag(slices), variant=variant)
        pe = parsed
        return ObjectSummary(
            path=item.display, arch=pe.machine, machine=f"PE {pe.machine}", type="DLL" if pe.dll else "EXE",
            interpreter=None, soname=None, needed=sorted(pe.imports), rpath=[], runpath=[], highest_versions={},
            weak_versions=[], most_compatible={"x86_64": "win_amd64", "aarch64": "win_arm64", "i686": "win32"}.get(
                pe.machine), variant=variant)

    return item.read(read)


def summarize(paths: list[str], policy: str | None = None,
              skipped: list[str] | None = None) -> tuple[list[ObjectSummary], list[InputError]]:
    """One summary per object; other files inside directories and wheels go to `skipped`."""
    from abicheck.context import ContextBuilder, is_musl
    from abicheck.load_stage import load_contexts
    from abicheck.rules.undefined import check_undefined

    target = load_policy(policy or DEFAULT_POLICY)
    builder = ContextBuilder()
    problems: list[InputError] = []
    out: list[tuple[tuple[int, int], ObjectSummary]] = []
    by_context: dict[int, ObjectSummary] = {}
    for item in scan(paths, problems, jobs=os.cpu_count() or 1, skipped=skipped):
        if isinstance(item, ForeignItem):
            try:
                out.append((item.position, _foreign_summary(item)))
            except InputError as exc:
                problems.append(exc)
            continue
        facts = item.reader.facts
        needs = [n for n in facts.version_needs if n.library not in item.shipped]
        strong = [n for n in needs if not n.weak]
        best_tag = None
        if facts.arch is not None:
            best = most_compatible([(n.library, n.version) for n in strong], facts.arch,
                                   "musllinux" if is_musl(facts) else "manylinux")
            best_tag = best.tag(facts.arch) if best else None
        ctx = builder.for_object(item)
        goal = target if policy or not is_musl(facts) else load_policy("musllinux_1_2")
        def keep(reader: ElfReader, ctx: ObjectContext = ctx) -> None:
            ctx.reader = reader
            builder.keep_tables(ctx)

        try:
            reach = _to_reach(item, goal)
            item.read(keep)
        except InputError as exc:  # a symbol table found malformed only now
            problems.append(exc)
            continue
        finally:
            ctx.release()
        summary = ObjectSummary(
            path=item.display, arch=facts.arch, machine=facts.machine_description, type=facts.type,
            interpreter=facts.interpreter, soname=facts.soname, needed=list(facts.needed),
            rpath=list(facts.rpath), runpath=list(facts.runpath),
            highest_versions=_highest([n.version for n in strong]),
            weak_versions=sorted({f"{n.version} ({n.library})" for n in needs if n.weak}),
            most_compatible=best_tag,
            to_reach=reach,
            variant=ctx.variant_info(),
        )
        out.append((item.position, summary))
        by_context[id(ctx)] = summary
    for load_ctx in load_contexts(builder):
        found = by_context.get(id(load_ctx.object))
        if found is not None:
            found.resolved = [r.to_dict() for r in load_ctx.resolved]
            found.missing_symbols = sorted({f"{f.demangled or f.symbol}" + (f"@{f.version}" if f.version else "")
                                            for f in check_undefined(load_ctx)})
            found.imports = load_ctx.imports_report
    out.sort(key=lambda pair: pair[0])  # wheel members finish out of archive order with several jobs
    return [summary for _position, summary in out], problems


def _resolution_text(entry: dict) -> str:
    from abicheck.resolve.resolver import Resolved

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
