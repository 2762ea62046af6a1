"""A file read with pread, not mapped: a file that shrinks while it is checked is an error, not a crash.

Mapping a file and touching a page past its new end kills the process with
SIGBUS (a parallel build relinking objects during a check does exactly that).
`FileBuffer` offers what the ELF reader uses (len, slicing, find) over
`os.pread` of aligned blocks, kept once read: a short read raises `ElfError`
naming the file. `open_elf` reads small files whole; a 500 MB library costs
the blocks holding the tables the checks read.
"""

from __future__ import annotations

import os

from abicheck.errors import ElfError

WHOLE_BELOW = 4 << 20  # files this small are read in one go, as bytes
BLOCK = 256 << 10  # the unit of reading and caching otherwise


def slice_bounds(key: slice, size: int) -> tuple[int, int]:
    """(start, stop) of a plain slice over `size` bytes, clamped; what the partial buffers accept."""
    if not isinstance(key, slice) or key.step not in (None, 1):
        raise TypeError("only plain slices of a partial buffer are supported")
    return max(0, key.start or 0), min(size, size if key.stop is None else key.stop)


class FileBuffer:
    """Read-only, bounds-checked view of an open file descriptor through pread."""

    def __init__(self, fd: int, size: int, label: str) -> None:
        self._fd, self._size, self._label = fd, size, label
        self._blocks: dict[int, bytes] = {}

    def __len__(self) -> int:
        return self._size

    def _block(self, n: int) -> bytes:
        block = self._blocks.get(n)
        if block is None:
            start = n * BLOCK
            want = min(BLOCK, self._size - start)
            block = os.pread(self._fd, want, start)
            if len(block) != want:
                raise ElfError("the file changed while it was checked (it is shorter now)", self._label)
            self._blocks[n] = block
        return block

    def __getitem__(self, key: slice) -> bytes:
        start, stop = slice_bounds(key, self._size)
        if stop <= start:
            return b""
        first, last = start // BLOCK, (stop - 1) // BLOCK
        if first == last:
            base = first * BLOCK
            return self._block(first)[start - base:stop - base]
        data = b"".join(self._block(n) for n in range(first, last + 1))
        return data[start - first * BLOCK:stop - first * BLOCK]

    def find(self, sub: bytes, start: int, end: int) -> int:
        end = min(end, self._size)
        n = start // BLOCK
        carry = b""  # the end of the previous block, for a match across the boundary
        while n * BLOCK < end:
            base = n * BLOCK - len(carry)
            data = carry + self._block(n)
            found = data.find(sub, max(0, start - base), min(len(data), end - base))
            if found >= 0:
                return base + found
            carry = data[-(len(sub) - 1):] if len(sub) > 1 else b""
            n += 1
        return -1
