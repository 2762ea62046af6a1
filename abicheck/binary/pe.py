"""A small PE (Windows DLL, `.pyd`) reader: the machine and the imports.

Enough to check a Windows kernel variant: the machine it was built for, and
which DLLs and functions it imports (a stable-ABI extension imports
`python3.dll`, never `python311.dll`). Our own reader rather than pefile:
it reads the few structures it needs through abicheck's bounded buffers
(pefile wants the whole file in memory and parses every directory), caps
every count, and reports anything malformed as one input error.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from abicheck.binary.elf_model import Buffer
from abicheck.errors import InputError

MACHINES = {0x8664: "x86_64", 0xAA64: "aarch64", 0x14C: "i686", 0x1C4: "arm", 0xA641: "arm64ec"}
MAX_SECTIONS = 96
MAX_IMPORTS = 4096  # DLLs
MAX_FUNCTIONS = 1 << 16  # functions per DLL
MAX_ALL_FUNCTIONS = 1 << 18  # imported functions in all (real DLLs import a few thousand)


def is_pe(head: bytes) -> bool:
    """Whether `head` starts with an MZ header (the PE signature is checked when read)."""
    return head[:2] == b"MZ"


@dataclass
class PEFile:
    """What abicheck reads of one PE file."""

    label: str
    machine: str = ""
    dll: bool = False
    imports: dict[str, list[str]] = field(default_factory=dict)  # DLL name -> imported function names


def _fail(label: str, what: str) -> InputError:
    return InputError(f"malformed PE file: {what}", label)


def read_pe(buf: Buffer, label: str) -> PEFile:
    size = len(buf)

    def read(offset: int, count: int) -> bytes:
        if offset < 0 or count < 0 or offset + count > size:
            raise _fail(label, f"{count} bytes at offset {offset} run past the end of the file ({size} bytes)")
        return bytes(buf[offset:offset + count])

    if read(0, 2) != b"MZ":
        raise _fail(label, "no MZ header")
    pe = struct.unpack("<I", read(0x3C, 4))[0]
    if read(pe, 4) != b"PE\0\0":
        raise InputError("not a PE file: an MZ header without the PE signature (a DOS program?)", label)
    machine, nsections, _time, _symptr, _nsyms, opt_size, characteristics = struct.unpack("<HHIIIHH", read(pe + 4, 20))
    out = PEFile(label, MACHINES.get(machine, f"machine 0x{machine:x}"), bool(characteristics & 0x2000))
    if nsections > MAX_SECTIONS:
        raise _fail(label, f"{nsections} sections")
    opt = pe + 24
    magic = struct.unpack("<H", read(opt, 2))[0]
    if magic not in (0x10B, 0x20B):
        raise _fail(label, f"optional header magic 0x{magic:x}")
    directories = opt + (112 if magic == 0x20B else 96)
    count = struct.unpack("<I", read(directories - 4, 4))[0]
    if count < 2 or directories + 16 > opt + opt_size:
        return out  # no import directory
    import_rva, _import_size = struct.unpack("<II", read(directories + 8, 8))
    sections = []
    table = opt + opt_size
    for i in range(nsections):
        _name, vsize, vaddr, raw_size, raw_ptr = struct.unpack("<8sIIII", read(table + 40 * i, 24))
        if raw_size and raw_ptr + raw_size > size:  # the Windows loader refuses it
            raise _fail(label, f"section {i} ends at byte {raw_ptr + raw_size}, past the end of the file "
                               f"({size} bytes): truncated?")
        sections.append((vaddr, max(vsize, raw_size), raw_ptr, raw_size))

    def offset_of(rva: int) -> int:
        for vaddr, span, raw_ptr, raw_size in sections:
            if vaddr <= rva < vaddr + span and rva - vaddr < raw_size:
                return raw_ptr + (rva - vaddr)
        raise _fail(label, f"address 0x{rva:x} is in no section")

    def string(rva: int) -> str:
        at = offset_of(rva)
        text = read(at, min(512, size - at))
        return text.split(b"\0", 1)[0].decode("ascii", "replace")

    if not import_rva:
        return out
    at = offset_of(import_rva)
    thunk_size, ordinal_bit = (8, 1 << 63) if magic == 0x20B else (4, 1 << 31)
    read_tables: dict[int, list[str]] = {}  # a thunk table already read: descriptors may share one
    total = 0
    for _ in range(MAX_IMPORTS):
        lookup, _t, _f, name_rva, first_thunk = struct.unpack("<IIIII", read(at, 20))
        if not (lookup or name_rva or first_thunk):
            break
        names = out.imports.setdefault(string(name_rva), [])
        thunk = offset_of(lookup or first_thunk)
        if thunk not in read_tables:
            entries: list[str] = []
            for _ in range(MAX_FUNCTIONS):
                value = int.from_bytes(read(thunk + len(entries) * thunk_size, thunk_size), "little")
                if value == 0:
                    break
                entries.append("" if value & ordinal_bit else string((value & 0x7FFFFFFF) + 2))  # skip the hint
            read_tables[thunk] = entries
        functions = read_tables[thunk]
        total += len(functions)
        if total > MAX_ALL_FUNCTIONS:  # 4,096 descriptors sharing one 65,536-entry table: 268M, not a DLL
            raise _fail(label, f"more than {MAX_ALL_FUNCTIONS} imported functions")
        names.extend(name for name in functions if name)
        at += 20
    return out
