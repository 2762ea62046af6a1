"""The ABI surface of a shared object: a normalized dump, its hash, and a diff.

The surface is what a program linking against the object can bind to: the
SONAME, the version definitions, and each exported dynamic symbol's name,
kind, binding, version (and whether it is the default `@@` one) and, for data,
its size. It is read from `.dynsym`, `.gnu.version` and `.gnu.version_d`
through PT_DYNAMIC, and sorted, so it does not depend on symbol order, link
order, build paths, build IDs, `.symtab`, stripping, or code changes that keep
the surface. Two objects with the same surface hash can be swapped by a
relink; a different hash says what must be rebuilt.

Mach-O and PE objects have surfaces too, with what their formats hold: a
Mach-O slice's install name, architecture and export trie (names as written,
`_answer`; weak definitions; no sizes or versions), a PE file's export
directory (its DLL name, each name, and ordinals exported without one as
`#N`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from abicheck.binary import Format
from abicheck.binary.demangle import demangle
from abicheck.binary.elf import ElfReader
from abicheck.binary.macho import MachOFile
from abicheck.binary.pe import PEFile

SCHEMA = "abicheck-abi/1"
SET_SCHEMA = "abicheck-abi-set/1"  # a wheel's surfaces, one per shared object, and the wheel's file name

# Symbols the linker defines in every object: layout, not interface.
LINKER_SYMBOLS = frozenset({
    "_init", "_fini", "_edata", "_end", "__bss_start", "_DYNAMIC", "_GLOBAL_OFFSET_TABLE_",
    "_PROCEDURE_LINKAGE_TABLE_", "__end__", "_etext", "__data_start",
})
# What a Mach-O linker defines in every image: layout, not interface.
MACHO_LINKER_SYMBOLS = frozenset({
    "__mh_dylib_header", "__mh_bundle_header", "__mh_execute_header", "__mh_dylinker_header", "___dso_handle",
})
_KINDS = {"func": "func", "ifunc": "func", "object": "object", "common": "object", "tls": "tls"}


class ExportedSymbol(NamedTuple):
    name: str
    version: str | None  # None: unversioned
    default: bool  # `name@@version` (what new links bind) rather than `name@version`
    kind: str  # func, object, tls
    binding: str  # global, weak
    size: int | None  # data and TLS only: code size is not interface

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.name, self.version)

    @property
    def order(self) -> tuple[str, str, bool, str, str, int]:
        """The sort key of a normalized surface (an unversioned name sorts before its versions)."""
        return (self.name, self.version or "", self.default, self.kind, self.binding,
                -1 if self.size is None else self.size)

    @property
    def display(self) -> str:
        if self.version is None:
            return self.name
        return f"{self.name}{'@@' if self.default else '@'}{self.version}"


@dataclass
class Surface:
    """One object's normalized ABI surface."""

    soname: str | None
    machine: str | None
    versions: list[str] = field(default_factory=list)
    symbols: list[ExportedSymbol] = field(default_factory=list)
    path: str = ""
    parents: dict[str, list[str]] = field(default_factory=dict)  # version -> its parents (`LIBVER_2.0 {} LIBVER_1.0`)
    flags: int = 0  # the ELF header's e_flags (RISC-V's float ABI, ...): a linker checks them
    format: Format = "elf"  # the soname is a Mach-O install name or a PE DLL name in the others

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "schema": SCHEMA,
            "soname": self.soname,
            "machine": self.machine,
            "versions": self.versions,
            "symbols": [s._asdict() for s in self.symbols],
        }
        if self.parents:  # only when present, so that older dumps keep their digests
            data["parents"] = {v: list(p) for v, p in sorted(self.parents.items())}
        if self.flags:
            data["flags"] = self.flags
        if self.format != "elf":  # only when not ELF, so that older dumps keep their digests
            data["format"] = self.format
        return data

    def digest(self) -> str:
        """sha256 of the canonical JSON of the surface (the path is not part of it)."""
        import hashlib  # noqa: PLC0415 - OpenSSL's bindings cost ~3 ms at import: only for abi dump --hash

        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: str = "") -> Surface:
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not an abicheck ABI dump (schema {data.get('schema')!r}, expected {SCHEMA!r})")
        fmt = data.get("format", "elf")
        if fmt not in ("elf", "macho", "pe"):
            raise ValueError(f"unknown object format {fmt!r}")
        return cls(format=fmt, soname=data.get("soname"), machine=data.get("machine"),
                   versions=list(data.get("versions", [])),
                   symbols=sorted((ExportedSymbol(**s) for s in data.get("symbols", [])),
                                  key=lambda s: s.order), path=path,
                   parents={str(v): [str(p) for p in ps] for v, ps in dict(data.get("parents", {})).items()},
                   flags=int(data.get("flags", 0)))

    def render_text(self) -> str:
        lines = [] if self.format == "elf" else [f"format: {self.format}"]
        lines += [f"{'soname' if self.format == 'elf' else 'name'}: {self.soname or '-'}",
                  f"machine: {self.machine or '-'}", f"versions: {' '.join(self.versions) or '-'}"]
        for s in self.symbols:
            size = f" size={s.size}" if s.size is not None else ""
            lines.append(f"{s.kind:<6} {s.binding:<6} {s.display}{size}")
        return "\n".join(lines) + "\n"


