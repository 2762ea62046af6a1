"""Renderers: a Report as text, JSON, SARIF 2.1.0 or GitHub annotations."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

from abicheck import __version__
from abicheck.report.model import OBJECT_KINDS, Report, finding_line
from abicheck.rules import all_rules

FORMATS = ("text", "concise", "json", "sarif", "github")
INFORMATION_URI = "https://pypi.org/project/manylinux-abicheck/"
SRCROOT = "%SRCROOT%"  # the directory abicheck ran in: code scanning resolves paths against the repository


def render(report: Report, fmt: str) -> str:
    if fmt == "text":
        return render_text(report)
    if fmt == "concise":
        return render_text(report, concise=True)
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2) + "\n"
    if fmt == "sarif":
        return json.dumps(render_sarif(report), indent=2) + "\n"
    if fmt == "github":
        return render_github(report)
    raise ValueError(f"unknown format {fmt!r}")


def render_text(report: Report, summary: bool = True, concise: bool = False) -> str:
    """One line per finding, location first (as ruff does), then its hint; then the summary.

    `concise`: one line per object and rule, the symbols or libraries counted, no hints.
    """
    lines = _concise_lines(report) if concise else report.lines()
    variants = _variant_lines(report) if summary else []
    if variants:
        lines += ([""] if lines else []) + variants
    unchecked = report.unchecked_imports() if summary else []
    if unchecked:
        lines += ([""] if lines else []) + unchecked
    if summary:
        if lines:
            lines.append("")
        lines.append(_summary(report))
    return "\n".join(lines) + "\n"


def _concise_lines(report: Report, shown: int = 4) -> list[str]:
    lines = []
    for artifact in report.artifacts:
        groups: dict[str, list] = {}
        for f in artifact.findings:
            groups.setdefault(f.code, []).append(f)
        for found in groups.values():
            if len(found) == 1:
                lines.append(finding_line(artifact.path, found[0]))
                continue
            names = []
            for f in found:
                what = f.demangled or f.symbol or f.library or ""
                what += f"@{f.version}" if f.version and (f.symbol or f.demangled) else ""
                if what and what not in names:
                    names.append(what)
            listed = ", ".join(names[:shown]) + (f", and {len(names) - shown} more" if len(names) > shown else "")
            lines.append(finding_line(artifact.path, found[0], f"{len(found)} findings" + (
                f": {listed}" if listed else "")))
    return lines + report.error_lines()


def statistics(report: Report) -> str:
    """Findings counted per rule, most first (as ruff's --statistics)."""
    counts = Counter((f.code, f.name) for f in report.findings)
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0][0]))
    return "".join(f"{n:>7}  {code}  [{name}]\n" for (code, name), n in rows)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _variant_lines(report: Report) -> list[str]:
    """One line per kernel build variant: how many objects, clean or not, what was not checked and why."""
    by_folder: dict[str, list] = {}
    for artifact in report.artifacts:
        if artifact.variant is not None and artifact.kind in OBJECT_KINDS:
            by_folder.setdefault(_variant_folder(artifact.path, artifact.variant["name"]), []).append(artifact)
    names = [a[0].variant["name"] for a in by_folder.values()]
    lines = []
    for folder, artifacts in sorted(by_folder.items()):
        name = artifacts[0].variant["name"]
        name = folder if names.count(name) > 1 else name  # a monorepo: several kernels build the same variant
        count = sum(len(a.findings) for a in artifacts)
        state = f"{_plural(count, 'finding')}" if count else "clean"
        reasons = sorted({a.symbols["not_checked"] for a in artifacts if a.symbols and "not_checked" in a.symbols})
        unverified = sum(a.unverified for a in artifacts)
        notes = [f"torch symbols not checked: {r}" for r in reasons]
        if unverified:
            notes.append(f"{unverified} librar{'y' if unverified == 1 else 'ies'} not verified")
        unchecked = sum(a.imports_not_checked for a in artifacts)
        if unchecked:
            notes.append(f"{_plural(unchecked, 'import')} not checked")
        lines.append(f"{name}: {_plural(len(artifacts), 'object')}, {state}" + "".join(f"; {n}" for n in notes))
    lines += [f"{name}: no compiled objects (pure Python): nothing to check" for name in sorted(report.pure_variants)]
    return sorted(lines)


def _variant_folder(path: str, name: str) -> str:
    """The variant folder an object lies in (`relu/build/torch28-.../`), from its path."""
    marker = f"/{name}/"
    at = path.rfind(marker)
    return path[:at + len(marker) - 1] if at >= 0 else name


