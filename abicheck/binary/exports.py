"""Does a library define a symbol? Looked up the way ld.so looks it up: through its hash table.

A library's exports are never materialised. `Exports(reader)` copies the
tables a lookup reads (`.dynsym`, the dynamic strings, `DT_GNU_HASH` or
`DT_HASH`, `.gnu.version` and the version names) out of the reader, so it
outlives the reader and the member's other bytes; `defines(name, version)`
hashes the name, walks one hash chain and compares names and versions. A
library without either hash table (rare; only hand-made files) is indexed
once into a dict. `defined(names)` answers for many names at once: the
table is then read once into sets, as hashing thousands of long mangled
names one by one in Python costs more.

Version rules, as the loader applies them:

* a versioned reference (`foo@GLIBCXX_3.4.21`) needs a definition of `foo`
  with that version, default (`@@`) or not;
* an unversioned reference binds to a definition whose version is not
  hidden: the default one, or an unversioned symbol.
"""

from __future__ import annotations

import struct
import sys
from array import array
from functools import lru_cache
from operator import mul
from typing import TYPE_CHECKING

from abicheck.binary.elf import MAX_CHAIN
from abicheck.binary.elf_model import DT_GNU_HASH, DT_HASH, DT_SYMTAB, SHN_UNDEF, VERSYM_HIDDEN, VERSYM_INDEX

if TYPE_CHECKING:
    from abicheck.binary.elf import ElfReader

_EXPORTED_BINDINGS = (1, 2, 10)  # STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE


def _powers(count: int) -> list[int]:
    """33**k mod 2**32 for k < count, by repeated multiplication (pow() each time costs 5 ms at import)."""
    out, p = [], 1
    for _k in range(count):
        out.append(p)
        p = p * 33 & 0xFFFFFFFF
    return out


_POWERS = _powers(4097)


@lru_cache(maxsize=1 << 16)  # the same import is looked up in several libraries
def gnu_hash(name: bytes) -> int:
    """The hash of DT_GNU_HASH tables: h = h * 33 + c from 5381, modulo 2**32.

    Evaluated as 5381 * 33**n + sum(c_i * 33**(n-1-i)), with the products
    taken in C by map(): a quarter faster than the byte loop on mangled names.
    """
    n = len(name)
    if n >= len(_POWERS):
        h = 5381
        for c in name:
            h = (h * 33 + c) & 0xFFFFFFFF
        return h
    return (5381 * _POWERS[n] + sum(map(mul, name[::-1], _POWERS))) & 0xFFFFFFFF


def sysv_hash(name: bytes) -> int:
    """The SysV ELF hash (DT_HASH tables, and the hash field of verdef entries)."""
    h = 0
    for c in name:
        h = ((h << 4) + c) & 0xFFFFFFFF
        g = h & 0xF0000000
        if g:
            h ^= g >> 24
        h &= ~g & 0xFFFFFFFF
    return h