def surface_of(reader: ElfReader, path: str = "") -> Surface:
    """Read the exported surface of one object."""
    verdefs = reader.version_definitions()
    base = verdefs.get(1)  # index 1 names the object itself (VER_FLG_BASE)
    versions = sorted(name for index, name in verdefs.items() if index != 1)
    version_names = set(versions)
    symbols = set()
    for sym in reader.exports():
        kind = _KINDS.get(sym.kind)
        if kind is None or sym.name in LINKER_SYMBOLS:
            continue
        if sym.name in version_names and sym.size == 0:
            continue  # the marker symbol GNU ld emits for each version
        version = sym.version if sym.version != base else None
        symbols.add(ExportedSymbol(
            name=sym.name,
            version=version,
            default=version is not None and not sym.hidden,
            kind=kind,
            binding="weak" if sym.binding == "weak" else "global",
            size=sym.size if kind in ("object", "tls") else None,
        ))
    parents = {v: p for v, p in reader.version_parents().items() if v in version_names}
    return Surface(soname=reader.facts.soname, machine=reader.facts.arch, versions=versions,
                   symbols=sorted(symbols, key=lambda s: s.order), path=path, parents=parents,
                   flags=reader.e_flags)


def macho_surfaces(macho: MachOFile, path: str = "") -> dict[str, Surface]:
    """One surface per architecture slice, keyed by the architecture ("" for a thin file)."""
    found = {}
    for s in macho.slices:
        symbols = {ExportedSymbol(name=e.name, version=None, default=False, kind=e.kind,
                                  binding="weak" if e.weak else "global", size=None)
                   for e in macho.exported(s) if e.name not in MACHO_LINKER_SYMBOLS}
        found["" if not macho.fat else s.arch] = Surface(
            soname=s.install_name, machine=s.arch, symbols=sorted(symbols, key=lambda x: x.order), path=path,
            format="macho")
    return found


def pe_surface(pe: PEFile, path: str = "") -> Surface:
    name, exports = pe.exported()
    symbols = {ExportedSymbol(name=e.name, version=None, default=False, kind=e.kind, binding="global", size=None)
               for e in exports}
    return Surface(soname=name, machine=pe.machine, symbols=sorted(symbols, key=lambda x: x.order), path=path,
                   format="pe")


# --- diff ---------------------------------------------------------------------------

class Change(NamedTuple):
    kind: str  # removed, added, changed, soname, version-removed, version-added
    breaking: bool
    symbol: str | None
    message: str
    demangled: str | None = None  # the C++ name, when the symbol is one and cpp-demangle is installed

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


# What dependents outside a wheel cannot bind to, so that its changes break none of them.
EXTENSION_MODULE = re.compile(r"\.(?:cpython-[^./]+|abi3|pypy[^./]*)\.so$|\.pyd$")
VENDORED = re.compile(r"(?:^|/)[^/]+\.(?:libs|dylibs)/")  # auditwheel's <pkg>.libs/, delocate's .dylibs/
# A weak definition of an instantiation of a C++ standard library template or inline function (std::,
# its allocator and string abbreviations, libstdc++'s __gnu_cxx::, their typeinfo, vtables and guards,
# placement new and delete): defined in the headers, so every object using one carries its own copy.
STD_INSTANTIATION = re.compile(r"^_Z(?:T[ISVT]|GV)?(?:N[KVrO]*)?(?:S[tabsiod]|9__gnu_cxx)"
                               r"|^_Z(?:n[wa][jm]Pv|d[la]PvS_)$")