def _summary(report: Report) -> str:
    findings = report.findings
    policies = sorted({a.policy for a in report.artifacts if a.policy and a.kind == "elf"})
    against = f" against {', '.join(policies)}" if policies else ""
    head = f"Checked {_plural(report.objects_checked, 'object')}{against} (target {report.target}): "
    unchecked = report.not_checked
    if unchecked:
        tail = (f"; {_plural(unchecked, 'part')} not checked (above), which --strict fails" if not report.strict
                else f"; {_plural(unchecked, 'part')} not checked (above): exit 1 (--strict)")
    else:
        tail = ""
    if not findings and not report.errors:
        return head + ("no findings in what was checked" if unchecked else "no findings") + tail + "."
    bad = len({f.path for f in findings})
    warnings = sum(1 for f in findings if f.severity == "warning")
    fails = ", which --fail-on warning fails" if report.fail_on != "warning" else ""
    of_which = f" ({_plural(warnings, 'warning')}{fails})" if warnings else ""
    parts = [f"{_plural(len(findings), 'finding')} in {_plural(bad, 'artifact')}{of_which}"] if findings else []
    if report.errors:
        parts.append(_plural(len(report.errors), "input error"))
    return head + ", ".join(parts) + tail + "."


def render_sarif(report: Report) -> dict:
    import hashlib  # noqa: PLC0415 - OpenSSL's bindings cost ~3 ms at import: only for SARIF's fingerprints

    rules = all_rules()
    index = {r.code: i for i, r in enumerate(rules)}
    results = []
    for artifact in report.artifacts:
        if not artifact.findings:
            continue
        location, member = _location(artifact.path)  # once per artifact: it resolves the path against cwd
        where = location["physicalLocation"]["artifactLocation"]["uri"]
        for f in artifact.findings:
            props = {k: v for k, v in (("symbol", f.symbol), ("version", f.version), ("library", f.library)) if v}
            props["hint"] = f.hint
            if member:
                props["member"] = member
            # The same finding in the same file across runs (and checkouts): code scanning matches alerts by it.
            key = "\0".join((f.code, where, member or "", f.symbol or "", f.version or "", f.library or ""))
            results.append({
                "ruleId": f.code,
                "ruleIndex": index[f.code],
                "level": "error" if f.severity == "error" else "warning",
                "message": {"text": f"{f.message} (hint: {f.hint})"},
                "locations": [location],
                "partialFingerprints": {"abicheckFinding/v1": hashlib.sha256(key.encode("utf-8", "surrogateescape"))
                                        .hexdigest()},
                "properties": props,
            })
    notifications = [
        {"level": "error", "message": {"text": e.message}, "locations": [_location(e.path)[0]]}
        for e in report.errors
    ]

    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "abicheck",
                "version": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [{
                    "id": r.code,
                    "name": r.name,
                    "shortDescription": {"text": r.summary},
                    "fullDescription": {"text": r.explanation},
                    "help": {"text": r.explanation},
                    "defaultConfiguration": {"level": "error"},
                } for r in rules],
            }},
            "invocations": [{
                "executionSuccessful": not report.errors,
                "toolExecutionNotifications": notifications,
            }],
            "originalUriBaseIds": {SRCROOT: {"uri": Path.cwd().as_uri() + "/"}},
            "results": results,
        }],
    }


def _location(display: str) -> tuple[dict[str, Any], str | None]:
    """A SARIF location for a display path, and the wheel member it names (`dist/a.whl!pkg/x.so`).

    The file is the one on disk: a path under the directory abicheck ran in is
    relative to SRCROOT (code scanning shows repository paths only), another
    one an absolute file URI. A wheel member is the wheel's location, with
    the member as its logical location. Binary files have no lines: the
    region is the file's first line, where code scanning anchors the alert.
    """
    path, _, member = display.partition("!")
    here = os.getcwd()
    full = os.path.abspath(path)
    if os.path.commonpath([here, full]) == here:
        relative = Path(os.path.relpath(full, here)).as_posix()
        artifact = {"uri": _uri(relative), "uriBaseId": SRCROOT}
    else:
        artifact = {"uri": Path(full).as_uri()}  # percent-encoded from the name's bytes
    location: dict[str, Any] = {"physicalLocation": {"artifactLocation": artifact, "region": {"startLine": 1}}}
    if member:
        location["logicalLocations"] = [{"fullyQualifiedName": member, "kind": "module"}]
    return location, member or None


def _uri(path: str) -> str:
    """A relative URI reference for a path; a non-UTF-8 name keeps its bytes."""
    return quote(path, safe="/:._-~+$", errors="surrogateescape")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(report: Report) -> str:
    """GitHub Actions workflow commands: one `::error` line per finding and input error."""
    lines = []
    for artifact in report.artifacts:
        for f in artifact.findings:
            title = _escape_property(f"{f.code} {f.name}")
            lines.append(f"::error file={_escape_property(artifact.path)},title={title}::"
                         f"{_escape_data(f.message)} (hint: {_escape_data(f.hint)})")
    for e in report.errors:
        lines.append(f"::error file={_escape_property(e.path)},title=abicheck input error::{_escape_data(e.message)}")
    lines.append(_summary(report))
    return "\n".join(lines) + "\n"
