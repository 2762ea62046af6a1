"""The one retry rule for streamed members: stream again, keeping the range a reader missed."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from abicheck.errors import InputError, MissingBytes

T = TypeVar("T")
MAX_REREADS = 4  # extra passes over one streamed member for tables outside its head


def keeping_missing(attempt: Callable[[list[tuple[int, int]]], T], label: str,
                    extra: list[tuple[int, int]] | None = None, whole: Callable[[], T] | None = None) -> T:
    """`attempt(extra)` until no read misses; each miss adds its range (at least 1 MiB) to `extra`.

    The one retry rule for streamed members: at most MAX_REREADS more passes,
    then `whole()` (the member read whole, when it is small enough to hold: a
    patchelf'd object's tables may lie in a dozen LOAD segments), else the
    object is malformed.
    """
    extra = [] if extra is None else extra
    while True:
        try:
            return attempt(extra)
        except MissingBytes as missing:
            if len(extra) >= MAX_REREADS and whole is not None:
                return whole()
            if len(extra) >= MAX_REREADS:
                raise InputError(f"malformed ELF: tables scattered over more than {MAX_REREADS} ranges outside "
                                 "the file's head", label) from None
            # at least 1 MiB, so entry-by-entry reads cost one pass, not one each
            extra.append((missing.start, max(missing.stop, missing.start + (1 << 20))))
