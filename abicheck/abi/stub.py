"""Write a linkable stub: an ELF shared object that carries only an ABI surface.

The stub has the original's SONAME, its exported dynamic symbols with their
kinds, bindings, versions (`.gnu.version_d`) and data sizes, and no code. GNU
ld accepts it as a link input; a program linked against it records the same
NEEDED entry and version needs as one linked against the real library, and
runs with the real library. Its bytes depend only on the surface, so two
builds that differ only in function bodies give identical stubs: a build can
depend on the stub instead of the library and relink instead of rebuild.

64-bit little-endian machines are supported: x86_64, aarch64 and riscv64
(whose e_flags, the float ABI, are kept: GNU ld refuses to mix them). Version
definitions keep their parents (`LIBVER_2.0 { ... } LIBVER_1.0;`).
"""

from __future__ import annotations

import struct

from abicheck.abi.surface import Surface
from abicheck.binary.exports import sysv_hash as elf_hash
from abicheck.errors import UsageError

MACHINES = {"x86_64": 62, "aarch64": 183, "riscv64": 243}

SHT_PROGBITS, SHT_STRTAB, SHT_HASH, SHT_DYNAMIC, SHT_NOBITS, SHT_DYNSYM = 1, 3, 5, 6, 8, 11
SHT_GNU_VERDEF, SHT_GNU_VERSYM = 0x6FFFFFFD, 0x6FFFFFFF
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR, SHF_TLS = 0x1, 0x2, 0x4, 0x400
PT_LOAD, PT_DYNAMIC, PT_TLS, PT_GNU_STACK = 1, 2, 7, 0x6474E551
STT_OBJECT, STT_FUNC, STT_TLS = 1, 2, 6
STB_GLOBAL, STB_WEAK = 1, 2
DT = {"NULL": 0, "HASH": 4, "STRTAB": 5, "SYMTAB": 6, "STRSZ": 10, "SYMENT": 11, "SONAME": 14,
      "VERSYM": 0x6FFFFFF0, "VERDEF": 0x6FFFFFFC, "VERDEFNUM": 0x6FFFFFFD}


class _Strtab:
    def __init__(self) -> None:
        self.data = bytearray(b"\0")
        self.index: dict[str, int] = {"": 0}

    def add(self, text: str) -> int:
        if text not in self.index:
            self.index[text] = len(self.data)
            self.data += text.encode() + b"\0"
        return self.index[text]


def _align(value: int, to: int) -> int:
    return (value + to - 1) // to * to


