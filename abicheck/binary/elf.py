"""The one ELF reader.

It reads what the dynamic loader reads: the ELF header, the program headers
and the `PT_DYNAMIC` segment, and from there the dynamic string table, the
version needs (`.gnu.version_r`), the version definitions, `.gnu.version` and
`.dynsym`. Section headers are used only as a last resort for the symbol
count, so stripped and section-less files are checked like any other.

It works on an `mmap` of a file (see `open_elf`), on `bytes`, or on any object
that supports `len`, slicing and `find` (a streamed wheel member keeps only
the ranges the reader needs, see `abicheck.inputs.stream`). Every structure is
bounds-checked, every loop is bounded by a count or by the file size, and
every problem is raised as `ElfError`.

The cheap facts (`ElfFacts`) are parsed eagerly. Symbols are read lazily and
selectively: `imports(versions=...)` scans `.gnu.version` as an array of u16
and decodes only the `.dynsym` entries that use the given version indices.
"""

from __future__ import annotations

import mmap
import os
import struct
import sys
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Union

from abicheck.errors import ElfError

Buffer = Union[bytes, bytearray, mmap.mmap]

ELF_MAGIC = b"\x7fELF"

PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
PN_XNUM = 0xFFFF

DT_NULL, DT_NEEDED, DT_HASH, DT_STRTAB, DT_SYMTAB = 0, 1, 4, 5, 6
DT_STRSZ, DT_SYMENT, DT_SONAME, DT_RPATH, DT_RUNPATH = 10, 11, 14, 15, 29
DT_GNU_HASH = 0x6FFFFEF5
DT_VERSYM = 0x6FFFFFF0
DT_VERDEF, DT_VERDEFNUM = 0x6FFFFFFC, 0x6FFFFFFD
DT_VERNEED, DT_VERNEEDNUM = 0x6FFFFFFE, 0x6FFFFFFF

VER_FLG_WEAK = 0x2
VERSYM_HIDDEN = 0x8000
VERSYM_INDEX = 0x7FFF
SHN_UNDEF = 0

# Generous caps: no real file comes near them, a hostile one cannot make a
# loop run longer than these.
MAX_DYNAMIC_ENTRIES = 1 << 16
MAX_VERSION_ENTRIES = 1 << 16
MAX_SYMBOLS = 1 << 24

ELF_TYPES = {0: "NONE", 1: "REL", 2: "EXEC", 3: "DYN", 4: "CORE"}

# (e_machine, class, endianness) -> the architecture name wheel tags use.
_ARCHES: dict[tuple[int, int, str], str] = {
    (62, 64, "little"): "x86_64",
    (3, 32, "little"): "i686",
    (183, 64, "little"): "aarch64",
    (40, 32, "little"): "armv7l",
    (21, 64, "little"): "ppc64le",
    (21, 64, "big"): "ppc64",
    (20, 32, "big"): "ppc",
    (22, 64, "big"): "s390x",
    (243, 64, "little"): "riscv64",
    (243, 32, "little"): "riscv32",
    (258, 64, "little"): "loongarch64",
    (8, 32, "big"): "mips",
    (8, 32, "little"): "mipsel",
    (8, 64, "big"): "mips64",
    (8, 64, "little"): "mips64el",
}
ARCH_SIGNATURES: dict[str, tuple[int, int, str]] = {v: k for k, v in _ARCHES.items()}

MACHINE_NAMES = {
    3: "Intel 80386", 8: "MIPS", 20: "PowerPC", 21: "PowerPC64", 22: "IBM S/390",
    40: "ARM", 62: "x86-64", 183: "AArch64", 243: "RISC-V", 258: "LoongArch",
}

_LINKER_SCRIPT_WORDS = (b"/*", b"GROUP", b"INPUT", b"OUTPUT_FORMAT", b"SEARCH_DIR", b"AS_NEEDED")


@dataclass(frozen=True)
class VersionNeed:
    """One entry of `.gnu.version_r`: `library` must provide `version`."""

    library: str
    version: str
    weak: bool
    index: int  # vna_other: the `.gnu.version` value that refers to this need


