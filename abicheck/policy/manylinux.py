"""manylinux and musllinux policies.

The facts (which symbol versions and libraries each policy allows per
architecture) come from the JSON files that the installed `auditwheel`
package ships in `auditwheel/policy/`. They are read with our own loader:
auditwheel's Python API has changed many times, its JSON schema has not.

Version names are compared the way the loader's users experience them:
numerically within a prefix (`GLIBC_2.3.4` < `GLIBC_2.28` < `GLIBC_2.34`),
and by set membership for names that are not numbers (`GLIBC_PRIVATE`,
`CXXABI_TM_1`, `CXXABI_FLOAT128`, `GLIBCXX_LDBL_3.4`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import NamedTuple

import auditwheel  # type: ignore[import-untyped]

from abicheck.errors import UsageError
from abicheck.policy.data import package_file

DEFAULT_POLICY = "manylinux_2_28"
POLICY_FILES = ("manylinux-policy.json", "musllinux-policy.json")

_LOADER = re.compile(r"^(ld-linux.*|ld64\.so\.\d+|ld\.so\.\d+|ld-musl-.*)$")


def split_version(name: str) -> tuple[str, str]:
    """`GLIBC_2.34` -> (`GLIBC`, `2.34`); `CXXABI_TM_1` -> (`CXXABI`, `TM_1`)."""
    prefix, _, rest = name.partition("_")
    return prefix, rest


def numeric(rest: str) -> tuple[int, ...] | None:
    """`2.3.4` -> (2, 3, 4); None for names that are not version numbers."""
    parts = rest.split(".")
    if not all(part.isdigit() and part.isascii() for part in parts):
        return None
    return tuple(int(part) for part in parts)


# glibc's own libraries always come from the system: a copy shipped beside an
# object cannot replace them (it must match the system's dynamic loader), so
# shipping one never satisfies a NEEDED entry.
GLIBC_LIBRARIES = frozenset({
    "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1",
    "libnsl.so.1", "libresolv.so.2", "libanl.so.1", "libmvec.so.1", "libcrypt.so.1",
    "libBrokenLocale.so.1", "libthread_db.so.1", "libc_malloc_debug.so.0",
})


def satisfied_by_shipping(library: str) -> bool:
    """Whether a copy of `library` in the same wheel or tree can be the one loaded."""
    return library not in GLIBC_LIBRARIES and not is_loader(library)


def is_loader(library: str) -> bool:
    """True for the dynamic loader's own sonames (ld-linux-x86-64.so.2, ...)."""
    return bool(_LOADER.match(library))


class VersionLimit(NamedTuple):
    """What one policy allows for one version prefix on one architecture."""

    prefix: str
    maximum: tuple[int, ...] | None  # the highest numeric version allowed
    names: frozenset[str]  # every allowed name after the prefix, numeric or not

    def allows(self, rest: str) -> bool:
        number = numeric(rest)
        if number is None:
            return rest in self.names
        return self.maximum is not None and number <= self.maximum

    @property
    def maximum_text(self) -> str:
        return ".".join(map(str, self.maximum)) if self.maximum else "-"