def interface_role(name: str, surface: Surface) -> str | None:
    """Why the exports of the object at `name` (a wheel member or a file) are not an interface, else None."""
    initialisers = {s.name for s in surface.symbols if s.name.lstrip("_").startswith("PyInit_")}
    if initialisers and (EXTENSION_MODULE.search(name) or surface.format != "elf"):
        return "extension"
    if VENDORED.search(name):
        return "vendored"
    return None


def judged(changes: list[Change], role: str | None) -> list[Change]:
    """`changes` with those no dependent can notice made compatible, each saying why.

    An extension module is loaded by path and only its `PyInit_*` is looked
    up; a library auditwheel or delocate vendored is loaded only by the
    wheel's own modules, relinked to it in the same wheel.
    """
    out = []
    for change in changes:
        if not change.breaking:
            out.append(change)
        elif role == "extension" and not (change.symbol or "").lstrip("_").startswith("PyInit_"):
            out.append(change._replace(breaking=False, message=change.message + " (not an interface: Python "
                               "loads an extension module by path and looks up only its PyInit_ function)"))
        elif role == "vendored":
            out.append(change._replace(breaking=False, message=change.message + " (a vendored library: only "
                               "the wheel's own modules load it, and they ship with it)"))
        else:
            out.append(change)
    return sorted(out, key=lambda c: (not c.breaking, c.kind, c.symbol or ""))


def _named(s: ExportedSymbol) -> tuple[str, str | None]:
    """How a change names a symbol (its display, and its C++ name when it has one), and that C++ name."""
    cxx = demangle(s.name)
    return (f"{s.display} [{cxx}]" if cxx else s.display), cxx


def diff_surfaces(old: Surface, new: Surface) -> list[Change]:
    """What changed from `old` to `new`, breaking changes first."""
    changes: list[Change] = []
    if old.format != new.format:
        return [Change("format", True, None, f"the object changed from {old.format} to {new.format}")]
    if old.soname != new.soname:
        what = {"elf": "SONAME", "macho": "install name", "pe": "DLL name"}[new.format]
        changes.append(Change("soname", True, None, f"{what} changed from {old.soname} to {new.soname}: "
                                                    "programs linked against the old one will not find it"))
    if old.flags != new.flags:
        changes.append(Change("flags", True, None, f"the ELF flags changed from {old.flags:#x} to {new.flags:#x} "
                                                   "(another ABI of the machine, such as RISC-V's float ABI)"))
    for version in sorted(set(old.versions) - set(new.versions)):
        changes.append(Change("version-removed", True, None, f"version {version} is no longer defined"))
    for version in sorted(set(new.versions) - set(old.versions)):
        changes.append(Change("version-added", False, None, f"version {version} is newly defined"))
    before = {s.key: s for s in old.symbols}
    after = {s.key: s for s in new.symbols}
    for key in sorted(before.keys() - after.keys(), key=str):
        s = before[key]
        shown, cxx = _named(s)
        if s.binding == "weak" and STD_INSTANTIATION.match(s.name):
            changes.append(Change("removed", False, s.display, f"{shown} ({s.kind}) was removed (a weak copy of "
                                  "C++ standard library header code: what uses it carries its own)", cxx))
        else:
            changes.append(Change("removed", True, s.display, f"{shown} ({s.kind}) was removed", cxx))
    for key in sorted(before.keys() & after.keys(), key=str):
        a, b = before[key], after[key]
        if a.kind == b.kind and a.size == b.size and a.binding == b.binding and a.default == b.default:
            continue  # unchanged, as most are: not demangled
        shown, cxx = _named(a)
        if a.kind != b.kind:
            changes.append(Change("changed", True, a.display, f"{shown} changed kind from {a.kind} to {b.kind}", cxx))
        if a.size != b.size:
            changes.append(Change("changed", True, a.display, f"{shown} changed size from {a.size} to {b.size}", cxx))
        if a.binding != b.binding and b.binding == "weak":
            changes.append(Change("changed", False, a.display, f"{shown} became weak", cxx))
        if a.default != b.default:
            changes.append(Change("changed", False, a.display,
                                  f"{a.name}@{a.version} is {'now' if b.default else 'no longer'} the default version"))
    for key in sorted(after.keys() - before.keys(), key=str):
        s = after[key]
        shown, cxx = _named(s)
        changes.append(Change("added", False, s.display, f"{shown} ({s.kind}) was added", cxx))
    return sorted(changes, key=lambda c: (not c.breaking, c.kind, c.symbol or ""))