def write_stub(surface: Surface) -> bytes:
    """The stub's bytes: deterministic for a given surface."""
    machine = MACHINES.get(surface.machine or "")
    if machine is None:
        raise UsageError(f"stubs for {surface.machine or 'this machine'} are not supported yet "
                         f"(supported: {', '.join(MACHINES)})")
    dynstr = _Strtab()
    soname = surface.soname or ""
    if soname:
        dynstr.add(soname)
    versions = list(surface.versions)
    version_index = {name: i + 2 for i, name in enumerate(versions)}  # 1 is the base definition
    for name in versions:
        dynstr.add(name)
    symbols = sorted(surface.symbols, key=lambda s: (s.name, s.version or "", not s.default))
    for s in symbols:
        dynstr.add(s.name)

    # -- layout: headers, then each section, addresses equal to file offsets --
    phnum = 4 if any(s.kind == "tls" for s in symbols) else 3
    offset = 64 + 56 * phnum
    nsyms = 1 + len(symbols)
    nbucket = max(1, nsyms // 2)
    sections: list[dict] = []

    def place(name: str, size: int, align: int, **kw: int) -> dict:
        nonlocal offset
        offset = _align(offset, align)
        sec = {"name": name, "offset": offset, "size": size, "align": align, **kw}
        sections.append(sec)
        if kw.get("type") != SHT_NOBITS:
            offset += size
        return sec

    hash_sec = place(".hash", 4 * (2 + nbucket + nsyms), 8, type=SHT_HASH, flags=SHF_ALLOC, entsize=4)
    dynsym_sec = place(".dynsym", 24 * nsyms, 8, type=SHT_DYNSYM, flags=SHF_ALLOC, entsize=24)
    dynstr_sec = place(".dynstr", len(dynstr.data), 1, type=SHT_STRTAB, flags=SHF_ALLOC)
    versioned = bool(versions)  # an unversioned library gets no version sections, as the original
    if versioned:
        versym_sec = place(".gnu.version", 2 * nsyms, 2, type=SHT_GNU_VERSYM, flags=SHF_ALLOC, entsize=2)
        # parents are versions the library defines (whose names .dynstr already holds)
        parents = {v: [p for p in surface.parents.get(v, []) if p in version_index] for v in versions}
        verdef_size = 28 * (1 + len(versions)) + 8 * sum(len(p) for p in parents.values())
        verdef_sec = place(".gnu.version_d", verdef_size, 8, type=SHT_GNU_VERDEF, flags=SHF_ALLOC)
    text_sec = place(".text", 0, 16, type=SHT_PROGBITS, flags=SHF_ALLOC | SHF_EXECINSTR)
    dyn_tags = (1 if soname else 0) + (9 if versioned else 6)
    dynamic_sec = place(".dynamic", 16 * dyn_tags, 8, type=SHT_DYNAMIC, flags=SHF_ALLOC | SHF_WRITE, entsize=16)
    file_end_of_load = offset

    # Data objects get distinct, aligned addresses in .bss (which place() puts at
    # the next 16-byte boundary); TLS objects get offsets in .tbss.
    bss_addr = _align(offset, 16)
    cursor, tcursor = 0, 0
    values: list[int] = []
    for s in symbols:
        if s.kind == "object":
            cursor = _align(cursor, 16 if (s.size or 0) >= 16 else 8)
            values.append(bss_addr + cursor)
            cursor += max(s.size or 0, 1)
        elif s.kind == "tls":
            tcursor = _align(tcursor, 8)
            values.append(tcursor)
            tcursor += max(s.size or 0, 1)
        else:
            values.append(text_sec["offset"])
    bss_sec = place(".bss", _align(cursor, 16), 16, type=SHT_NOBITS, flags=SHF_ALLOC | SHF_WRITE)
    tbss_sec = place(".tbss", _align(tcursor, 8), 8, type=SHT_NOBITS, flags=SHF_ALLOC | SHF_WRITE | SHF_TLS)
    shstrtab = _Strtab()
    for sec in sections:
        sec["name_index"] = shstrtab.add(sec["name"])
    shstr_name = shstrtab.add(".shstrtab")
    offset = file_end_of_load
    shstr_sec: dict = {"name": ".shstrtab", "offset": offset, "size": len(shstrtab.data), "align": 1,
                 "type": SHT_STRTAB, "flags": 0, "name_index": shstr_name}
    offset += len(shstrtab.data)
    shoff = _align(offset, 8)
    all_sections = [*sections, shstr_sec]
    index_of = {sec["name"]: i + 1 for i, sec in enumerate(all_sections)}

    out = bytearray(shoff + 64 * (1 + len(all_sections)))

    # -- .dynsym, .gnu.version, .hash ------------------------------------------
    chains = [0] * nsyms
    buckets = [0] * nbucket
    for i, s in enumerate(symbols, start=1):
        kind = {"func": STT_FUNC, "object": STT_OBJECT, "tls": STT_TLS}[s.kind]
        bind = STB_WEAK if s.binding == "weak" else STB_GLOBAL
        shndx = index_of[{"func": ".text", "object": ".bss", "tls": ".tbss"}[s.kind]]
        struct.pack_into("<IBBHQQ", out, dynsym_sec["offset"] + 24 * i, dynstr.index[s.name],
                         (bind << 4) | kind, 0, shndx, values[i - 1], s.size or 0)
        if versioned:
            versym = 1 if s.version is None else version_index[s.version] | (0 if s.default else 0x8000)
            struct.pack_into("<H", out, versym_sec["offset"] + 2 * i, versym)
        b = elf_hash(s.name.encode()) % nbucket
        chains[i], buckets[b] = buckets[b], i
    struct.pack_into(f"<II{nbucket}I{nsyms}I", out, hash_sec["offset"], nbucket, nsyms, *buckets, *chains)
    out[dynstr_sec["offset"]:dynstr_sec["offset"] + len(dynstr.data)] = dynstr.data

    # -- .gnu.version_d: the base definition, then one per version, each with its parents ---
    defs: list[tuple[int, int, str, list[str]]] = [(1, 1, soname, [])]
    defs += [(0, version_index[v], v, parents[v]) for v in versions]
    at = verdef_sec["offset"] if versioned else 0
    for n, (flags, ndx, name, chain) in enumerate(defs if versioned else []):
        size = 20 + 8 * (1 + len(chain))
        last = n == len(defs) - 1
        struct.pack_into("<HHHHIII", out, at, 1, flags, ndx, 1 + len(chain), elf_hash(name.encode()), 20,
                         0 if last else size)
        for k, aux in enumerate([name, *chain]):
            struct.pack_into("<II", out, at + 20 + 8 * k, dynstr.add(aux) if aux else 0, 0 if k == len(chain) else 8)
        at += size

    # -- .dynamic -------------------------------------------------------------------
    entries = [("SONAME", dynstr.index[soname])] if soname else []
    entries += [("HASH", hash_sec["offset"]), ("STRTAB", dynstr_sec["offset"]), ("SYMTAB", dynsym_sec["offset"]),
                ("STRSZ", len(dynstr.data)), ("SYMENT", 24)]
    if versioned:
        entries += [("VERSYM", versym_sec["offset"]), ("VERDEF", verdef_sec["offset"]), ("VERDEFNUM", len(defs))]
    entries.append(("NULL", 0))
    for n, (tag, value) in enumerate(entries):
        struct.pack_into("<qQ", out, dynamic_sec["offset"] + 16 * n, DT[tag], value)
    out[shstr_sec["offset"]:shstr_sec["offset"] + len(shstrtab.data)] = shstrtab.data

    # -- program headers ------------------------------------------------------------------
    memsz = bss_sec["offset"] + bss_sec["size"]
    phdrs = [
        (PT_LOAD, 0x6, 0, 0, file_end_of_load, max(memsz, file_end_of_load), 0x1000),  # R+W
        (PT_DYNAMIC, 0x6, dynamic_sec["offset"], dynamic_sec["offset"], dynamic_sec["size"],
         dynamic_sec["size"], 8),
        (PT_GNU_STACK, 0x6, 0, 0, 0, 0, 16),
    ]
    if phnum == 4:
        phdrs.append((PT_TLS, 0x4, tbss_sec["offset"], tbss_sec["offset"], 0, tbss_sec["size"], 8))
    for n, (ptype, flags, off, addr, filesz, memsize, align) in enumerate(phdrs):
        struct.pack_into("<IIQQQQQQ", out, 64 + 56 * n, ptype, flags, off, addr, addr, filesz, memsize, align)

    # -- section headers ------------------------------------------------------------------
    for n, sec in enumerate(all_sections, start=1):
        link = info = 0
        if sec["name"] in (".hash", ".gnu.version"):
            link = index_of[".dynsym"]
        elif sec["name"] in (".dynsym", ".dynamic", ".gnu.version_d"):
            link = index_of[".dynstr"]
        if sec["name"] == ".dynsym":
            info = 1  # index of the first non-local symbol
        elif sec["name"] == ".gnu.version_d":
            info = len(defs)
        addr = sec["offset"] if sec["flags"] & SHF_ALLOC else 0
        struct.pack_into("<IIQQQQIIQQ", out, shoff + 64 * n, sec["name_index"], sec["type"], sec["flags"],
                         addr, sec["offset"] if sec["type"] != SHT_NOBITS else file_end_of_load,
                         sec["size"], link, info, sec["align"], sec.get("entsize", 0))

    # -- ELF header -----------------------------------------------------------------------
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    struct.pack_into("<16sHHIQQQIHHHHHH", out, 0, ident, 3, machine, 1, 0, 64, shoff, surface.flags, 64, 56, len(phdrs),
                     64, 1 + len(all_sections), index_of[".shstrtab"])
    return bytes(out)
