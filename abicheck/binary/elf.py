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
from collections.abc import Iterator
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
    MAX_DYNAMIC_ENTRIES,
    MAX_VERSION_ENTRIES,
    PN_XNUM,
    PT_DYNAMIC,
    PT_INTERP,
    PT_LOAD,
    VER_FLG_WEAK,
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
from abicheck.binary.elf_symbols import DynamicSymbols
from abicheck.binary.file_buffer import WHOLE_BELOW, FileBuffer
from abicheck.errors import ElfError


class ElfReader(DynamicSymbols):
    """Parses one ELF image held in a buffer. Use `open_elf` for files."""

    def __init__(self, buf: Buffer, name: str = "<bytes>", headers_only: bool = False) -> None:
        """Parse `buf`; with `headers_only`, stop after the ELF and program headers."""
        self._buf = buf
        self._size = len(buf)
        self._direct = isinstance(buf, (bytes, bytearray, mmap.mmap))  # struct can read it in place
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
            rpath=split_paths(self._string(o) for o in self._rpath_offsets),
            runpath=split_paths(self._string(o) for o in self._runpath_offsets),
            version_needs=tuple(self._version_needs()),
            has_dynamic=self._dynamic is not None,
        )

    # -- versions --------------------------------------------------------

    def _version_needs(self) -> Iterator[VersionNeed]:
        if DT_VERNEED not in self._dyn:
            return
        offset = self._offset_of(self._dyn[DT_VERNEED], "DT_VERNEED")
        count = min(self._dyn.get(DT_VERNEEDNUM, MAX_VERSION_ENTRIES), MAX_VERSION_ENTRIES)
        total = 0  # one cap for all entries: per-level caps alone would allow 65535 x 65535
        for _ in range(count):
            _vn_version, vn_cnt, vn_file, vn_aux, vn_next = self._unpack("HHIII", offset)
            library = self._string(vn_file)
            aux = offset + vn_aux
            for _ in range(vn_cnt):
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
        """`.gnu.version_d`, entry by entry: (version index, [its name, and with `parents` its parents'])."""
        if DT_VERDEF not in self._dyn:
            return
        offset = self._offset_of(self._dyn[DT_VERDEF], "DT_VERDEF")
        count = min(self._dyn.get(DT_VERDEFNUM, MAX_VERSION_ENTRIES), MAX_VERSION_ENTRIES)
        budget = MAX_VERSION_ENTRIES  # names read in all, so that a lying vd_cnt cannot multiply the work
        for _ in range(count):
            _v, _flags, ndx, cnt, _hash, vd_aux, vd_next = self._unpack("HHHHIII", offset)
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
                table[need.index] = (need.version, need.library)
            self._version_names = table
        return self._version_names


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


