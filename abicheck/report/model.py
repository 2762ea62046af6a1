"""Findings and the report that collects them.

A `Finding` is one reason a user's machine would reject an artifact; an
`InputProblem` is an input that could not be checked at all. The `Report`
holds both and decides the exit code:

* 1 when there is at least one finding (findings take precedence: an input
  error does not hide them),
* 2 when there are no findings but at least one input error,
* 0 when everything was checked and is clean.

`Report.to_dict()` is the versioned JSON contract (see docs/json-report.md and docs/report-v1.schema.json).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from abicheck import __version__

SCHEMA_VERSION = 1

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def printable(text: str) -> str:
    """`text` with control characters and undecodable bytes escaped: a name never splits a line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii")
                   for c in text)


OBJECT_KINDS = ("elf", "macho", "pe")  # artifacts that are objects (the others: wheel, metadata)


@dataclass(frozen=True)
class Finding:
    """One rule violation in one artifact."""

    code: str
    name: str
    message: str
    hint: str
    path: str = ""
    severity: str = "error"
    symbol: str | None = None
    version: str | None = None
    library: str | None = None
    hint_kind: str | None = None  # AB101: rebuild | code-change | toolchain
    demangled: str | None = None  # C++ symbols: the demangled name (symbol stays mangled)
    details: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "code": self.code,
            "name": self.name,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
        }
        for key in ("symbol", "demangled", "version", "library", "hint_kind"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if self.details:
            data["details"] = self.details
        return data


@dataclass(frozen=True)
class InputProblem:
    """An input that could not be checked: missing, not ELF, corrupt."""

    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


@dataclass
class ArtifactResult:
    """The findings for one checked artifact (or for a whole wheel)."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    arch: str | None = None
    policy: str | None = None
    kind: str = "elf"  # an object: "elf", "macho" or "pe"; "wheel" or "metadata" for findings about those
    needed: list[dict[str, Any]] | None = None  # where each NEEDED library comes from (objects only)
    symbols: dict[str, Any] | None = None  # the torch symbol check (AB308): checked, missing, or why not
    variant: dict[str, Any] | None = None  # its kernel build variant: name, backend, torch, C++ ABI, arch
    imports: dict[str, Any] | None = None  # the symbol resolution stage (AB312): checked, missing, not checked

    @property
    def imports_not_checked(self) -> int:
        """Its imports whose providing library's exports abicheck does not know."""
        return int((self.imports or {}).get("not_checked", 0))

    @property
    def unverified(self) -> int:
        """Its NEEDED libraries whose provider abicheck's data cannot tell."""
        return sum(1 for n in self.needed or () if n.get("how") == "unverified")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "path": self.path,
            "kind": self.kind,
            "arch": self.arch,
            "policy": self.policy,
            "findings": [f.to_dict() for f in self.findings],
        }
        if self.needed is not None:
            data["needed"] = self.needed
        if self.symbols is not None:
            data["symbols"] = self.symbols
        if self.variant is not None:
            data["variant"] = self.variant
        if self.imports is not None:
            data["imports"] = self.imports
        return data


def finding_line(path: str, finding: Finding, text: str | None = None) -> str:
    """`path: AB101 [symbol-version-too-new] message` (the message, or `text` in its place), warnings marked."""
    marker = "warning: " if finding.severity == "warning" else ""
    return f"{printable(path)}: {finding.code} [{finding.name}] {marker}{finding.message if text is None else text}"


