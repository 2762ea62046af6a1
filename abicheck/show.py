"""`abicheck show`: what each object needs, and the oldest policy it meets."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from abicheck.errors import InputError
from abicheck.policy import most_compatible, numeric, split_version
from abicheck.scan import scan


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


def summarize(paths: list[str]) -> tuple[list[ObjectSummary], list[InputError]]:
    problems: list[InputError] = []
    out: list[ObjectSummary] = []
    for item in scan(paths, problems):
        facts = item.reader.facts
        needs = [n for n in facts.version_needs if n.library not in item.shipped]
        strong = [n for n in needs if not n.weak]
        policy = None
        if facts.arch is not None:
            musl = "libc.so" in facts.needed
            best = most_compatible([(n.library, n.version) for n in strong], facts.arch,
                                   "musllinux" if musl else "manylinux")
            policy = best.tag(facts.arch) if best else None
        out.append(ObjectSummary(
            path=item.display, arch=facts.arch, machine=facts.machine_description, type=facts.type,
            interpreter=facts.interpreter, soname=facts.soname, needed=list(facts.needed),
            rpath=list(facts.rpath), runpath=list(facts.runpath),
            highest_versions=_highest([n.version for n in strong]),
            weak_versions=sorted({f"{n.version} ({n.library})" for n in needs if n.weak}),
            most_compatible=policy,
        ))
    return out, problems


def render_summary(items: list[ObjectSummary]) -> str:
    lines = []
    for s in items:
        lines.append(s.path)
        rows = [
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
        rows.append(("most compatible", s.most_compatible or "none of the manylinux policies"))
        lines.extend(f"  {k + ':':<18}{v}" for k, v in rows)
    return "\n".join(lines) + "\n"
