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
the reader raises `MissingBytes` and the caller streams the member again,
keeping that range too (`extra`), never the whole member. A member that does
not start with the ELF magic is dropped after 4 bytes.

Kept ranges of a megabyte or more are anonymous memory maps rather than
Python byte arrays: unmapped when dropped, they go back to the system at
once. (glibc's allocator serves a large block from its heap after the first
one is freed, and each thread's heap keeps what it served: with 32 threads
a wheel of 300 11 MB members held 600 MB for 250 MB in use.)

What the archive claims is verified while inflating: a member that inflates
past its declared size, or more than `MAX_RATIO` times the compressed bytes
it has consumed, is refused whatever its headers say.
"""

from __future__ import annotations

import mmap
import os
import struct
import zipfile
import zlib
from bisect import bisect_right
from collections.abc import Mapping
from typing import Any, Union

try:  # about 3x faster inflate than zlib; not installed where it has no wheel (see pyproject.toml)
    from isal import isal_zlib
except ImportError:  # pragma: no cover - exercised with ABICHECK_NO_ISAL instead
    isal_zlib = None  # type: ignore[assignment]

from abicheck.binary.elf import ElfReader
from abicheck.binary.file_buffer import slice_bounds
from abicheck.errors import ElfError, InputError, MissingBytes

HEAD_BYTES = 32 << 20
MAX_RATIO = 1000  # inflated bytes per compressed byte, checked as the data comes
CHUNK = 256 << 10  # compressed bytes read at a time
MAPPED = 1 << 20  # kept ranges this big or bigger are anonymous maps (see the module's docstring)
OUT_STEP = 1 << 20  # inflated bytes produced at a time (bounds zip bombs and per-thread memory too)


def inflater_name() -> str:
    return "zlib" if _use_zlib() else "isal"


def _use_zlib() -> bool:
    return isal_zlib is None or bool(os.environ.get("ABICHECK_NO_ISAL"))


def _decompressor() -> Any:
    if _use_zlib():
        return zlib.decompressobj(-15)

    return isal_zlib.decompressobj(-15)


class SparseBuffer:
    """A read-only view of a file of `size` bytes of which only some ranges are kept.

    Supports what ElfReader uses: len(), slicing and find() within a kept range.
    """

    def __init__(self, size: int, ranges: Mapping[int, bytes | Kept]) -> None:
        self._size = size
        self._starts = sorted(ranges)
        self._data = [ranges[s] for s in self._starts]

    def __len__(self) -> int:
        return self._size

    def _locate(self, start: int, stop: int) -> tuple[int, bytes | Kept]:
        i = bisect_right(self._starts, start) - 1
        if i >= 0:
            base, data = self._starts[i], self._data[i]
            if stop <= base + len(data):
                return base, data
        raise MissingBytes(start, stop)

    def __getitem__(self, key: slice) -> bytes:
        start, stop = slice_bounds(key, self._size)
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


Kept = Union[bytearray, mmap.mmap]


def _allocate(size: int, data: bytes | Kept = b"") -> Kept:
    """`size` zero bytes (starting with `data`), mapped when big (see MAPPED)."""
    buf: Kept = bytearray(size) if size < MAPPED else mmap.mmap(-1, size)
    buf[:len(data)] = data
    return buf


def _merged(ranges: dict[int, Kept]) -> dict[int, Kept]:
    """Overlapping or touching kept ranges joined, so any read inside their union finds one range.

    Ranges that touch nothing are kept as they are, never copied.
    """
    out: dict[int, Kept] = {}
    last = -1
    for start in sorted(ranges):
        data = ranges[start]
        if last >= 0 and start <= last + len(out[last]):
            overlap = last + len(out[last]) - start
            if len(data) > overlap:
                joined = _allocate(len(out[last]) + len(data) - overlap, out[last])
                joined[len(out[last]):] = data[overlap:]
                out[last] = joined
        else:
            out[start] = data
            last = start
    return out


def _data_offset(f: Any, info: zipfile.ZipInfo, label: str) -> int:
    """Where a member's data starts, after its local header, which must name the same member."""
    f.seek(info.header_offset)
    header = f.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise InputError("cannot read member: bad local file header", label)
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    name = f.read(name_len)
    expected = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437", "surrogateescape")
    if name != expected:  # many central entries sharing one local header: the zip-bomb construction
        raise InputError("cannot read member: its local header names another member", label)
    return info.header_offset + 30 + name_len + extra_len


def _segment_ranges(head: bytes, size: int) -> list[tuple[int, int]]:
    """PT_DYNAMIC and PT_INTERP file ranges, from the headers at the start of a member."""

    try:
        ranges = ElfReader(head, headers_only=True).segment_ranges
    except ElfError:
        return []  # not parsable from its head: the full reader will say why
    return [(start, min(stop, size)) for start, stop in ranges if start < size and stop > start]


