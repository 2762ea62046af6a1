"""Reading `.dynsym`: the symbol count, `.gnu.version`, and the entries themselves.

`DynamicSymbols` is the part of `ElfReader` that reads symbols, lazily and
selectively: `imports(versions=...)` scans `.gnu.version` as an array of u16
and decodes only the `.dynsym` entries that use the given version indices,
while whole-table reads (`exports()`, a full `imports()`) unpack the table
from one block and the names from one read of the string table.
"""

from __future__ import annotations

import re
import struct
import sys
from array import array
from collections.abc import Iterator
from typing import TYPE_CHECKING

from abicheck.binary.elf_model import (
    DT_GNU_HASH,
    DT_HASH,
    DT_SYMTAB,
    DT_VERSYM,
    MAX_SYMBOLS,
    MAX_VERSION_ENTRIES,
    SHN_UNDEF,
    SYMBOL_BINDINGS,
    SYMBOL_KINDS,
    VERSYM_HIDDEN,
    VERSYM_INDEX,
    Buffer,
    Symbol,
)

if TYPE_CHECKING:
    from abicheck.errors import ElfError

MAX_CHAIN = 1 << 20  # GNU hash chain entries walked before a file is called malformed


class DynamicSymbols:
    """Symbol reading for `ElfReader`, which provides the structure reads it relies on."""

    _buf: Buffer
    _size: int
    _e: str
    _dyn: dict[int, int]
    _nsyms: int | None
    _all_imports: list[Symbol] | None
    elf_class: int
    endian: str
    _shoff: int
    _shnum: int
    _shentsize: int

    def _fail(self, message: str) -> ElfError: ...  # pragma: no cover - ElfReader's
    def _unpack(self, fmt: str, offset: int) -> tuple: ...  # pragma: no cover
    def _offset_of(self, vaddr: int, what: str) -> int: ...  # pragma: no cover
    def _string(self, offset: int) -> str: ...  # pragma: no cover
    def _strtab_start(self) -> int: ...  # pragma: no cover
    def _strtab_end(self) -> int: ...  # pragma: no cover
    def _cut_string(self, data: Buffer, first: int, last: int, offset: int) -> str: ...  # pragma: no cover
    def _version_table(self) -> dict[int, tuple[str, str | None]]: ...  # pragma: no cover

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
        first, last = self._strtab_start(), self._strtab_end()
        strings = bytes(self._buf[first:last]) if first < last else b""
        fmt = struct.Struct(self._e + self._symbol_format)
        for i in picked:
            if not 0 <= i < self.symbol_count:
                raise self._fail(f"malformed ELF: symbol index {i} is outside the dynamic symbol table")
            entry = fmt.unpack_from(block, i * self._syment)
            name = self._cut_string(strings, 0, len(strings), self._entry_fields(entry)[0])
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
        entries = struct.iter_unpack(self._e + self._symbol_format, bytes(self._buf[start:stop]))
        first, last = self._strtab_start(), self._strtab_end()
        strings = bytes(self._buf[first:last]) if first < last else b""
        for index, entry in zip(indices, entries, strict=True):
            name = self._cut_string(strings, 0, len(strings), self._entry_fields(entry)[0])
            yield self._make_symbol(index, entry, name, versym)

    def imports(self, versions: set[int] | None = None) -> list[Symbol]:
        """Undefined dynamic symbols, optionally only those bound to `versions`.

        With `versions` (a set of version indices, as in `VersionNeed.index`)
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
        symtab = self._offset_of(self._dyn[DT_SYMTAB], "DT_SYMTAB")
        block = bytes(self._buf[symtab:symtab + self.symbol_count * self._syment])
        first, last = self._strtab_start(), self._strtab_end()
        strings = bytes(self._buf[first:last]) if first < last else b""
        versym = self._versym()
        table = self._version_table() if versym is not None else {}
        word = struct.Struct(self._e + "I")
        out = []
        size = len(strings)
        for index in indices:
            st_name = word.unpack_from(block, index * self._syment)[0]
            end = strings.find(b"\0", st_name) if st_name < size else -1
            if end < 0:  # outside the table, or unterminated: the careful path says which
                self._cut_string(strings, 0, size, st_name)
            name = strings[st_name:end].decode("utf-8", "replace")
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
        symtab = self._offset_of(self._dyn[DT_SYMTAB], "DT_SYMTAB")
        first, last = self._strtab_start(), self._strtab_end()
        strings = bytes(self._buf[first:last]) if first < last else b""
        wanted = {name.encode() for name in names}
        picks = []
        for index in indices:
            st_name = self._entry_fields(self._unpack(self._symbol_format, symtab + index * self._syment))[0]
            end = strings.find(b"\0", st_name)
            if 0 <= st_name < len(strings) and strings[st_name:end if end >= 0 else len(strings)] in wanted:
                picks.append(index)
        return [s for s in self._symbols(iter(picks)) if s.name]

    def exports(self) -> list[Symbol]:
        """Defined global and weak dynamic symbols."""
        return [
            s for s in self._symbols(range(1, self.symbol_count))
            if s.defined and s.name and s.binding in ("global", "weak", "gnu_unique")
        ]