class Exports:
    """Symbol lookups in one library, from a copy of its lookup tables (`size` bytes of them)."""

    def __init__(self, reader: ElfReader) -> None:
        self.label = reader.name
        self.needed: tuple[str, ...] = tuple(reader.facts.needed)
        self._versions = reader.version_definitions()  # index -> name
        self._versym = reader._versym()
        self._e = reader._e
        self._syment = reader._syment
        self._word = 8 if reader.elf_class == 64 else 4
        self._fallback: dict[bytes, list[int]] | None = None
        self._memo: dict[tuple[str, str | None], bool] = {}
        self._sets: tuple[set[str], dict[str, set[str]]] | None = None
        self._asked = 0
        self._kind: str | None = None
        self._is64 = reader.elf_class == 64
        self._entry_format = struct.Struct(self._e + ("IBBHQQ" if self._is64 else "IIIBBH"))
        dyn = reader._dyn
        count = reader.symbol_count if DT_SYMTAB in dyn else 0
        self._count = count
        if count:
            start = reader._offset_of(dyn[DT_SYMTAB], "DT_SYMTAB")
            self._symtab = self._copy(reader, start, count * self._syment, "the dynamic symbol table")
            self.strings = self._copy(reader, reader._strtab_start(),
                                      reader._strtab_end() - reader._strtab_start(), "the dynamic string table")
        else:
            self._symtab = self.strings = b""
        size = 0
        if count and DT_GNU_HASH in dyn:
            base = reader._offset_of(dyn[DT_GNU_HASH], "DT_GNU_HASH")
            nbuckets, symoffset, bloom_size, shift = reader._unpack("IIII", base)
            size = 16 + self._word * bloom_size + 4 * nbuckets + 4 * max(count - symoffset, 0)
            table = self._copy(reader, base, size, "the GNU hash table")
            self._gnu = (nbuckets, symoffset, bloom_size, shift,
                         self._array("Q" if self._word == 8 else "I", table[16:16 + self._word * bloom_size]),
                         self._array("I", table[16 + self._word * bloom_size:]))
            self._kind = "gnu"
        elif count and DT_HASH in dyn:
            base = reader._offset_of(dyn[DT_HASH], "DT_HASH")
            word = reader.hash_word  # 8 on 64-bit s390x
            nbucket, nchain = reader._unpack("QQ" if word == 8 else "II", base)
            size = word * (2 + nbucket + nchain)
            table = self._copy(reader, base, size, "the hash table")[2 * word:]
            self._sysv = (nbucket, nchain, self._array("Q" if word == 8 else "I", table))
            self._kind = "sysv"
        self.size = len(self._symtab) + len(self.strings) + size + 2 * count

    def _array(self, code: str, data: bytes) -> array:
        table = array(code)
        if table.itemsize != {"I": 4, "Q": 8}[code]:  # pragma: no cover - exotic platforms
            raise ValueError("unsupported word size")
        table.frombytes(data[:len(data) - len(data) % table.itemsize])
        if self._e == ("<" if sys.byteorder == "big" else ">"):
            table.byteswap()
        return table

    @staticmethod
    def _copy(reader: ElfReader, start: int, size: int, what: str) -> bytes:
        if start < 0 or size < 0 or start + size > reader._size:
            raise reader._fail(f"malformed ELF: {what} runs past the end of the file")
        return bytes(reader._buf[start:start + size])

    def _entry(self, index: int) -> tuple[int, bool, int]:
        """(st_name, defined and global, versym) of `.dynsym` entry `index`."""
        st_name, st_info, st_shndx = self._fields(self._entry_format.unpack_from(self._symtab, index * self._syment))
        exported = st_shndx != SHN_UNDEF and (st_info >> 4) in _EXPORTED_BINDINGS
        versym = self._versym[index] if self._versym is not None and index < len(self._versym) else 1
        return st_name, exported, versym

    def _fields(self, entry: tuple) -> tuple[int, int, int]:
        """(st_name, st_info, st_shndx) of an unpacked entry."""
        if self._is64:
            return entry[0], entry[1], entry[3]
        return entry[0], entry[3], entry[5]

    def _named(self, st_name: int, raw: bytes) -> bool:
        end = st_name + len(raw)
        return self.strings.startswith(raw, st_name) and (end == len(self.strings) or self.strings[end] == 0)

    def _candidates(self, raw: bytes) -> list[int]:
        """`.dynsym` indices whose name hashes like `raw` (then compared by the caller)."""
        try:
            if self._kind == "gnu":
                return self._gnu_candidates(raw)
            if self._kind == "sysv":
                return self._sysv_candidates(raw)
        except (struct.error, IndexError):  # a chain that points outside the table: no definition there
            return []
        if self._fallback is None:
            self._fallback = {}
            strings = self.strings
            names = struct.iter_unpack(f"{self._e}I{self._syment - 4}x", self._symtab)
            next(names, None)  # entry 0 is the null symbol
            for index, (st_name,) in enumerate(names, 1):
                end = strings.find(b"\0", st_name)
                self._fallback.setdefault(strings[st_name:end if end >= 0 else None], []).append(index)
        return self._fallback.get(raw, [])

    def _sysv_candidates(self, raw: bytes) -> list[int]:
        nbucket, nchain, words = self._sysv
        if not nbucket:
            return []
        index = words[sysv_hash(raw) % nbucket]
        out = []
        for _ in range(min(nchain, MAX_CHAIN)):
            if index == 0 or index >= min(nchain, self._count):
                break
            out.append(index)
            index = words[nbucket + index]
        return out

    def _gnu_candidates(self, raw: bytes) -> list[int]:
        nbuckets, symoffset, bloom_size, shift, bloom, words = self._gnu
        if nbuckets == 0 or bloom_size == 0:
            return []
        bits = self._word * 8
        h = gnu_hash(raw)
        word = bloom[(h // bits) % bloom_size]
        if (word >> (h % bits)) & (word >> ((h >> shift) % bits)) & 1 == 0:
            return []  # the Bloom filter says it is not here
        index = words[h % nbuckets]
        if index < symoffset:
            return []
        out = []
        chain = nbuckets - symoffset
        for _ in range(MAX_CHAIN):
            if index >= self._count:
                break
            value = words[chain + index]
            if (value | 1) == (h | 1):
                out.append(index)
            if value & 1:
                break
            index += 1
        return out

    def defined(self, names: set[str], version: str | None = None) -> set[str]:
        """The subset of `names` the library exports (at `version`, or by default when None).

        For many names at once the table is read once into sets (a C-level set
        intersection per object); for a few, each is looked up by hash.
        """
        if self._sets is None:
            # Reading the table costs about a sixth of a hash lookup per entry: only once
            # the names asked of this library add up to a sixth of its symbols does it pay.
            self._asked += len(names)
            if self._asked * 6 < self._count or len(names) <= 32:
                return {n for n in names if self.defines(n, version)}
        default, by_version = self._materialised()
        return names & (default if version is None else by_version.get(version, set()))

    def _materialised(self) -> tuple[set[str], dict[str, set[str]]]:
        if self._sets is None:
            strings, versym, versions = self.strings, self._versym, self._versions
            find = strings.find
            fields = struct.Struct(self._e + ("IBxH16x" if self._is64 else "I8xBxH"))  # st_name, st_info, st_shndx
            picked: list[int] = []
            offsets: list[int] = []
            for index, (st_name, st_info, st_shndx) in enumerate(fields.iter_unpack(self._symtab)):
                if st_shndx and (st_info >> 4) in _EXPORTED_BINDINGS and index:
                    picked.append(index)
                    offsets.append(st_name)
            # one decode for all names: join them, decode once, split
            joined = b"\0".join([strings[o:find(b"\0", o)] for o in offsets])
            names = (joined.decode("ascii") if joined.isascii() else joined.decode("utf-8", "replace")).split("\0") \
                if picked else []
            versioned = versym is not None and any(i > 1 for i in versions)
            default: set[str] = set()
            by_version: dict[str, set[str]] = {}
            if not versioned:
                default.update(names)
            else:
                assert versym is not None
                nversym = len(versym)
                for index, name in zip(picked, names, strict=True):
                    raw = versym[index] if index < nversym else 1
                    if not raw & VERSYM_HIDDEN:
                        default.add(name)
                    version = versions.get(raw & VERSYM_INDEX)
                    if version is not None:
                        by_version.setdefault(version, set()).add(name)
            self._sets = (default, by_version)
        return self._sets

    def defines(self, name: str, version: str | None = None) -> bool:
        """Whether the library exports `name` (at `version`, when given) for a reference to bind to."""
        key = (name, version)
        found = self._memo.get(key)
        if found is None:  # many objects of one wheel import the same symbols from one library
            found = self._memo[key] = self._lookup(name, version)
        return found

    def _lookup(self, name: str, version: str | None) -> bool:
        raw = name.encode()
        for index in self._candidates(raw):
            st_name, exported, versym = self._entry(index)
            if not exported or not self._named(st_name, raw):
                continue
            if version is None:
                if not versym & VERSYM_HIDDEN:
                    return True
            elif self._versions.get(versym & VERSYM_INDEX) == version:
                return True
        return False

    def has_version(self, version: str) -> bool:
        """Whether the library defines the version `version` at all (`.gnu.version_d`)."""
        return version in self._versions.values()
