"""Does a library define a symbol? Looked up the way ld.so looks it up: through its hash table.

A library's exports are never materialised: `Exports.defines(name, version)`
hashes the name, walks one `DT_GNU_HASH` (or `DT_HASH`) chain of `.dynsym`
entries, and compares names and versions. A library without either table
(rare; only hand-made files) is read once into a dict.

Version rules, as the loader applies them:

* a versioned reference (`foo@GLIBCXX_3.4.21`) needs a definition of `foo`
  with that version, default (`@@`) or not;
* an unversioned reference binds to a definition whose version is not
  hidden: the default one, or an unversioned symbol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from abicheck.binary.elf_model import DT_GNU_HASH, DT_HASH, DT_SYMTAB, SHN_UNDEF, VERSYM_HIDDEN, VERSYM_INDEX

if TYPE_CHECKING:
    from abicheck.binary.elf import ElfReader

from abicheck.binary.elf_symbols import MAX_CHAIN


def gnu_hash(name: bytes) -> int:
    """The hash of DT_GNU_HASH tables."""
    h = 5381
    for c in name:
        h = (h * 33 + c) & 0xFFFFFFFF
    return h


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
    """Symbol lookups in one open library (its reader must stay open while it is used)."""

    def __init__(self, reader: ElfReader) -> None:
        self.reader = reader
        self._versions = reader.version_definitions()  # index -> name
        self._versym = reader._versym()
        dyn = reader._dyn
        self._symtab = reader._offset_of(dyn[DT_SYMTAB], "DT_SYMTAB") if DT_SYMTAB in dyn else None
        self._fallback: dict[str, list[int]] | None = None

    def _entry(self, index: int) -> tuple[str, bool, int]:
        """(name, defined and global, versym) of `.dynsym` entry `index`."""
        r = self.reader
        assert self._symtab is not None
        entry = r._unpack(r._symbol_format, self._symtab + index * r._syment)
        st_name, st_info, st_shndx, _size = r._entry_fields(entry)
        exported = st_shndx != SHN_UNDEF and (st_info >> 4) in (1, 2, 10)
        versym = self._versym[index] if self._versym is not None and index < len(self._versym) else 1
        return r._string(st_name), exported, versym

    def _candidates(self, name: str) -> list[int]:
        """`.dynsym` indices whose name hashes like `name` (then compared by the caller)."""
        r = self.reader
        if self._symtab is None:
            return []
        raw = name.encode()
        if DT_GNU_HASH in r._dyn:
            return self._gnu_candidates(raw)
        if DT_HASH in r._dyn:
            base = r._offset_of(r._dyn[DT_HASH], "DT_HASH")
            nbucket, nchain = r._unpack("II", base)
            if not nbucket:
                return []
            index = r._unpack("I", base + 8 + 4 * (sysv_hash(raw) % nbucket))[0]
            out = []
            for _ in range(min(nchain, MAX_CHAIN)):
                if index == 0 or index >= nchain:
                    break
                out.append(index)
                index = r._unpack("I", base + 8 + 4 * nbucket + 4 * index)[0]
            return out
        if self._fallback is None:
            self._fallback = {}
            for index in range(1, r.symbol_count):
                self._fallback.setdefault(self._entry(index)[0], []).append(index)
        return self._fallback.get(name, [])

    def _gnu_candidates(self, raw: bytes) -> list[int]:
        r = self.reader
        base = r._offset_of(r._dyn[DT_GNU_HASH], "DT_GNU_HASH")
        nbuckets, symoffset, bloom_size, shift = r._unpack("IIII", base)
        if nbuckets == 0 or bloom_size == 0:
            return []
        bits = 64 if r.elf_class == 64 else 32
        h = gnu_hash(raw)
        word = r._unpack("Q" if bits == 64 else "I", base + 16 + (bits // 8) * ((h // bits) % bloom_size))[0]
        mask = (1 << (h % bits)) | (1 << ((h >> shift) % bits))
        if word & mask != mask:
            return []  # the Bloom filter says it is not here
        buckets = base + 16 + (bits // 8) * bloom_size
        index = r._unpack("I", buckets + 4 * (h % nbuckets))[0]
        if index < symoffset:
            return []
        chain = buckets + 4 * nbuckets
        out = []
        for _ in range(MAX_CHAIN):
            value = r._unpack("I", chain + 4 * (index - symoffset))[0]
            if (value | 1) == (h | 1):
                out.append(index)
            if value & 1:
                break
            index += 1
        return out

    def defines(self, name: str, version: str | None = None) -> bool:
        """Whether the library exports `name` (at `version`, when given) for a reference to bind to."""
        for index in self._candidates(name):
            found, exported, versym = self._entry(index)
            if found != name or not exported:
                continue
            number = versym & VERSYM_INDEX
            if version is None:
                if not versym & VERSYM_HIDDEN:
                    return True
            elif self._versions.get(number) == version:
                return True
        return False

    def has_version(self, version: str) -> bool:
        """Whether the library defines the version `version` at all (`.gnu.version_d`)."""
        return version in self._versions.values()