@dataclass(frozen=True)
class Policy:
    """One manylinux or musllinux policy, as auditwheel's JSON describes it."""

    name: str
    aliases: tuple[str, ...]
    priority: int
    # arch -> prefix -> allowed version names, as in auditwheel's JSON
    symbol_versions: dict[str, dict[str, list[str]]] = field(hash=False, compare=False, repr=False)
    libraries: frozenset[str] = frozenset()
    blacklist: dict[str, frozenset[str]] = field(default_factory=dict, hash=False, compare=False)
    _limits: dict[str, dict[str, VersionLimit]] = field(default_factory=dict, hash=False, compare=False,
                                                         repr=False)

    @property
    def family(self) -> str:
        return self.name.split("_", 1)[0]

    @property
    def libc_version(self) -> tuple[int, int] | None:
        """(2, 28) for manylinux_2_28, (1, 2) for musllinux_1_2."""
        m = re.match(r"^[a-z]+_(\d+)_(\d+)$", self.name)
        return (int(m.group(1)), int(m.group(2))) if m else None

    @property
    def arches(self) -> tuple[str, ...]:
        return tuple(self.symbol_versions)

    def limits_for(self, arch: str) -> dict[str, VersionLimit]:
        """prefix -> VersionLimit on `arch` ({} for an arch the policy does not cover).

        Built on first use: parsing every version name of every policy costs
        more than a whole single-file check.
        """
        if arch not in self._limits:
            table = {}
            for prefix, names in self.symbol_versions.get(arch, {}).items():
                numbers = [n for n in (numeric(name) for name in names) if n is not None]
                table[prefix] = VersionLimit(prefix, max(numbers) if numbers else None, frozenset(names))
            self._limits[arch] = table
        return self._limits[arch]

    def tag(self, arch: str) -> str:
        return f"{self.name}_{arch}"

    def covers(self, library: str) -> bool:
        """Whether versions needed from `library` are this policy's business."""
        return library in self.libraries or is_loader(library)

    def limit_for(self, arch: str, version: str) -> VersionLimit | None:
        prefix, _ = split_version(version)
        return self.limits_for(arch).get(prefix)

    def allows_version(self, arch: str, library: str, version: str) -> bool:
        """False only when `library` is covered and `version` is above the policy.

        Versions from libraries outside the policy, or with a prefix the
        policy does not list, are not this policy's to judge.
        """
        if not self.covers(library):
            return True
        limit = self.limit_for(arch, version)
        if limit is None:
            return True
        return limit.allows(split_version(version)[1])


def _parse(entry: dict) -> Policy:
    return Policy(
        name=entry["name"],
        aliases=tuple(entry.get("aliases", ())),
        priority=int(entry["priority"]),
        symbol_versions=entry.get("symbol_versions", {}),
        libraries=frozenset(entry.get("lib_whitelist", ())),
        blacklist={lib: frozenset(syms) for lib, syms in entry.get("blacklist", {}).items()},
    )


@cache
def all_policies() -> tuple[Policy, ...]:
    """Every manylinux and musllinux policy, most compatible first per family."""
    found: list[Policy] = []
    for name in POLICY_FILES:
        with open(package_file(auditwheel, f"policy/{name}"), encoding="utf-8") as f:
            data = json.load(f)
        found.extend(_parse(entry) for entry in data if entry["name"] != "linux")
    return tuple(sorted(found, key=lambda p: (p.family, -p.priority)))


def policy_names() -> list[str]:
    return [p.name for p in all_policies()]


@cache
def load_policy(name: str) -> Policy:
    """Look a policy up by name, alias (`manylinux2014`) or full tag.

    `manylinux_2_28`, `manylinux2014` and `manylinux_2_28_x86_64` all work;
    an unknown name raises `UsageError` listing the known ones.
    """
    wanted = name.strip()
    for policy in all_policies():
        if wanted == policy.name or wanted in policy.aliases:
            return policy
        for arch in policy.arches:
            if wanted == policy.tag(arch) or any(wanted == f"{a}_{arch}" for a in policy.aliases):
                return policy
    known = ", ".join(policy_names())
    raise UsageError(f"unknown policy {name!r}; known policies: {known}")


def tag_arch(tag: str) -> str | None:
    """The architecture part of a platform tag such as `manylinux_2_28_x86_64`."""
    for policy in all_policies():
        for arch in policy.arches:
            for base in (policy.name, *policy.aliases):
                if tag == f"{base}_{arch}":
                    return arch
    return None


def policy_for_tag(tag: str) -> Policy | None:
    """The policy a platform tag names, or None for `linux_x86_64`, `any`, ..."""
    try:
        policy = load_policy(tag)
    except UsageError:
        return None
    return policy if tag_arch(tag) else None


def most_compatible(needs: Sequence[tuple[str, str]], arch: str, family: str = "manylinux") -> Policy | None:
    """The oldest policy of `family` on `arch` that allows all `(library, version)` needs."""
    for policy in all_policies():
        if policy.family != family or arch not in policy.arches:
            continue
        if all(policy.allows_version(arch, lib, ver) for lib, ver in needs):
            return policy
    return None
