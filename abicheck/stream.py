"""Read ELF members of a wheel by streaming them through inflate.

A member is inflated from the zip's raw deflate data (with isal when it is
installed, which is about 3x faster than zlib, else zlib), and only the bytes
the ELF reader needs are kept:

* the head of the file (the first `HEAD_BYTES`), where linkers put the ELF
  and program headers and the dynamic tables (`.dynsym`, `.dynstr`,
  `.gnu.version*`, the hash tables);
* `PT_DYNAMIC` and `PT_INTERP`, wherever they are (PT_DYNAMIC is often far
  into a big library: 79% into libtorch_cpu.so).

Inflation stops as soon as those ranges are complete, so the tail of a big
library is never inflated. Memory per member stays near `HEAD_BYTES` however
big the member is. If an unusual layout puts a table outside those ranges,
the reader raises `MissingBytes` and the caller reads the whole member.
A member that does not start with the ELF magic is dropped after 4 bytes.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from bisect import bisect_right
from typing import Any

from abicheck.errors import InputError, MissingBytes

HEAD_BYTES = 32 << 20
CHUNK = 256 << 10  # compressed bytes read at a time
OUT_STEP = 8 << 20  # inflated bytes produced at a time (bounds zip bombs too)


def inflater_name() -> str:
    return "zlib" if _use_zlib() else "isal"


def _use_zlib() -> bool:
    if os.environ.get("ABICHECK_NO_ISAL"):
        return True
    try:
        import isal  # noqa: F401
    except ImportError:
        return True
    return False


def _decompressor() -> Any:
    if _use_zlib():
        return zlib.decompressobj(-15)
    from isal import isal_zlib

    return isal_zlib.decompressobj(-15)


class SparseBuffer:
    """A read-only view of a file of `size` bytes of which only some ranges are kept.

    Supports what ElfReader uses: len(), slicing and find() within a kept range.
    """

    def __init__(self, size: int, ranges: dict[int, bytes | bytearray]) -> None:
        self._size = size
        self._starts = sorted(ranges)
        self._data = [ranges[s] for s in self._starts]

    def __len__(self) -> int:
        return self._size

    def _locate(self, start: int, stop: int) -> tuple[int, bytes | bytearray]:
        i = bisect_right(self._starts, start) - 1
        if i >= 0:
            base, data = self._starts[i], self._data[i]
            if stop <= base + len(data):
                return base, data
        raise MissingBytes(start, stop)

    def __getitem__(self, key: slice) -> bytes:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("SparseBuffer supports plain slices only")
        start = max(0, key.start or 0)
        stop = min(self._size, self._size if key.stop is None else key.stop)
        if stop <= start:
            return b""
        base, data = self._locate(start, stop)
        return bytes(data[start - base:stop - base])

    def find(self, sub: bytes, start: int, end: int) -> int:
        end = min(end, self._size)
        i = bisect_right(self._starts, start) - 1
        if i < 0 or start >= self._starts[i] + len(self._data[i]):
            raise MissingBytes(start, start + 1)
        base, data = self._starts[i], self._data[i]
        found = data.find(sub, start - base, min(end, base + len(data)) - base)
        if found < 0 and end > base + len(data):
            raise MissingBytes(start, end)
        return found + base if found >= 0 else -1

    @property
    def kept(self) -> int:
        return sum(len(d) for d in self._data)


def _data_offset(f: Any, info: zipfile.ZipInfo, label: str) -> int:
    f.seek(info.header_offset)
    header = f.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise InputError("cannot read member: bad local file header", label)
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_len + extra_len


def _ranges_from_header(head: bytes) -> list[tuple[int, int]]:
    """PT_DYNAMIC and PT_INTERP file ranges, from the ELF and program headers in `head`."""
    if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] not in (1, 2) or head[5] not in (1, 2):
        return []
    e = "<" if head[5] == 1 else ">"
    if head[4] == 2:
        phoff, = struct.unpack_from(e + "Q", head, 32)
        phentsize, phnum = struct.unpack_from(e + "HH", head, 54)
        fmt, t_off, o_off, s_off = e + "IIQQQQ", 0, 2, 5
    else:
        phoff, = struct.unpack_from(e + "I", head, 28)
        phentsize, phnum = struct.unpack_from(e + "HH", head, 42)
        fmt, t_off, o_off, s_off = e + "IIIIII", 0, 1, 4
    out = []
    need = struct.calcsize(fmt)
    for i in range(min(phnum, 4096)):
        at = phoff + i * phentsize
        if phentsize < need or at + need > len(head):
            break
        fields = struct.unpack_from(fmt, head, at)
        if fields[t_off] in (2, 3):  # PT_DYNAMIC, PT_INTERP
            out.append((fields[o_off], fields[o_off] + fields[s_off]))
    return out


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, stop in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
        else:
            merged.append((start, stop))
    return merged


def peek(f: Any, info: zipfile.ZipInfo, label: str, n: int = 16) -> bytes:
    """The first `n` inflated bytes of a member, from an open wheel file.

    Enough to tell ELF from anything else; inflates only a few hundred bytes.
    """
    if info.flag_bits & 0x1:
        raise InputError("cannot read member: it is encrypted", label)
    f.seek(_data_offset(f, info, label))
    if info.compress_type == zipfile.ZIP_STORED:
        return f.read(min(n, info.compress_size))
    if info.compress_type != zipfile.ZIP_DEFLATED:
        raise InputError(f"cannot read member: unsupported compression method {info.compress_type}", label)
    raw = f.read(min(4096, info.compress_size))
    try:
        return zlib.decompressobj(-15).decompress(raw, n)
    except zlib.error as exc:
        raise InputError(f"cannot read member: corrupt deflate data ({exc})", label) from None


class MemberStream:
    """Streams one member's inflated bytes; one instance per worker thread."""

    def __init__(self, path: str, info: zipfile.ZipInfo, label: str) -> None:
        self.path, self.info, self.label = path, info, label
        if info.flag_bits & 0x1:
            raise InputError("cannot read member: it is encrypted", label)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise InputError(f"cannot read member: unsupported compression method {info.compress_type}", label)

    def _chunks(self, f: Any) -> Any:
        """Yield inflated chunks in order, at most OUT_STEP bytes each."""
        remaining = self.info.compress_size
        if self.info.compress_type == zipfile.ZIP_STORED:
            while remaining > 0:
                data = f.read(min(OUT_STEP, remaining))
                if not data:
                    raise InputError("cannot read member: the archive is truncated", self.label)
                remaining -= len(data)
                yield data
            return
        inflate = _decompressor()
        pending = b""
        while True:
            if not pending:
                if remaining <= 0:
                    break
                pending = f.read(min(CHUNK, remaining))
                if not pending:
                    raise InputError("cannot read member: the archive is truncated", self.label)
                remaining -= len(pending)
            try:
                out = inflate.decompress(pending, OUT_STEP)
            except Exception as exc:  # zlib.error or isal's IsalError
                raise InputError(f"cannot read member: corrupt deflate data ({exc})", self.label) from None
            pending = inflate.unconsumed_tail
            if out:
                yield out
            if inflate.eof:
                return
        tail = inflate.flush() if hasattr(inflate, "flush") else b""
        if tail:
            yield tail

    def head(self, n: int = 16) -> bytes:
        """The first `n` bytes (enough to tell ELF from anything else)."""
        got = b""
        with open(self.path, "rb") as f:
            f.seek(_data_offset(f, self.info, self.label))
            for chunk in self._chunks(f):
                got += chunk
                if len(got) >= n:
                    break
        return got[:n]

    def read_sparse(self, head_bytes: int = HEAD_BYTES) -> SparseBuffer | bytes:
        """Inflate until the head, PT_DYNAMIC and PT_INTERP are complete; keep only those.

        A member that does not start with the ELF magic is abandoned after the
        first inflated chunk; its first 16 bytes are returned instead.
        """
        size = self.info.file_size
        wanted = [(0, min(size, head_bytes))]
        header_parsed = False
        kept: dict[int, bytearray] = {0: bytearray()}
        pos = 0
        with open(self.path, "rb") as f:
            f.seek(_data_offset(f, self.info, self.label))
            for chunk in self._chunks(f):
                end = pos + len(chunk)
                for start, stop in wanted:
                    if start < end and stop > pos:
                        lo, hi = max(start, pos), min(stop, end)
                        kept.setdefault(start, bytearray()).extend(chunk[lo - pos:hi - pos])
                if pos == 0 and bytes(chunk[:4]) != b"\x7fELF":
                    return bytes(chunk[:16])
                pos = end
                if not header_parsed and (pos >= 65536 or pos >= size):
                    header_parsed = True
                    extra = [(a, min(b, size)) for a, b in _ranges_from_header(bytes(kept[0][:65536]))
                             if a < size and b > a]
                    wanted = _merge(wanted + extra)
                    kept = _rekey(kept, wanted)
                if header_parsed and pos >= max(stop for _s, stop in wanted):
                    break
        if size == 0:
            return b""
        return SparseBuffer(size, {s: d for s, d in kept.items() if d})

    def read_all(self, limit: int) -> bytes:
        """The whole member, for files whose tables lie outside the kept ranges."""
        if self.info.file_size > limit:
            raise InputError(f"member is {self.info.file_size} bytes uncompressed, over the "
                             f"{limit >> 30} GiB limit", self.label)
        parts = []
        with open(self.path, "rb") as f:
            f.seek(_data_offset(f, self.info, self.label))
            total = 0
            for chunk in self._chunks(f):
                total += len(chunk)
                if total > self.info.file_size:  # a lying header must not buy unbounded memory
                    raise InputError("member inflates past its declared size", self.label)
                parts.append(chunk)
        return b"".join(parts)


def _rekey(kept: dict[int, bytearray], wanted: list[tuple[int, int]]) -> dict[int, bytearray]:
    """Re-home kept bytes after ranges were merged (the head may have absorbed a range)."""
    out: dict[int, bytearray] = {}
    for start, stop in wanted:
        buf = bytearray()
        for s, data in sorted(kept.items()):
            if s >= start and s < stop and s == start + len(buf):
                buf.extend(data)
        out[start] = buf
    return out
