"""The one ELF reader.

It reads what the dynamic loader reads: the ELF header, the program headers
and the `PT_DYNAMIC` segment, and from there the dynamic string table, the
version needs (`.gnu.version_r`), the version definitions, `.gnu.version` and
`.dynsym`. Section headers are used only as a last resort for the symbol
count, so stripped and section-less files are checked like any other.

It works on `bytes`, or on any object that supports `len`, slicing and `find`:
a file read with pread block by block (see `open_elf`), a streamed wheel
member that keeps only the ranges the reader needs (see
`abicheck.inputs.stream`). Every structure is
bounds-checked, every loop is bounded by a count or by the file size, and
every problem is raised as `ElfError`.

The cheap facts (`ElfFacts`) are parsed eagerly. Symbols are read lazily and
selectively: `imports(versions=...)` scans `.gnu.version` as an array of u16
and decodes only the `.dynsym` entries that use the given version indices.
"""

from __future__ import annotations

import os
import re
import struct
import sys
from array import array
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from abicheck.binary.elf_model import (  # noqa: F401 - the reader's constants and types, importable from here
    ARCH_SIGNATURES,
    DT_GNU_HASH,
    DT_HASH,
    DT_NEEDED,
    DT_NULL,
    DT_RPATH,
    DT_RUNPATH,
    DT_SONAME,
    DT_STRSZ,
    DT_STRTAB,
    DT_SYMTAB,
    DT_VERDEF,
    DT_VERDEFNUM,
    DT_VERNEED,
    DT_VERNEEDNUM,
    DT_VERSYM,
    ELF_MAGIC,
    ELF_TYPES,
    GNU_PROPERTY_X86_ISA_1_NEEDED,
    MAX_DYNAMIC_ENTRIES,
    MAX_SYMBOLS,
    MAX_VERSION_ENTRIES,
    NT_GNU_PROPERTY_TYPE_0,
    PN_XNUM,
    PT_DYNAMIC,
    PT_GNU_PROPERTY,
    PT_INTERP,
    PT_LOAD,
    PT_NOTE,
    SHN_UNDEF,
    SYMBOL_BINDINGS,
    SYMBOL_KINDS,
    VER_FLG_WEAK,
    VERSYM_HIDDEN,
    VERSYM_INDEX,
    Buffer,
    ElfFacts,
    Symbol,
    VersionNeed,
    describe_non_elf,
    is_elf,
    is_lfs_pointer,
    split_paths,
)
from abicheck.binary.file_buffer import WHOLE_BELOW, FileBuffer
from abicheck.errors import ElfError

EM_S390 = 22
NAME_SLACK = 1 << 16  # bytes read past the last name's offset to reach its end; longer names are read alone
MAX_NOTES = 16  # PT_NOTE segments looked into for GNU properties
MAX_NOTE_BYTES = 1 << 16
MAX_CHAIN = 1 << 20  # GNU hash chain entries walked before a file is called malformed