@dataclass(frozen=True)
class Symbol:
    """A `.dynsym` entry with its version resolved."""

    name: str
    version: str | None
    library: str | None  # for imports, the library whose version need names it
    kind: str  # func, object, tls, notype, ...
    binding: str  # global, weak, local, gnu_unique
    defined: bool
    size: int
    hidden: bool  # the version is not the default one (`name@VER`, not `@@`)

    @property
    def display(self) -> str:
        return f"{self.name}@{self.version}" if self.version else self.name


@dataclass(frozen=True)
class ElfFacts:
    """The cheap facts of one ELF object; all that most rules need."""

    elf_class: int  # 32 or 64
    endian: str  # "little" or "big"
    machine: int
    type: str  # EXEC, DYN, REL, CORE
    interpreter: str | None
    needed: tuple[str, ...]
    soname: str | None
    rpath: tuple[str, ...]
    runpath: tuple[str, ...]
    version_needs: tuple[VersionNeed, ...]
    has_dynamic: bool

    @property
    def arch(self) -> str | None:
        """The wheel-tag architecture name, or None for an unusual machine."""
        return _ARCHES.get((self.machine, self.elf_class, self.endian))

    @property
    def machine_description(self) -> str:
        name = MACHINE_NAMES.get(self.machine, f"machine {self.machine}")
        return f"{name}, {self.elf_class}-bit {self.endian}-endian"


def describe_non_elf(head: bytes) -> str:
    """The one-line reason why a file starting with `head` is not ELF."""
    if not head:
        return "empty file, not an ELF object"
    stripped = head.lstrip()
    if stripped.startswith(_LINKER_SCRIPT_WORDS):
        return "a linker script, not an ELF object (only the linker can read it; check the library it names)"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive, not an ELF object (name it .whl to check it as a wheel)"
    if head.startswith(b"!<arch>"):
        return "a static archive (.a), not a shared object"
    return "not an ELF file (bad magic bytes)"