@dataclass
class Report:
    """Everything one `check` run found."""

    artifacts: list[ArtifactResult] = field(default_factory=list)
    errors: list[InputProblem] = field(default_factory=list)
    target: str = "wheel"
    policy: str | None = None  # the --policy given, if any
    skipped: int = 0  # files in directories and wheels that are not ELF objects
    pure_variants: list[str] = field(default_factory=list)  # variant folders without compiled objects
    strict: bool = False  # anything not checked fails the check (exit 1)
    fail_on: str = "error"  # the lowest severity that fails the check: "error" (default) or "warning"

    @property
    def unverified(self) -> int:
        """NEEDED libraries whose provider abicheck's data cannot tell (never counted as clean)."""
        return sum(a.unverified for a in self.artifacts)

    @property
    def findings(self) -> list[Finding]:
        return [f for a in self.artifacts for f in a.findings]

    @property
    def objects_checked(self) -> int:
        return sum(1 for a in self.artifacts if a.kind in OBJECT_KINDS)

    @property
    def not_checked(self) -> int:
        """What could not be checked: objects whose torch symbols were not, imports and libraries not verified."""
        return (sum(1 for a in self.artifacts if a.symbols and "not_checked" in a.symbols)
                + sum(a.imports_not_checked for a in self.artifacts) + self.unverified)

    def fails(self, finding: Finding) -> bool:
        """Whether `finding` fails the check: an error, or a warning too with fail_on "warning"."""
        return finding.severity == "error" or self.fail_on == "warning"

    @property
    def failing(self) -> list[Finding]:
        """The findings that fail the check."""
        return [f for f in self.findings if self.fails(f)]

    @property
    def exit_code(self) -> int:
        """1 for failing findings (and, with strict, for anything not checked), 2 for input errors, else 0.

        A warning (an absolute RUNPATH entry that will not exist on the user's machine: the loader skips it)
        is reported but fails only with fail_on "warning"."""
        if self.failing:
            return EXIT_FINDINGS
        if self.errors:
            return EXIT_ERROR
        if self.strict and self.not_checked:
            return EXIT_FINDINGS
        return EXIT_CLEAN

    @property
    def clean(self) -> bool:
        return self.exit_code == EXIT_CLEAN

    def assert_clean(self) -> None:
        """Raise AssertionError listing every finding and input error."""
        if self.clean:
            return
        raise AssertionError("abicheck found problems:\n" + "\n".join(self.lines()) + "\n")

    def lines(self) -> list[str]:
        """One line per finding, location first (as ruff does), then its hint; then the input errors."""
        lines: list[str] = []
        for artifact in self.artifacts:
            last_hint = None
            for f in artifact.findings:
                lines.append(finding_line(artifact.path, f))
                if f.hint != last_hint:  # the same fix for the next symbol is not repeated
                    lines.append(f"  hint: {f.hint}")
                last_hint = f.hint
        return lines + self.error_lines()

    def error_lines(self) -> list[str]:
        return [f"{printable(error.path)}: error: {printable(error.message)}" for error in self.errors]

    def unchecked_imports(self, limit: int = 5) -> list[str]:
        """`imports not checked: 3 from libz.so.1 (why)`: per library, most imports first; never silent."""
        objects: dict[str, int] = {}  # library -> objects whose imports it alone could serve
        why: dict[str, str] = {}
        for artifact in self.artifacts:
            for library, reason in (artifact.imports or {}).get("unknown_libraries", {}).items():
                objects[library] = objects.get(library, 0) + 1
                why.setdefault(library, reason)
        if not objects:
            return []
        total = sum(a.imports_not_checked for a in self.artifacts)
        ordered = sorted(objects, key=lambda lib: (-objects[lib], lib))
        lines = [f"{total} import{'s' if total != 1 else ''} not checked: the exports of what provides them are "
                 "unknown"]
        for library in ordered[:limit]:
            n = objects[library]
            lines.append(f"  {library}: {why[library]} ({n} object{'s' if n != 1 else ''})")
        if len(ordered) > limit:
            lines.append(f"  and {len(ordered) - limit} more librar{'y' if len(ordered) - limit == 1 else 'ies'} "
                         "(see the JSON's imports)")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "abicheck", "version": _version()},
            "target": self.target,
            "policy": self.policy,
            "summary": {
                "objects": self.objects_checked,
                "findings": len(self.findings),
                "errors": len(self.errors),
                "exit_code": self.exit_code,
                "skipped_non_elf": self.skipped,
                "libraries_not_verified": self.unverified,
                "symbols_not_checked": sum(1 for a in self.artifacts if a.symbols and "not_checked" in a.symbols),
                "imports_not_checked": sum(a.imports_not_checked for a in self.artifacts),
                "pure_python_variants": sorted(self.pure_variants),
            },
            "artifacts": [a.to_dict() for a in self.artifacts],
            "errors": [e.to_dict() for e in self.errors],
        }


def _version() -> str:
    return __version__
