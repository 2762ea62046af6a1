"""What pip installs beside a wheel: its `Requires-Dist`, markers evaluated for the wheel's platform.

A requirement with no extra marker is installed with the wheel. One that
holds only under an extra (`extra == "gpu"`) is installed only when the user
asks for that extra, so a library it provides is not there by default.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from abicheck.analysis.providers import canonicalize_name

# Pythons a wheel without a specific interpreter tag (py3, abi3) may be installed on.
PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14")


@dataclass
class Dependencies:
    """The distributions a wheel brings along, by default and per extra."""

    default: list[str] = field(default_factory=list)  # canonical names
    extras: dict[str, list[str]] = field(default_factory=dict)  # canonical name -> the extras that bring it
    specifiers: dict[str, str] = field(default_factory=dict)  # canonical name -> its version specifier (">=2.10")

    @property
    def names(self) -> list[str]:
        return sorted(set(self.default) | set(self.extras))


def _environments(arch: str | None, pythons: tuple[str, ...]) -> list[dict[str, str]]:
    base = {"os_name": "posix", "sys_platform": "linux", "platform_system": "Linux",
            "platform_machine": arch or "x86_64", "implementation_name": "cpython",
            "platform_python_implementation": "CPython", "platform_release": "", "platform_version": ""}
    return [{**base, "python_version": py, "python_full_version": f"{py}.0",
             "implementation_version": f"{py}.0"} for py in pythons]


def headers(metadata: str, names: tuple[str, ...]) -> dict[str, list[str]]:
    """The values of the given METADATA headers (case-insensitive), continuation lines joined.

    METADATA is an RFC 822 header block followed by the description. It is
    read with Python's email parser, as pip reads it: a line of only spaces is
    a continuation of the header above it (a multi-line `License:`), not the
    end of the block.
    """
    from email.parser import HeaderParser  # noqa: PLC0415 - the email package costs ~5 ms: only for wheels

    message = HeaderParser().parsestr(metadata)
    return {n: [" ".join(str(v).split()) for v in message.get_all(n) or ()] for n in names}


_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def dependencies(metadata: str, arch: str | None, python: str | None,
                 relevant: Callable[[str], bool] = lambda name: True) -> Dependencies:
    """The `Requires-Dist` of a METADATA text, for Linux `arch` and CPython `python` (any when None).

    Markers are evaluated (with `packaging`) only for the distributions
    `relevant` accepts: those that may install a library at all. The others
    are listed by name, whatever their markers say.
    """
    from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName  # noqa: PLC0415 - packaging costs ~20 ms at import: loaded only when used
    from packaging.requirements import InvalidRequirement, Requirement  # noqa: PLC0415 - as above

    fields = headers(metadata, ("Requires-Dist", "Provides-Extra"))
    extras = fields["Provides-Extra"]
    out = Dependencies()
    envs: list[dict[str, str]] | None = None
    for text in fields["Requires-Dist"]:
        m = _NAME.match(text)
        if m is None:
            continue
        name = str(canonicalize_name(m.group(1)))
        if not relevant(name):
            if "extra" not in text.partition(";")[2]:
                out.default.append(name)
            continue

        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if envs is None:
            envs = _environments(arch, (python,) if python else PYTHONS)

        def holds(extra: str, req: Requirement = req, envs: list[dict[str, str]] = envs) -> bool:
            if req.marker is None:
                return True
            try:
                return any(req.marker.evaluate({**env, "extra": extra}) for env in envs)
            except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
                return False

        if holds(""):
            out.default.append(name)
            if str(req.specifier):
                out.specifiers[name] = ",".join(filter(None, (out.specifiers.get(name), str(req.specifier))))
            continue
        for extra in extras:
            if holds(extra):
                out.extras.setdefault(name, []).append(extra)
    return out


def newest_satisfying(versions: list[str], specifier: str | None) -> str | None:
    """The version pip installs among `versions` for `specifier`: the newest final release it admits."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet  # noqa: PLC0415 - as above
    from packaging.version import InvalidVersion, Version  # noqa: PLC0415 - as above

    try:
        spec = SpecifierSet(specifier or "")
    except InvalidSpecifier:
        return None
    admitted = []
    for text in versions:
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        if spec.contains(version):
            admitted.append((version, text))
    return max(admitted)[1] if admitted else None


def python_of(interpreters: tuple[str, ...]) -> str | None:
    """`cp311` -> "3.11" when the wheel is for one CPython; None for py3, abi3 and mixed tags."""
    versions = {f"{t[2]}.{t[3:]}" for t in interpreters if t.startswith("cp") and t[2:].isdigit() and len(t) > 3}
    return versions.pop() if len(versions) == 1 else None
