"""A small PE (Windows DLL, `.pyd`) reader: the machine, the imports and, when asked, the exports.

Enough to check a Windows kernel variant: the machine it was built for, and
which DLLs and functions it imports (a stable-ABI extension imports
`python3.dll`, never `python311.dll`); and, for `abi dump`, the names and
ordinals its export directory offers. Our own reader rather than pefile:
it reads the few structures it needs through abicheck's bounded buffers
(pefile wants the whole file in memory and parses every directory), caps
every count, and reports anything malformed as one input error.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import NamedTuple

from abicheck.binary.elf_model import Buffer
from abicheck.errors import InputError

MACHINES = {0x8664: "x86_64", 0xAA64: "aarch64", 0x14C: "i686", 0x1C4: "arm", 0xA641: "arm64ec"}
MAX_SECTIONS = 96
MAX_IMPORTS = 4096  # DLLs
MAX_FUNCTIONS = 1 << 16  # functions per DLL
MAX_ALL_FUNCTIONS = 1 << 18  # imported functions in all (real DLLs import a few thousand)
MAX_EXPORTS = 1 << 20
SCN_CODE, SCN_EXECUTE = 0x20, 0x20000000


def is_pe(head: bytes) -> bool:
    """Whether `head` starts with an MZ header (the PE signature is checked when read)."""
    return head[:2] == b"MZ"


class PEExport(NamedTuple):
    """One export: by name, or by ordinal alone (`#7`)."""

    name: str
    kind: str  # func (in a code section, or forwarded to another DLL), object
    forwarded_to: str | None = None  # `NTDLL.RtlFoo`: the loader binds the name there


@dataclass
class PEFile:
    """What abicheck reads of one PE file."""

    label: str
    machine: str = ""
    dll: bool = False
    imports: dict[str, list[str]] = field(default_factory=dict)  # DLL name -> imported function names
    _image: _Image | None = None

    def exported(self) -> tuple[str | None, list[PEExport]]:
        """The export directory: the DLL name it gives and what it exports, read as the Windows loader binds."""
        return self._image.exports() if self._image is not None else (None, [])


def _fail(label: str, what: str) -> InputError:
    return InputError(f"malformed PE file: {what}", label)


class _Image:
    """A PE file's headers and sections, and reads by file offset or RVA within the file's bytes."""

    def __init__(self, buf: Buffer, label: str) -> None:
        self.buf, self.label, self.size = buf, label, len(buf)
        if self.read(0, 2) != b"MZ":
            raise _fail(label, "no MZ header")
        pe = struct.unpack("<I", self.read(0x3C, 4))[0]
        if self.read(pe, 4) != b"PE\0\0":
            raise InputError("not a PE file: an MZ header without the PE signature (a DOS program?)", label)
        self.machine, nsections, _time, _symptr, _nsyms, opt_size, self.characteristics = struct.unpack(
            "<HHIIIHH", self.read(pe + 4, 20))
        if nsections > MAX_SECTIONS:
            raise _fail(label, f"{nsections} sections")
        opt = pe + 24
        self.magic = struct.unpack("<H", self.read(opt, 2))[0]
        if self.magic not in (0x10B, 0x20B):
            raise _fail(label, f"optional header magic 0x{self.magic:x}")
        directories = opt + (112 if self.magic == 0x20B else 96)
        count = struct.unpack("<I", self.read(directories - 4, 4))[0]
        self.directories: list[tuple[int, int]] = []  # (rva, size): 0 exports, 1 imports
        for i in range(min(count, 2)):
            if directories + 8 * (i + 1) <= opt + opt_size:
                self.directories.append(struct.unpack("<II", self.read(directories + 8 * i, 8)))
        self.sections: list[tuple[int, int, int, int, int]] = []  # vaddr, span, raw_ptr, raw_size, characteristics
        table = opt + opt_size
        for i in range(nsections):
            _name, vsize, vaddr, raw_size, raw_ptr, _r, _l, _nr, _nl, flags = struct.unpack(
                "<8sIIIIIIHHI", self.read(table + 40 * i, 40))
            if raw_size and raw_ptr + raw_size > self.size:  # the Windows loader refuses it
                raise _fail(label, f"section {i} ends at byte {raw_ptr + raw_size}, past the end of the file "
                                   f"({self.size} bytes): truncated?")
            self.sections.append((vaddr, max(vsize, raw_size), raw_ptr, raw_size, flags))

    def read(self, offset: int, count: int) -> bytes:
        if offset < 0 or count < 0 or offset + count > self.size:
            raise _fail(self.label, f"{count} bytes at offset {offset} run past the end of the file "
                                    f"({self.size} bytes)")
        return bytes(self.buf[offset:offset + count])

    def section_of(self, rva: int, in_file: bool = True) -> tuple[int, int, int, int, int]:
        """The section an address lies in; `in_file`: among its bytes in the file, not its zero-filled tail."""
        for section in self.sections:
            vaddr, span, _raw_ptr, raw_size, _flags = section
            if vaddr <= rva < vaddr + span and (rva - vaddr < raw_size or not in_file):
                return section
        raise _fail(self.label, f"address 0x{rva:x} is in no section")

    def offset_of(self, rva: int) -> int:
        vaddr, _span, raw_ptr, _raw_size, _flags = self.section_of(rva)
        return raw_ptr + (rva - vaddr)

    def string(self, rva: int) -> str:
        at = self.offset_of(rva)
        text = self.read(at, min(512, self.size - at))
        return text.split(b"\0", 1)[0].decode("ascii", "replace")

    def words(self, rva: int, count: int, width: int = 4) -> list[int]:
        raw = self.read(self.offset_of(rva), count * width)
        return list(struct.unpack(f"<{count}{'I' if width == 4 else 'H'}", raw))

    def imports(self) -> dict[str, list[str]]:
        imports: dict[str, list[str]] = {}
        import_rva = self.directories[1][0] if len(self.directories) > 1 else 0
        if not import_rva:
            return imports
        at = self.offset_of(import_rva)
        thunk_size, ordinal_bit = (8, 1 << 63) if self.magic == 0x20B else (4, 1 << 31)
        read_tables: dict[int, list[str]] = {}  # a thunk table already read: descriptors may share one
        total = 0
        for _ in range(MAX_IMPORTS):
            lookup, _t, _f, name_rva, first_thunk = struct.unpack("<IIIII", self.read(at, 20))
            if not (lookup or name_rva or first_thunk):
                break
            names = imports.setdefault(self.string(name_rva), [])
            thunk = self.offset_of(lookup or first_thunk)
            if thunk not in read_tables:
                entries: list[str] = []
                for _ in range(MAX_FUNCTIONS):
                    value = int.from_bytes(self.read(thunk + len(entries) * thunk_size, thunk_size), "little")
                    if value == 0:
                        break
                    entries.append("" if value & ordinal_bit else self.string((value & 0x7FFFFFFF) + 2))  # skip hint
                read_tables[thunk] = entries
            functions = read_tables[thunk]
            total += len(functions)
            if total > MAX_ALL_FUNCTIONS:  # 4,096 descriptors sharing one 65,536-entry table: 268M, not a DLL
                raise _fail(self.label, f"more than {MAX_ALL_FUNCTIONS} imported functions")
            names.extend(name for name in functions if name)
            at += 20
        return imports

    def exports(self) -> tuple[str | None, list[PEExport]]:
        """The export directory: each name through its ordinal to an address, and the ordinals left unnamed.

        An address inside the export directory is a forwarder (`DLL.name`), as the loader reads it.
        """
        rva, size = self.directories[0] if self.directories else (0, 0)
        if not rva:
            return None, []
        _flags, _time, _major, _minor, name_rva, base, nfunctions, nnames, functions_rva, names_rva, ordinals_rva = (
            struct.unpack("<IIHHIIIIIII", self.read(self.offset_of(rva), 40)))
        if nfunctions > MAX_EXPORTS or nnames > nfunctions:
            raise _fail(self.label, f"an export directory of {nfunctions} functions and {nnames} names")
        addresses = self.words(functions_rva, nfunctions) if nfunctions else []
        names = self.words(names_rva, nnames) if nnames else []
        indices = self.words(ordinals_rva, nnames, 2) if nnames else []

        def export(name: str, index: int) -> PEExport:
            if index >= nfunctions:
                raise _fail(self.label, f"export {name} names function {index} of {nfunctions}")
            address = addresses[index]
            if rva <= address < rva + size:
                return PEExport(name, "func", self.string(address))
            flags = self.section_of(address, in_file=False)[4]  # data exports may lie in .bss
            return PEExport(name, "func" if flags & (SCN_CODE | SCN_EXECUTE) else "object")

        found = [export(self.string(name), index) for name, index in zip(names, indices, strict=True)]
        named = set(indices)
        found += [export(f"#{base + i}", i) for i, address in enumerate(addresses) if address and i not in named]
        return (self.string(name_rva) if name_rva else None), sorted(found, key=lambda e: e.name)


def read_pe(buf: Buffer, label: str) -> PEFile:
    image = _Image(buf, label)
    return PEFile(label, MACHINES.get(image.machine, f"machine 0x{image.machine:x}"),
                  bool(image.characteristics & 0x2000), image.imports(), image)
