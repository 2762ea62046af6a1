"""A generated index of what a set of wheels' libraries export, looked up without the wheels.

`policies/<name>.bin` holds one sorted uint64 per (symbol, library, wheels
defining it): a 48-bit hash of the name and the index of a group (a library
and the bit mask of the wheels, the JSON's `builds`, that define the name in
it). tools/export_index.py writes both files. The .bin file is read once, as
one array, and binary-searched in place: no name is ever materialised. A
name none defines matches an entry only by a 48-bit hash collision (the
JSON gives the odds, about 1e-9 per lookup).
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left
from functools import cache

from abicheck.policy.data import load_json, read_data


def name_key(name: str) -> int:
    """The 48-bit key of a symbol name (tools/export_index.py writes the same)."""
    from hashlib import blake2b  # noqa: PLC0415 - hashlib (OpenSSL) costs 2-3 ms at import: only when a kernel is met

    return int.from_bytes(blake2b(name.encode("utf-8", "surrogateescape"), digest_size=8).digest(), "little") >> 16


class ExportIndex:
    """Lookups over one generated index."""

    def __init__(self, meta: dict, records: array) -> None:
        self.meta = meta
        self.generated = str(meta.get("generated", "?"))
        self.libraries: list[str] = list(meta["libraries"])
        self.groups: list[tuple[int, int]] = [(lib, int(mask, 16)) for lib, mask in meta["groups"]]
        self._records = records

    def lookup(self, name: str) -> list[tuple[str, int]]:
        """(library, mask of builds) for each library some build defines `name` in."""
        key = name_key(name)
        records = self._records
        i = bisect_left(records, key << 16)
        out = []
        while i < len(records) and records[i] >> 16 == key:
            lib, mask = self.groups[records[i] & 0xFFFF]
            out.append((self.libraries[lib], mask))
            i += 1
        return out

    def defines(self, bit: int, library: str, name: str) -> bool:
        """Whether build `bit` defines `name` in `library`."""
        return any(lib == library and mask >> bit & 1 for lib, mask in self.lookup(name))

    def mask_of(self, name: str) -> int:
        """The builds that define `name` in any library."""
        mask = 0
        for _lib, m in self.lookup(name):
            mask |= m
        return mask


@cache
def export_index(name: str) -> ExportIndex:
    """`policies/<name>.json` and `.bin`, read on first use."""
    records = array("Q")
    records.frombytes(read_data(f"{name}.bin"))
    if sys.byteorder != "little":
        records.byteswap()
    return ExportIndex(load_json(f"{name}.json"), records)


class IndexedLibrary:
    """The exports of one library of one indexed wheel (name lookups only; symbol versions are not kept)."""

    def __init__(self, index: ExportIndex, bit: int, library: str) -> None:
        self.index, self.bit, self.library = index, bit, library

    def defines(self, name: str, version: str | None = None) -> bool:
        return self.index.defines(self.bit, self.library, name)

    def defined(self, names: set[str], version: str | None = None) -> set[str]:
        return {name for name in names if self.defines(name)}
