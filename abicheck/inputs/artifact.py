"""One object to check, ELF, Mach-O or PE alike: where it came from, and a way to read it.

The scan (abicheck.inputs.scan) yields `Artifact`s; every later stage takes
them the same way whatever their format. An artifact's bytes are read
through `read(use)`, which hands `use` the parsed object (`ElfReader`,
`MachOFile` or `PEFile`): a file through pread, a wheel member streamed
keeping only the ranges its reader asks for, streamed again for a table that
lies further in.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal, NamedTuple, TypeVar, Union

from abicheck.binary import Format
from abicheck.binary.elf import ElfReader
from abicheck.binary.file_buffer import FileBuffer
from abicheck.binary.macho import MachOFile
from abicheck.binary.pe import PEFile, read_pe
from abicheck.errors import InputError
from abicheck.inputs.retry import keeping_missing
from abicheck.inputs.stream import MemberStream

if TYPE_CHECKING:
    from abicheck.inputs.kernel_tree import VariantDir
    from abicheck.inputs.wheel import Member, WheelReader, WheelTags

T = TypeVar("T")
Binary = Union[ElfReader, MachOFile, PEFile]
ContainerKind = Literal["wheel", "dir", "file"]
FOREIGN_HEAD = 1 << 20  # kept of a streamed Mach-O or PE member: load commands and PE headers sit at the start


class Container(NamedTuple):
    """Where objects were found together: a wheel, a directory tree (one variant folder), or a loose file.

    The resolution stage looks for each NEEDED library in it, the way the
    loader would once it is installed: `files` holds the container-relative
    paths of its ELF files (and, in a directory, of symlinks to them).
    """

    path: str
    kind: ContainerKind
    root: str | None = None  # on disk: the directory, or a loose file's folder
    files: Set[str] = frozenset()  # a wheel's fills as its members are read: complete once the scan ends
    links: Mapping[str, str] = MappingProxyType({})  # in a directory: symlink -> the ELF file it names
    metadata: str | None = None  # a wheel's METADATA text
    wheel: WheelTags | None = None


class Origin(NamedTuple):
    """Where an artifact was found."""

    display: str  # `dist.whl!pkg/_C.abi3.so`, `build/<variant>/relu/_relu.abi3.so`
    container: Container | None = None  # the wheel, tree or folder it was found in
    relpath: str = ""  # its path inside that container (posix separators)
    wheel: WheelTags | None = None
    variant_dir: VariantDir | None = None  # the kernel build variant it belongs to
    shipped: frozenset[str] = frozenset()  # file names and SONAMEs shipped beside it
    position: tuple[int, int] = (0, 0)  # (input, object within it): sorting by it gives archive/walk order

    @property
    def key(self) -> tuple[str, str]:
        """What the later stages know it by: its container and its path inside it."""
        return (self.container.path if self.container is not None else self.display, self.relpath or self.display)


@dataclass
class Artifact:
    """One object to check. Its ELF reader, while the scan holds the file open, is kept here."""

    origin: Origin
    format: Format
    _binary: Binary | None = None  # an ELF object's reader, open while the scan yields it
    _path: str | None = None  # a Mach-O or PE file on disk
    _member: tuple[WheelReader, Member] | None = None  # a Mach-O or PE wheel member
    # a streamed ELF member: read again keeping these extra byte ranges too
    _reload: Callable[[list[tuple[int, int]]], ElfReader] | None = None
    _whole: Callable[[], ElfReader] | None = None  # the member read whole, after too many re-reads

    @property
    def display(self) -> str:
        return self.origin.display

    def read(self, use: Callable[[Binary], T]) -> T:
        """`use(binary)`; a streamed member whose tables lie outside the kept bytes is read again, keeping them.

        Each retry streams the member once more, keeping the ranges the reader
        asked for; memory grows by those tables only, never by the member.
        """
        if self.format == "elf":
            return self._read_elf(use)
        try:
            return self._read_foreign(use)
        except InputError as exc:
            exc.path = exc.path or self.display
            raise

    def _read_elf(self, use: Callable[[Binary], T]) -> T:
        assert self._binary is not None
        if self._reload is None:
            return use(self._binary)
        reload, whole = self._reload, self._whole

        def attempt(extra: list[tuple[int, int]]) -> T:
            if extra:
                self._binary = reload(extra)
            assert self._binary is not None
            return use(self._binary)

        def read_whole() -> T:
            assert whole is not None
            self._binary = whole()
            return use(self._binary)

        return keeping_missing(attempt, self.display, whole=read_whole if whole is not None else None)

    def _parse(self, buf: object) -> MachOFile | PEFile:
        if self.format == "macho":
            return MachOFile(buf, self.display)  # type: ignore[arg-type]
        return read_pe(buf, self.display)  # type: ignore[arg-type]

    def _read_foreign(self, use: Callable[[Binary], T]) -> T:
        if self._member is None:
            assert self._path is not None
            try:
                fd = os.open(self._path, os.O_RDONLY)
            except OSError as exc:
                raise InputError(exc.strerror or str(exc), self.display) from None
            try:
                return use(self._parse(FileBuffer(fd, os.fstat(fd).st_size, self.display)))
            finally:
                os.close(fd)
        wheel, member = self._member

        def attempt(extra: list[tuple[int, int]]) -> T:
            stream = MemberStream(wheel.path, member.info, self.display)
            return use(self._parse(stream.read_sparse(FOREIGN_HEAD, extra, foreign=True)))

        return keeping_missing(attempt, self.display)


def elf_artifact(origin: Origin, reader: ElfReader,
                 reload: Callable[[list[tuple[int, int]]], ElfReader] | None = None,
                 whole: Callable[[], ElfReader] | None = None) -> Artifact:
    return Artifact(origin, "elf", _binary=reader, _reload=reload, _whole=whole)


def foreign_file(origin: Origin, fmt: Format, path: str) -> Artifact:
    return Artifact(origin, fmt, _path=path)


def foreign_member(origin: Origin, fmt: Format, wheel: WheelReader, member: Member) -> Artifact:
    return Artifact(origin, fmt, _member=(wheel, member))
