"""macOS (Mach-O) and Windows (PE) objects: found beside the ELF ones, read through the same buffers.

A darwin or windows kernel variant, or a macOS or Windows wheel, holds these
instead of ELF objects. They are scanned like ELF ones (files read with
pread, wheel members streamed keeping only the ranges read, again when a
table lies further in) and checked by their own rules (abicheck.rules.foreign).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from abicheck.errors import InputError

if TYPE_CHECKING:
    from abicheck.binary.macho import MachOFile
    from abicheck.binary.pe import PEFile
    from abicheck.inputs.kernel_tree import VariantDir
    from abicheck.inputs.scan import Container
    from abicheck.inputs.wheel import Member, WheelReader, WheelTags

T = TypeVar("T")
FOREIGN_HEAD = 1 << 20  # kept of a streamed member: Mach-O load commands and PE headers sit at the start


@dataclass
class ForeignItem:
    """One Mach-O or PE object and where it came from."""

    format: str  # macho or pe
    display: str
    path: str | None = None  # on disk; None for a wheel member
    container: str | None = None
    wheel: WheelTags | None = None
    variant_dir: VariantDir | None = None
    position: tuple[int, int] = (0, 0)
    origin: Container | None = None
    relpath: str = ""
    _member: tuple[WheelReader, Member] | None = None

    def parse(self, buf: object) -> MachOFile | PEFile:
        """The object read from `buf` (what `read` hands its callback) by the reader of its format."""
        if self.format == "macho":
            from abicheck.binary.macho import MachOFile

            return MachOFile(buf, self.display)  # type: ignore[arg-type]
        from abicheck.binary.pe import read_pe

        return read_pe(buf, self.display)  # type: ignore[arg-type]

    def read(self, use: Callable[[object], T]) -> T:
        """`use(buffer)`: the file through pread, or the member streamed (again for ranges past its head)."""
        if self._member is None:
            from abicheck.binary.file_buffer import FileBuffer

            assert self.path is not None
            try:
                fd = os.open(self.path, os.O_RDONLY)
            except OSError as exc:
                raise InputError(exc.strerror or str(exc), self.display) from None
            try:
                return use(FileBuffer(fd, os.fstat(fd).st_size, self.display))
            finally:
                os.close(fd)
        from abicheck.inputs.retry import keeping_missing
        from abicheck.inputs.stream import MemberStream

        wheel, member = self._member

        def attempt(extra: list[tuple[int, int]]) -> T:
            stream = MemberStream(wheel.path, member.info, self.display)
            return use(stream.read_sparse(FOREIGN_HEAD, extra, foreign=True))

        return keeping_missing(attempt, self.display)


def wheel_member(wheel: WheelReader, member: Member, fmt: str, origin: Container) -> ForeignItem:
    return ForeignItem(fmt, wheel.display(member), container=wheel.path, wheel=wheel.tags,
                       position=(0, member.index), origin=origin, relpath=member.name, _member=(wheel, member))