def _check_readable(info: zipfile.ZipInfo, label: str) -> None:
    if info.flag_bits & 0x1:
        raise InputError("cannot read member: it is encrypted", label)
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise InputError(f"cannot read member: unsupported compression method {info.compress_type}", label)


def peek(f: Any, info: zipfile.ZipInfo, label: str, n: int = 16) -> bytes:
    """The first `n` inflated bytes of a member, from an open wheel file.

    Enough to tell ELF from anything else; inflates only a few hundred bytes.
    """
    _check_readable(info, label)
    f.seek(_data_offset(f, info, label))
    if info.compress_type == zipfile.ZIP_STORED:
        return f.read(min(n, info.compress_size))
    raw = f.read(min(4096, info.compress_size))
    try:
        return zlib.decompressobj(-15).decompress(raw, n)
    except zlib.error as exc:
        raise InputError(f"cannot read member: corrupt deflate data ({exc})", label) from None


class MemberStream:
    """Streams one member's inflated bytes; one instance per worker thread."""

    def __init__(self, path: str, info: zipfile.ZipInfo, label: str) -> None:
        _check_readable(info, label)
        self.path, self.info, self.label = path, info, label

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
        produced = 0
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
            produced += len(out)
            consumed = self.info.compress_size - remaining - len(pending)
            if produced > self.info.file_size:
                raise InputError("member inflates past its declared size", self.label)
            if produced > 1 << 20 and produced > MAX_RATIO * max(consumed, 1):
                raise InputError(f"member expands more than {MAX_RATIO}x; refusing a likely zip bomb", self.label)
            if out:
                yield out
            if inflate.eof:
                return
        tail = inflate.flush()
        if tail:
            yield tail

    def read_sparse(self, head_bytes: int = HEAD_BYTES, extra: list[tuple[int, int]] | tuple[()] = (),
                    foreign: bool = False) -> SparseBuffer | bytes:
        """Inflate until the head, PT_DYNAMIC, PT_INTERP and the `extra` ranges are complete; keep only those.

        A member that does not start with the ELF magic is abandoned after the
        first inflated chunk; its first 16 bytes are returned instead. With
        `foreign` (a Mach-O or PE member) the magic is not checked and no ELF
        segment is looked for: the head and `extra` are kept.
        """
        size = self.info.file_size
        stops = {0: min(size, head_bytes)}  # kept range start -> stop; the head starts at 0
        # A table may be as large as the member (TensorFlow's .dynstr is 82 MB), but never larger than what
        # its compressed bytes can inflate to: a lying header buys no memory.
        most = max(self.info.compress_size, 1) * MAX_RATIO
        for start, stop in extra:
            stop = min(stop, size)
            if stop - start > most:
                raise InputError(f"malformed ELF: a table of {stop - start} bytes is larger than the member can "
                                 "hold", self.label)
            if start <= stops[0]:
                stops[0] = max(stops[0], min(stop, size))  # it starts in the head: the head grows
            elif start < size:
                stops[start] = max(stops.get(start, 0), min(stop, size))
        # Each range is allocated once at its final size and filled in place: growing buffers
        # chunk by chunk would briefly need twice the memory, per thread.
        kept = {start: _allocate(stop - start) for start, stop in stops.items()}
        header_parsed = False
        pos = 0
        with open(self.path, "rb") as f:
            f.seek(_data_offset(f, self.info, self.label))
            for chunk in self._chunks(f):
                if pos == 0 and not foreign and bytes(chunk[:4]) != b"\x7fELF":
                    return bytes(chunk[:16])
                end = pos + len(chunk)
                view = memoryview(chunk)
                for start, stop in stops.items():
                    if start < end and stop > pos:
                        lo, hi = max(start, pos), min(stop, end)
                        kept[start][lo - start:hi - start] = view[lo - pos:hi - pos]
                pos = end
                if not header_parsed and foreign:
                    header_parsed = True
                elif not header_parsed and (pos >= 65536 or pos >= size):
                    header_parsed = True
                    for start, stop in _segment_ranges(bytes(kept[0][:65536]), size):
                        if start <= stops[0] and pos <= stops[0]:
                            if stop > stops[0]:  # the head is still growing: extend it
                                kept[0] = _allocate(stop, kept[0][:pos])
                                stops[0] = stop
                        elif start >= pos and start not in stops:
                            stops[start], kept[start] = stop, _allocate(stop - start)
                        # else already streamed past: the reader asks, and the member is streamed again
                if header_parsed and pos >= max(stops.values()):
                    break
        if size == 0:
            return b""
        for start, data in kept.items():  # what a truncated stream never reached is not kept
            reached = max(0, min(pos, stops[start]) - start)
            if reached < len(data):
                kept[start] = _allocate(reached, data[:reached]) if reached else bytearray()
        return SparseBuffer(size, _merged({s: d for s, d in kept.items() if len(d)}))

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