class ElfReader:
    """Parses one ELF image held in a buffer. Use `open_elf` for files."""

    def __init__(self, buf: Buffer, name: str = "<bytes>", headers_only: bool = False) -> None:
        """Parse `buf`; with `headers_only`, stop after the ELF and program headers."""
        self._buf = buf
        self._size = len(buf)
        self._direct = isinstance(buf, (bytes, bytearray, mmap.mmap))  # struct can read it in place
        self.name = name
        self._nsyms: int | None = None
        self._version_names: dict[int, tuple[str, str | None]] | None = None
        self._parse_header()
        self._parse_program_headers()
        if headers_only:
            return
        self._parse_dynamic()
        self.facts = self._build_facts()

    @property
    def segment_ranges(self) -> list[tuple[int, int]]:
        """File ranges of PT_DYNAMIC and PT_INTERP: what a streamed member must keep."""
        return [(off, off + size) for off, size in filter(None, (self._dynamic, self._interp))]

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
            return struct.unpack_from(self._e + fmt, self._buf, offset)
        return struct.unpack(self._e + fmt, self._buf[offset:offset + size])

    def _string(self, offset: int) -> str:
        """A NUL-terminated string from the dynamic string table."""
        return self._cut_string(self._buf, self._strtab_start(), self._strtab_end(), offset)

    def _strtab_start(self) -> int:
        if self._strtab is None:
            raise self._fail("malformed ELF: a dynamic entry names a string but there is no DT_STRTAB")
        return self._strtab

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
            raise self._fail(describe_non_elf(head))
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
        (e_type, self.machine, _version, _entry, self._phoff, self._shoff, _flags,
         _ehsize, self._phentsize, phnum, self._shentsize, self._shnum, _shstrndx) = self._unpack(fmt, 16)
        self.type = ELF_TYPES.get(e_type, f"type {e_type:#x}")
        if phnum == PN_XNUM:  # the real count lives in section 0's sh_info
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
        self._interp: tuple[int, int] | None = None
        for i in range(self._phnum):
            ph = dict(zip(names, self._unpack(fmt, self._phoff + i * self._phentsize), strict=True))
            if ph["type"] == PT_LOAD:
                self._loads.append((ph["offset"], ph["vaddr"], ph["filesz"]))
            elif ph["type"] == PT_DYNAMIC:
                self._dynamic = (ph["offset"], ph["filesz"])
            elif ph["type"] == PT_INTERP:
                self._interp = (ph["offset"], ph["filesz"])

    def _parse_dynamic(self) -> None:
        self._dyn: dict[int, int] = {}
        self._needed_offsets: list[int] = []
        self._rpath_offsets: list[int] = []
        self._runpath_offsets: list[int] = []
        self._strtab: int | None = None
        self._strsz = 0
        if self._dynamic is None:
            return
        offset, filesz = self._dynamic
        entsize = 8 if self.elf_class == 32 else 16
        fmt = "iI" if self.elf_class == 32 else "qQ"
        count = min(filesz // entsize, MAX_DYNAMIC_ENTRIES)
        if offset + count * entsize > self._size:
            raise self._fail(
                f"truncated ELF: the dynamic segment at offset {offset} runs past the end of the "
                f"file ({self._size} bytes)"
            )
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

    def _build_facts(self) -> ElfFacts:
        interpreter = None
        if self._interp is not None:
            off, size = self._interp
            if off + size > self._size:
                raise self._fail("truncated ELF: PT_INTERP runs past the end of the file")
            interpreter = bytes(self._buf[off:off + size]).split(b"\0", 1)[0].decode("utf-8", "replace")
        soname = self._string(self._dyn[DT_SONAME]) if DT_SONAME in self._dyn else None
        return ElfFacts(
            elf_class=self.elf_class,
            endian=self.endian,
            machine=self.machine,
            type=self.type,
            interpreter=interpreter,
            needed=tuple(self._string(o) for o in self._needed_offsets),
            soname=soname,
            rpath=_split_paths(self._string(o) for o in self._rpath_offsets),
            runpath=_split_paths(self._string(o) for o in self._runpath_offsets),
            version_needs=tuple(self._version_needs()),
            has_dynamic=self._dynamic is not None,
        )

    # -- versions --------------------------------------------------------

    def _version_needs(self) -> Iterator[VersionNeed]:
        if DT_VERNEED not in self._dyn:
            return
        offset = self._offset_of(self._dyn[DT_VERNEED], "DT_VERNEED")
        count = min(self._dyn.get(DT_VERNEEDNUM, MAX_VERSION_ENTRIES), MAX_VERSION_ENTRIES)
        for _ in range(count):
            _vn_version, vn_cnt, vn_file, vn_aux, vn_next = self._unpack("HHIII", offset)
            library = self._string(vn_file)
            aux = offset + vn_aux
            for _ in range(vn_cnt):
                _hash, flags, other, name, vna_next = self._unpack("IHHII", aux)
                yield VersionNeed(library, self._string(name), bool(flags & VER_FLG_WEAK), other & VERSYM_INDEX)
                if vna_next == 0:
                    break
                aux += vna_next  # unsigned: always forward, so no cycles
            if vn_next == 0:
                break
            offset += vn_next

    def version_definitions(self) -> dict[int, str]:
        """`.gnu.version_d`: version index -> name (index 1 names the object itself)."""
        result: dict[int, str] = {}
        if DT_VERDEF not in self._dyn:
            return result
        offset = self._offset_of(self._dyn[DT_VERDEF], "DT_VERDEF")
        count = min(self._dyn.get(DT_VERDEFNUM, MAX_VERSION_ENTRIES), MAX_VERSION_ENTRIES)
        for _ in range(count):
            _v, _flags, ndx, cnt, _hash, vd_aux, vd_next = self._unpack("HHHHIII", offset)
            if cnt:
                vda_name, _next = self._unpack("II", offset + vd_aux)
                result[ndx & VERSYM_INDEX] = self._string(vda_name)
            if vd_next == 0:
                break
            offset += vd_next
        return result

    def _version_table(self) -> dict[int, tuple[str, str | None]]:
        """Version index -> (version name, library or None for a definition)."""
        if self._version_names is None:
            table: dict[int, tuple[str, str | None]] = {
                i: (name, None) for i, name in self.version_definitions().items()
            }
            for need in self.facts.version_needs:
                table[need.index] = (need.version, need.library)
            self._version_names = table
        return self._version_names

    # -- symbols ---------------------------------------------------------

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
            _nbucket, nchain = self._unpack("II", self._offset_of(self._dyn[DT_HASH], "DT_HASH"))
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
        while True:  # each step moves 4 bytes forward; _unpack stops it at the end
            (value,) = self._unpack("I", chain)
            if value & 1:
                return last + 1
            last += 1
            chain += 4

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
            kind=_SYMBOL_KINDS.get(st_info & 0xF, f"type{st_info & 0xF}"),
            binding=_SYMBOL_BINDINGS.get(st_info >> 4, f"bind{st_info >> 4}"),
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
        for i in indices:
            yield self._symbol(i, symtab, versym)

    def _symbol_block(self, indices: range, symtab: int, versym: array | None) -> Iterator[Symbol]:
        """`_symbol` for a run of entries, from one read of the table and of the strings.

        Whole-table reads (exports for `abi dump`, a library's 200k symbols) would
        otherwise cost a bounds-checked read per field and per string.
        """
        start, stop = symtab + indices.start * self._syment, symtab + indices.stop * self._syment
        if start < 0 or stop > self._size:
            raise self._fail(f"truncated or malformed ELF: the dynamic symbol table ({stop - start} bytes "
                             f"at offset {start}) runs past the end of the file ({self._size} bytes)")
        entries = struct.iter_unpack(self._e + self._symbol_format, bytes(self._buf[start:stop]))
        first, last = self._strtab_start(), self._strtab_end()
        strings = bytes(self._buf[first:last]) if first < last else b""
        for index, entry in zip(indices, entries, strict=True):
            name = self._cut_string(strings, 0, len(strings), self._entry_fields(entry)[0])
            yield self._make_symbol(index, entry, name, versym)

    def imports(self, versions: set[int] | None = None) -> list[Symbol]:
        """Undefined dynamic symbols, optionally only those bound to `versions`.

        With `versions` (a set of version indices, as in `VersionNeed.index`)
        only the matching entries of `.gnu.version` are decoded.
        """
        if versions is not None:
            versym = self._versym()
            if versym is None:
                return []
            wanted = versions
            picks = (i for i, v in enumerate(versym) if i and (v & VERSYM_INDEX) in wanted)
            found = self._symbols(picks)
        else:
            found = self._symbols(range(1, self.symbol_count))
        return [s for s in found if not s.defined and s.name]

    def exports(self) -> list[Symbol]:
        """Defined global and weak dynamic symbols."""
        return [
            s for s in self._symbols(range(1, self.symbol_count))
            if s.defined and s.name and s.binding in ("global", "weak", "gnu_unique")
        ]


_SYMBOL_KINDS = {0: "notype", 1: "object", 2: "func", 3: "section", 4: "file", 5: "common", 6: "tls",
                 10: "ifunc"}
_SYMBOL_BINDINGS = {0: "local", 1: "global", 2: "weak", 10: "gnu_unique"}


def _split_paths(values: Iterator[str]) -> tuple[str, ...]:
    return tuple(p for value in values for p in value.split(":") if p)


@contextmanager
def open_elf(path: str | os.PathLike[str], name: str | None = None) -> Iterator[ElfReader]:
    """Map a file read-only and parse it; the mapping closes with the block."""
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
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        yield ElfReader(mapped, label)
    finally:
        mapped.close()


def read_facts(path: str | os.PathLike[str]) -> ElfFacts:
    """Parse one file and return its facts (symbols are not read)."""
    with open_elf(path) as reader:
        return reader.facts


def is_elf(head: bytes) -> bool:
    """True when `head` (the first bytes of a file) starts with the ELF magic."""
    return head[:4] == ELF_MAGIC