class ElfReader:
    """Parses one ELF image held in a buffer. Use `open_elf` for files."""

    def __init__(self, buf: Buffer, name: str = "<bytes>", headers_only: bool = False) -> None:
        """Parse `buf`; with `headers_only`, stop after the ELF and program headers."""
        self._buf = buf
        self._size = len(buf)
        self._direct = isinstance(buf, (bytes, bytearray))  # struct can read it in place
        self.name = name
        self._nsyms: int | None = None
        self._all_imports: list[Symbol] | None = None
        self._version_names: dict[int, tuple[str, str | None]] | None = None
        self._parse_header()
        self._parse_program_headers()
        if headers_only:
            return
        self._parse_dynamic()
        self.facts = self._build_facts()

    @property
    def segment_ranges(self) -> list[tuple[int, int]]:
        """File ranges of the dynamic entries (where ld.so finds them) and PT_INTERP: what a streamed member
        must keep. Entries past PT_DYNAMIC's size, up to DT_NULL, are streamed again when read."""
        ranges = [(off, off + size) for off, size in filter(None, (self._interp,))]
        if self._dynamic is not None:
            try:
                start, end = self._dynamic_range()
            except ElfError:
                return [(off, off + size) for off, size in filter(None, (self._dynamic, self._interp))]
            ranges.append((start, min(end, start + max(self._dynamic[1], 4096))))
        return ranges

    # -- low-level reads -------------------------------------------------

    def _fail(self, message: str) -> ElfError:
        return ElfError(message, self.name)

    def _unpack(self, fmt: str, offset: int) -> tuple:
        size = struct.calcsize(fmt)
        if offset < 0 or offset + size > self._size:
            raise self._fail(
                f"truncated or malformed ELF: {size} bytes at offset {offset} are past the end "
                f"of the file ({self._size} bytes)"
            )
        if self._direct:
            return struct.unpack_from(self._e + fmt, self._buf, offset)  # type: ignore[arg-type]
        return struct.unpack(self._e + fmt, self._buf[offset:offset + size])

    def _string(self, offset: int) -> str:
        """A NUL-terminated string from the dynamic string table."""
        return self._cut_string(self._buf, self._strtab_start(), self._strtab_end(), offset)

    def _strtab_start(self) -> int:
        if self._strtab is None:
            raise self._fail("malformed ELF: a dynamic entry names a string but there is no DT_STRTAB")
        return self._strtab

    def table_bytes(self) -> int:
        """The bytes of its dynamic symbol and string tables (what a copy of its lookup tables costs, roughly)."""
        if DT_SYMTAB not in self._dyn:
            return 0
        strings = self._strtab_end() - self._strtab_start() if self._strtab is not None else 0
        return max(strings, 0) + self.symbol_count * self._syment

    def _strtab_end(self) -> int:
        return min(self._strtab_start() + self._strsz, self._size)

    def _cut_string(self, data: Buffer, first: int, last: int, offset: int) -> str:
        """The string at `offset` of a string table held in `data[first:last]`."""
        start = first + offset
        if offset < 0 or offset >= self._strsz or start >= last:
            raise self._fail(f"malformed ELF: string offset {offset} is outside the dynamic string table")
        stop = data.find(b"\0", start, last)
        if stop < 0:
            raise self._fail("malformed ELF: unterminated string in the dynamic string table")
        return bytes(data[start:stop]).decode("utf-8", "replace")

    def _offset_of(self, vaddr: int, what: str) -> int:
        """Translate a virtual address to a file offset through PT_LOAD."""
        for p_offset, p_vaddr, p_filesz in self._loads:
            if p_vaddr <= vaddr < p_vaddr + p_filesz:
                return p_offset + (vaddr - p_vaddr)
        raise self._fail(f"malformed ELF: {what} address {vaddr:#x} is not inside any loaded segment")

    # -- structure -------------------------------------------------------

    def _parse_header(self) -> None:
        head = bytes(self._buf[:16])
        if head[:4] != ELF_MAGIC:
            raise self._fail(describe_non_elf(bytes(self._buf[:32])))
        if len(head) < 16:
            raise self._fail(f"truncated ELF: only {self._size} bytes")
        cls, data = head[4], head[5]
        if cls not in (1, 2):
            raise self._fail(f"malformed ELF: unknown class {cls} (expected 1 for 32-bit or 2 for 64-bit)")
        if data not in (1, 2):
            raise self._fail(f"malformed ELF: unknown data encoding {data}")
        self.elf_class = 32 if cls == 1 else 64
        self.endian = "little" if data == 1 else "big"
        self._e = "<" if data == 1 else ">"
        self._w = "I" if cls == 1 else "Q"  # address-sized word
        fmt = "HHIIIIIHHHHHH" if cls == 1 else "HHIQQQIHHHHHH"
        (e_type, self.machine, _version, _entry, self._phoff, self._shoff, self.e_flags,
         _ehsize, self._phentsize, phnum, self._shentsize, self._shnum, _shstrndx) = self._unpack(fmt, 16)
        self.type = ELF_TYPES.get(e_type, f"type {e_type:#x}")
        if phnum == PN_XNUM:  # the real count lives in section 0's sh_info
            if not self._shoff or not self._shnum:
                raise self._fail("malformed ELF: PN_XNUM program headers without a section header to count them "
                                 "(ld.so refuses it)")
            sh_info_at = self._shoff + (28 if cls == 1 else 44)
            phnum = self._unpack("I", sh_info_at)[0]
        self._phnum = phnum

    def _parse_program_headers(self) -> None:
        if self.elf_class == 64:
            fmt, names = "IIQQQQQQ", ("type", "flags", "offset", "vaddr", "paddr", "filesz", "memsz", "align")
        else:
            fmt, names = "IIIIIIII", ("type", "offset", "vaddr", "paddr", "filesz", "memsz", "flags", "align")
        if self._phnum and self._phentsize < struct.calcsize(fmt):
            raise self._fail(f"malformed ELF: program header entry size {self._phentsize} is too small")
        if self._phoff + self._phnum * self._phentsize > self._size:
            raise self._fail(
                f"truncated ELF: {self._phnum} program headers at offset {self._phoff} run past the end "
                f"of the file ({self._size} bytes)"
            )
        self._loads: list[tuple[int, int, int]] = []
        self._dynamic: tuple[int, int] | None = None
        self._dynamic_vaddr = 0
        self._interp: tuple[int, int] | None = None
        self._notes: list[tuple[int, int]] = []  # PT_NOTE ranges
        self._property: tuple[int, int] | None = None  # PT_GNU_PROPERTY
        for i in range(self._phnum):
            ph = dict(zip(names, self._unpack(fmt, self._phoff + i * self._phentsize), strict=True))
            if ph["type"] == PT_LOAD:
                self._loads.append((ph["offset"], ph["vaddr"], ph["filesz"]))
            elif ph["type"] == PT_DYNAMIC:
                self._dynamic = (ph["offset"], ph["filesz"])
                self._dynamic_vaddr = ph["vaddr"]
            elif ph["type"] == PT_INTERP:
                self._interp = (ph["offset"], ph["filesz"])
            elif ph["type"] == PT_NOTE and len(self._notes) < MAX_NOTES:
                self._notes.append((ph["offset"], ph["filesz"]))
            elif ph["type"] == PT_GNU_PROPERTY:
                self._property = (ph["offset"], ph["filesz"])

    def _parse_dynamic(self) -> None:
        self._dyn: dict[int, int] = {}
        self._needed_offsets: list[int] = []
        self._rpath_offsets: list[int] = []
        self._runpath_offsets: list[int] = []
        self._strtab: int | None = None
        self._strsz = 0
        if self._dynamic is None:
            return
        offset, end = self._dynamic_range()
        entsize = 8 if self.elf_class == 32 else 16
        fmt = "iI" if self.elf_class == 32 else "qQ"
        count = min((end - offset) // entsize, MAX_DYNAMIC_ENTRIES)
        for i in range(count):
            tag, val = self._unpack(fmt, offset + i * entsize)
            if tag == DT_NULL:
                break
            if tag == DT_NEEDED:
                self._needed_offsets.append(val)
            elif tag == DT_RPATH:
                self._rpath_offsets.append(val)
            elif tag == DT_RUNPATH:
                self._runpath_offsets.append(val)
            else:
                self._dyn.setdefault(tag, val)
        if DT_STRTAB in self._dyn:
            self._strtab = self._offset_of(self._dyn[DT_STRTAB], "DT_STRTAB")
            self._strsz = self._dyn.get(DT_STRSZ, self._size - self._strtab)

    def _dynamic_range(self) -> tuple[int, int]:
        """Where the dynamic entries are, as ld.so finds them: at PT_DYNAMIC's p_vaddr, through the PT_LOAD
        segment that maps it, read up to DT_NULL (never past that segment's bytes in the file).

        PT_DYNAMIC's own file offset and size are not what the loader uses (a
        hostile object may point them elsewhere); an empty PT_DYNAMIC is what
        ld.so refuses ("object file has no dynamic section").
        """
        assert self._dynamic is not None
        _offset, filesz = self._dynamic
        if filesz == 0:
            raise self._fail("malformed ELF: its PT_DYNAMIC segment is empty (ld.so refuses it: 'object file has "
                             "no dynamic section')")
        vaddr = self._dynamic_vaddr
        for p_offset, p_vaddr, p_filesz in self._loads:
            if p_vaddr <= vaddr < p_vaddr + p_filesz:
                start = p_offset + (vaddr - p_vaddr)
                end = min(p_offset + p_filesz, self._size)
                if start >= end:
                    raise self._fail(f"truncated ELF: the dynamic segment at offset {start} runs past the end of "
                                     f"the file ({self._size} bytes)")
                return start, end
        if not self._loads:  # no PT_LOAD at all: not loadable, but its dynamic section is still where it says
            offset, filesz = self._dynamic
            if offset + filesz > self._size:
                raise self._fail(f"truncated ELF: the dynamic segment at offset {offset} runs past the end of the "
                                 f"file ({self._size} bytes)")
            return offset, offset + filesz
        raise self._fail(f"malformed ELF: PT_DYNAMIC's address {vaddr:#x} is not inside any loaded segment's bytes "
                         "in the file")

    def _build_facts(self) -> ElfFacts:
        interpreter = None
        if self._interp is not None:
            off, size = self._interp
            if off + size > self._size:
                raise self._fail("truncated ELF: PT_INTERP runs past the end of the file")
            interpreter = bytes(self._buf[off:off + size]).split(b"\0", 1)[0].decode("utf-8", "replace")
            if not interpreter and self.type == "DYN":
                interpreter = None  # an empty PT_INTERP of a shared library: dlopen ignores it, as abicheck does
        soname = self._string(self._dyn[DT_SONAME]) if DT_SONAME in self._dyn else None
        return ElfFacts(
            elf_class=self.elf_class,
            endian=self.endian,
            machine=self.machine,
            type=self.type,
            interpreter=interpreter,
            needed=tuple(self._string(o) for o in self._needed_offsets),
            soname=soname,
            rpath=split_paths(self._string(o) for o in self._rpath_offsets),
            runpath=split_paths(self._string(o) for o in self._runpath_offsets),
            version_needs=tuple(self._version_needs()),
            has_dynamic=self._dynamic is not None,
        )

    # -- versions --------------------------------------------------------

    def _version_needs(self) -> Iterator[VersionNeed]:
        """`.gnu.version_r`, read as glibc's loader reads it (`_dl_check_map_versions`, elf/dl-version.c).

        From DT_VERNEED's address, each entry and each of its `Vernaux` records
        is followed through its `next` offset until one is 0: neither
        `DT_VERNEEDNUM` nor `vn_cnt` bounds what the loader checks (an object
        whose `vn_cnt` hides a version past it still fails to load for it; readelf
        shows only `vn_cnt` of them). A first record of another version than 1 is
        refused, as the loader refuses it.
        """
        if DT_VERNEED not in self._dyn:
            return
        offset = self._offset_of(self._dyn[DT_VERNEED], "DT_VERNEED")
        total = 0  # one cap for all entries: per-level caps alone would allow 65535 x 65535
        for number in range(MAX_VERSION_ENTRIES):
            vn_version, _vn_cnt, vn_file, vn_aux, vn_next = self._unpack("HHIII", offset)
            if number == 0 and vn_version != 1:
                raise self._fail(f"malformed ELF: unsupported version {vn_version} of Verneed record "
                                 "(ld.so refuses it)")
            library = self._string(vn_file)
            aux = offset + vn_aux
            while True:
                total += 1
                if total > MAX_VERSION_ENTRIES:
                    raise self._fail(f"malformed ELF: the version needs exceed {MAX_VERSION_ENTRIES} entries")
                _hash, flags, other, name, vna_next = self._unpack("IHHII", aux)
                yield VersionNeed(library, self._string(name), bool(flags & VER_FLG_WEAK), other & VERSYM_INDEX)
                if vna_next == 0:
                    break
                aux += vna_next  # unsigned: always forward, so no cycles
            if vn_next == 0:
                break
            offset += vn_next

    def _verdef_chains(self, parents: bool) -> Iterator[tuple[int, list[str]]]:
        """`.gnu.version_d`, entry by entry: (version index, [its name, and with `parents` its parents']).

        As glibc's loader walks it: from DT_VERDEF's address through each
        entry's `vd_next` until 0, whatever `DT_VERDEFNUM` says; a version's name
        is its first `Verdaux` (the loader reads no other); the parents (the
        rest) are read for `abi dump` and stubs, at most `vd_cnt` of them. (The
        loader checks `vd_version` only of a library whose versions another
        object needs, in `match_symbol`.)
        """
        if DT_VERDEF not in self._dyn:
            return
        offset = self._offset_of(self._dyn[DT_VERDEF], "DT_VERDEF")
        budget = MAX_VERSION_ENTRIES  # names read in all, so that a lying vd_cnt cannot multiply the work
        for _ in range(MAX_VERSION_ENTRIES):
            _version, _flags, ndx, cnt, _hash, vd_aux, vd_next = self._unpack("HHHHIII", offset)
            aux, names = offset + vd_aux, []
            for _ in range(min(cnt, budget if parents else 1)):
                budget -= 1
                vda_name, vda_next = self._unpack("II", aux)
                names.append(self._string(vda_name))
                if vda_next == 0:
                    break
                aux += vda_next
            yield ndx & VERSYM_INDEX, names
            if vd_next == 0:
                break
            offset += vd_next

    def version_definitions(self) -> dict[int, str]:
        """`.gnu.version_d`: version index -> name (index 1 names the object itself)."""
        return {ndx: names[0] for ndx, names in self._verdef_chains(parents=False) if names}

    def version_parents(self) -> dict[str, list[str]]:
        """`.gnu.version_d`'s parent chains: version name -> the versions it names as parents."""
        return {names[0]: names[1:] for _ndx, names in self._verdef_chains(parents=True) if len(names) > 1}

    def _version_table(self) -> dict[int, tuple[str, str | None]]:
        """Version index -> (version name, library or None for a definition)."""
        if self._version_names is None:
            table: dict[int, tuple[str, str | None]] = {
                i: (name, None) for i, name in self.version_definitions().items()
            }
            for need in self.facts.version_needs:
                table[need.versym] = (need.version, need.library)
            self._version_names = table
        return self._version_names

    # -- .dynsym: the symbol count, .gnu.version, and the entries themselves -------------------

    @property
    def symbol_count(self) -> int:
        """The number of `.dynsym` entries, from the hash tables or sections."""
        if self._nsyms is None:
            self._nsyms = self._count_symbols()
        return self._nsyms

    def _count_symbols(self) -> int:
        if DT_SYMTAB not in self._dyn:
            return 0
        if DT_HASH in self._dyn:
            words = "QQ" if self.hash_word == 8 else "II"
            _nbucket, nchain = self._unpack(words, self._offset_of(self._dyn[DT_HASH], "DT_HASH"))
            return self._checked_count(nchain)
        if DT_GNU_HASH in self._dyn:
            return self._checked_count(self._count_gnu_hash())
        return self._checked_count(self._count_from_sections())

    def _checked_count(self, count: int) -> int:
        symtab = self._offset_of(self._dyn[DT_SYMTAB], "DT_SYMTAB")
        if count > MAX_SYMBOLS or symtab + count * self._syment > self._size:
            raise self._fail(
                f"malformed ELF: {count} dynamic symbols would run past the end of the file"
            )
        return count

    @property
    def hash_word(self) -> int:
        """The size of a DT_HASH entry: 8 bytes on 64-bit s390x, as glibc and GNU ld have it, else 4.

        LLD writes 4-byte entries for s390x too; a table that does not fit as
        8-byte entries is read as 4-byte ones.
        """
        if self.machine != EM_S390 or self.elf_class != 64 or DT_HASH not in self._dyn:
            return 4
        base = self._offset_of(self._dyn[DT_HASH], "DT_HASH")
        nbucket, nchain = self._unpack("QQ", base)
        fits = nchain <= MAX_SYMBOLS and nbucket <= MAX_SYMBOLS and base + 8 * (2 + nbucket + nchain) <= self._size
        return 8 if fits else 4

    @property
    def _syment(self) -> int:
        return 24 if self.elf_class == 64 else 16

    def _count_gnu_hash(self) -> int:
        base = self._offset_of(self._dyn[DT_GNU_HASH], "DT_GNU_HASH")
        nbuckets, symoffset, bloom_size, _shift = self._unpack("IIII", base)
        buckets = base + 16 + bloom_size * (8 if self.elf_class == 64 else 4)
        if buckets + 4 * nbuckets > self._size:
            raise self._fail("malformed ELF: the GNU hash table runs past the end of the file")
        raw = bytes(self._buf[buckets:buckets + 4 * nbuckets])
        last = max(struct.unpack(f"{self._e}{nbuckets}I", raw), default=0)
        if last < symoffset:
            return symoffset
        chain = buckets + 4 * nbuckets + 4 * (last - symoffset)
        for _ in range(MAX_CHAIN):  # a real last chain is short; a hostile one stops here, not at the file's end
            (value,) = self._unpack("I", chain)
            if value & 1:
                return last + 1
            last += 1
            chain += 4
        raise self._fail(f"malformed ELF: a GNU hash chain longer than {MAX_CHAIN} entries")

    def _count_from_sections(self) -> int:
        """Fallback for files without hash tables: the `.dynsym` section size."""
        shsize = 40 if self.elf_class == 32 else 64
        if not self._shoff or self._shentsize < shsize:
            return 0
        symtab_addr = self._dyn[DT_SYMTAB]
        for i in range(min(self._shnum, MAX_VERSION_ENTRIES)):
            base = self._shoff + i * self._shentsize
            if self.elf_class == 64:
                _n, sh_type, _f, addr, _o, size, _l, _i, _a, entsize = self._unpack("IIQQQQIIQQ", base)
            else:
                _n, sh_type, _f, addr, _o, size, _l, _i, _a, entsize = self._unpack("IIIIIIIIII", base)
            if sh_type == 11 and addr == symtab_addr:  # SHT_DYNSYM
                return size // (entsize or self._syment)
        return 0

    def _versym(self) -> array | None:
        if DT_VERSYM not in self._dyn:
            return None
        offset = self._offset_of(self._dyn[DT_VERSYM], "DT_VERSYM")
        n = self.symbol_count
        if offset + 2 * n > self._size:
            raise self._fail("malformed ELF: .gnu.version runs past the end of the file")
        table = array("H", bytes(self._buf[offset:offset + 2 * n]))
        if self.endian != sys.byteorder:
            table.byteswap()
        return table

    def _symbol(self, index: int, symtab: int, versym: array | None) -> Symbol:
        entry = self._unpack(self._symbol_format, symtab + index * self._syment)
        return self._make_symbol(index, entry, self._string(self._entry_fields(entry)[0]), versym)

    @property
    def _symbol_format(self) -> str:
        return "IBBHQQ" if self.elf_class == 64 else "IIIBBH"

    def _entry_fields(self, entry: tuple) -> tuple[int, int, int, int]:
        """(st_name, st_info, st_shndx, st_size) of one unpacked `.dynsym` entry."""
        if self.elf_class == 64:
            st_name, st_info, _other, st_shndx, _value, st_size = entry
        else:
            st_name, _value, st_size, st_info, _other, st_shndx = entry
        return st_name, st_info, st_shndx, st_size

    def _make_symbol(self, index: int, entry: tuple, name: str, versym: array | None) -> Symbol:
        _st_name, st_info, st_shndx, st_size = self._entry_fields(entry)
        version = library = None
        hidden = False
        if versym is not None:
            raw = versym[index]
            hidden = bool(raw & VERSYM_HIDDEN)
            if (raw & VERSYM_INDEX) > 1:  # 0 is local, 1 the unversioned global
                version, library = self._version_table().get(raw & VERSYM_INDEX, (None, None))
        return Symbol(
            name=name,
            version=version,
            library=library,
            kind=SYMBOL_KINDS.get(st_info & 0xF, f"type{st_info & 0xF}"),
            binding=SYMBOL_BINDINGS.get(st_info >> 4, f"bind{st_info >> 4}"),
            defined=st_shndx != SHN_UNDEF,
            size=st_size,
            hidden=hidden,
        )

    def _symbols(self, indices: Iterator[int] | range) -> Iterator[Symbol]:
        if DT_SYMTAB not in self._dyn:
            return
        symtab = self._offset_of(self._dyn[DT_SYMTAB], "DT_SYMTAB")
        versym = self._versym()
        if isinstance(indices, range):
            yield from self._symbol_block(indices, symtab, versym)
            return
        picked = list(indices)
        if len(picked) < 64:
            for i in picked:
                yield self._symbol(i, symtab, versym)
            return
        # many scattered entries (a full import list): one read of the table and of the strings
        stop = symtab + self.symbol_count * self._syment
        if stop > self._size:
            raise self._fail(f"truncated or malformed ELF: the dynamic symbol table ({stop - symtab} bytes "
                             f"at offset {symtab}) runs past the end of the file ({self._size} bytes)")
        block = bytes(self._buf[symtab:stop])
        fmt = struct.Struct(self._e + self._symbol_format)
        rows = []
        for i in picked:
            if not 0 <= i < self.symbol_count:
                raise self._fail(f"malformed ELF: symbol index {i} is outside the dynamic symbol table")
            rows.append((i, fmt.unpack_from(block, i * self._syment)))
        names = self._names((self._entry_fields(entry)[0] for _i, entry in rows))
        for (i, entry), name in zip(rows, names, strict=True):
            yield self._make_symbol(i, entry, name, versym)

    def _symbol_block(self, indices: range, symtab: int, versym: array | None) -> Iterator[Symbol]:
        """`_symbol` for a run of entries, from one read of the table and of the strings.

        Whole-table reads (exports for `abi dump`, a library's 200k symbols) would
        otherwise cost a bounds-checked read per field and per string.
        """
        start, stop = symtab + indices.start * self._syment, symtab + indices.stop * self._syment
        if start < 0 or stop > self._size:
            raise self._fail(f"truncated or malformed ELF: the dynamic symbol table ({stop - start} bytes "
                             f"at offset {start}) runs past the end of the file ({self._size} bytes)")
        entries = list(struct.iter_unpack(self._e + self._symbol_format, bytes(self._buf[start:stop])))
        names = self._names(self._entry_fields(entry)[0] for entry in entries)
        for index, entry, name in zip(indices, entries, names, strict=True):
            yield self._make_symbol(index, entry, name, versym)

    def _names(self, offsets: Iterable[int]) -> list[str]:
        """The strings at `offsets` of the dynamic string table, from one read of only the part they lie in.

        The table is read up to the last name asked for (and its end), never the
        whole DT_STRSZ the file claims: a hostile 600 MB DT_STRSZ costs nothing.
        """
        wanted = list(offsets)
        if not wanted:
            return []
        first, last = self._strtab_start(), self._strtab_end()
        reach = min(last, first + max(max(wanted), 0) + NAME_SLACK)
        strings = bytes(self._buf[first:reach]) if first < reach else b""
        size = len(strings)
        out = []
        for offset in wanted:
            end = strings.find(b"\0", offset) if 0 <= offset < size else -1
            if end >= 0:
                out.append(strings[offset:end].decode("utf-8", "replace"))
            else:  # a name longer than the slack, or outside the table: read (and judged) on its own
                out.append(self._string(offset))
        return out

    def imports(self, versions: set[int] | None = None) -> list[Symbol]:
        """Undefined dynamic symbols, optionally only those bound to `versions`.

        With `versions` (a set of version indices, as in `VersionNeed.versym`)
        only the matching entries of `.gnu.version` are decoded. The full list
        is decoded once per reader: several rules read it (stable ABI, torch
        symbols, C++ ABI); callers must not modify it.
        """
        if versions is None and self._all_imports is not None:
            return self._all_imports
        if versions is not None:
            versym = self._versym()
            if versym is None:
                return []
            wanted = versions
            picks = (i for i, v in enumerate(versym) if i and (v & VERSYM_INDEX) in wanted)
            found = self._symbols(picks)
        else:
            found = self._symbols(iter(self.undefined_indices()))
        result = [s for s in found if not s.defined and s.name]
        if versions is None:
            self._all_imports = result
        return result

    def undefined_indices(self, strong_only: bool = False) -> list[int]:
        """Indices of the undefined `.dynsym` entries (without weak ones if `strong_only`).

        Found from one read of the table without decoding any entry: the
        section index of every entry is taken as two byte strings, OR-ed as
        integers, and the zero bytes located by the regex engine. A library
        with 200k exports and 300 imports costs a few milliseconds, not the
        200k Symbol objects a full read builds.
        """
        if DT_SYMTAB not in self._dyn:
            return []
        count = self.symbol_count
        if count <= 1:
            return []
        symtab = self._offset_of(self._dyn[DT_SYMTAB], "DT_SYMTAB")
        start, stop = symtab + self._syment, symtab + count * self._syment
        if stop > self._size:
            raise self._fail(f"truncated or malformed ELF: the dynamic symbol table ({stop - start} bytes "
                             f"at offset {start}) runs past the end of the file ({self._size} bytes)")
        block = bytes(self._buf[start:stop])
        step = self._syment
        info_at, shndx_at = (4, 6) if self.elf_class == 64 else (12, 14)
        low, high = block[shndx_at::step], block[shndx_at + 1::step]
        either = (int.from_bytes(low, "little") | int.from_bytes(high, "little")).to_bytes(len(low), "little")
        found = [m.start() for m in re.finditer(b"\x00", either)]
        if strong_only:
            infos = block[info_at::step]
            found = [i for i in found if infos[i] >> 4 != 2]  # STB_WEAK
        return [i + 1 for i in found]

    def import_keys(self) -> list[tuple[str, str | None, str | None]]:
        """(name, version, library its version need names) of each non-weak import, decoded cheaply.

        What the symbol resolution stage keeps of every object: no Symbol
        objects, one read of the table and of the strings.
        """
        indices = self.undefined_indices(strong_only=True)
        if not indices:
            return []
        names = self._names_at(indices)
        versym = self._versym()
        table = self._version_table() if versym is not None else {}
        out = []
        for index, name in zip(indices, names, strict=True):
            if not name:
                continue
            version = library = None
            if versym is not None and index < len(versym) and (versym[index] & VERSYM_INDEX) > 1:
                version, library = table.get(versym[index] & VERSYM_INDEX, (None, None))
            out.append((name, version, library))
        return out

    def imports_named(self, names: frozenset[str], strong_only: bool = True) -> list[Symbol]:
        """The undefined symbols called one of `names` (non-weak ones only, by default)."""
        indices = self.undefined_indices(strong_only)
        if not indices or not names:
            return []
        picks = [index for index, name in zip(indices, self._names_at(indices), strict=True) if name in names]
        return [s for s in self._symbols(iter(picks)) if s.name]

    def _names_at(self, indices: list[int]) -> list[str]:
        """The names of the `.dynsym` entries at `indices` (from undefined_indices: inside the table), from one
        read of the table and of the part of the strings they lie in."""
        symtab = self._offset_of(self._dyn[DT_SYMTAB], "DT_SYMTAB")
        block = bytes(self._buf[symtab:symtab + self.symbol_count * self._syment])
        word = struct.Struct(self._e + "I")  # st_name comes first in both classes' entries
        return self._names(word.unpack_from(block, index * self._syment)[0] for index in indices)

    def x86_isa_needed(self) -> int:
        """The x86 ISA level bit mask of GNU_PROPERTY_X86_ISA_1_NEEDED (0 when none): what glibc 2.33+ checks.

        As the loader reads it: the PT_GNU_PROPERTY segment, else the GNU
        property notes of the PT_NOTE segments.
        """
        ranges = [self._property] if self._property is not None else self._notes
        for offset, size in ranges:
            size = min(size, MAX_NOTE_BYTES)
            if offset + size > self._size:
                continue
            found = self._gnu_isa(bytes(self._buf[offset:offset + size]))
            if found:
                return found
        return 0

    def _gnu_isa(self, data: bytes) -> int:
        """GNU_PROPERTY_X86_ISA_1_NEEDED in one note segment's bytes; 0 when absent."""
        align = 8 if self.elf_class == 64 else 4  # of a property note's descriptor and its properties
        pos = 0
        while pos + 12 <= len(data):
            namesz, descsz, kind = struct.unpack_from(self._e + "III", data, pos)
            desc = pos + 12 + ((namesz + 3) & -4)
            gnu = kind == NT_GNU_PROPERTY_TYPE_0 and data[pos + 12:pos + 12 + namesz].rstrip(b"\0") == b"GNU"
            if gnu:
                at, end = desc, min(desc + descsz, len(data))
                while at + 8 <= end:
                    pr_type, pr_size = struct.unpack_from(self._e + "II", data, at)
                    if pr_type == GNU_PROPERTY_X86_ISA_1_NEEDED and pr_size >= 4 and at + 12 <= end:
                        return int(struct.unpack_from(self._e + "I", data, at + 8)[0])
                    at += 8 + ((pr_size + align - 1) & -align)
            following = desc + ((descsz + (align if gnu else 4) - 1) & -(align if gnu else 4))
            if following <= pos:
                break
            pos = following
        return 0

    def exports(self) -> list[Symbol]:
        """Defined global and weak dynamic symbols."""
        return [
            s for s in self._symbols(range(1, self.symbol_count))
            if s.defined and s.name and s.binding in ("global", "weak", "gnu_unique")
        ]


@contextmanager
def open_elf(path: str | os.PathLike[str], name: str | None = None) -> Iterator[ElfReader]:
    """Open a file read-only and parse it; the file closes with the block.

    The file is read with pread (see abicheck.binary.file_buffer), never
    mapped: a file that shrinks meanwhile is an input error, not a SIGBUS.
    """

    label = name or os.fspath(path)
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise ElfError(exc.strerror or str(exc), label) from None
    with f:
        size = os.fstat(f.fileno()).st_size
        if size < 16:
            head = f.read(16)
            if not is_elf(head):
                raise ElfError(describe_non_elf(head), label)
            raise ElfError(f"truncated ELF: only {size} bytes", label)
        try:  # small files whole, as bytes (struct reads them in place); big ones block by block
            buffer = FileBuffer(f.fileno(), size, label)
            data = buffer[0:size] if size <= WHOLE_BELOW else buffer
        except OSError as exc:
            raise ElfError(exc.strerror or str(exc), label) from None
        yield ElfReader(data, label)


def read_facts(path: str | os.PathLike[str]) -> ElfFacts:
    """Parse one file and return its facts (symbols are not read)."""
    with open_elf(path) as reader:
        return reader.facts


