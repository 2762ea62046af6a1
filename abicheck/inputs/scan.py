"""Walk the given paths and open every ELF object in them, one at a time.

This is the shared front half of `check` and `show`: it yields each object's
reader while it is open (an mmap for files, bytes for wheel members), and
collects the input problems it meets on the way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from abicheck.binary.elf import ElfReader, open_elf
from abicheck.errors import InputError, NothingToCheck
from abicheck.inputs.foreign import ForeignItem, wheel_member
from abicheck.inputs.paths import iter_paths, walk_directory
from abicheck.inputs.retry import keeping_missing

if TYPE_CHECKING:
    from abicheck.inputs.kernel_tree import VariantDir
    from abicheck.inputs.wheel import WheelReader, WheelTags

T = TypeVar("T")
# A loose file's kernel variant folder: its parsed name, the folder as a container, its shipped names.
InVariant = tuple["VariantDir", "Container", frozenset[str]]
Enclosing = dict[str, "InVariant | None"]


@dataclass
class Container:
    """Where objects were found together: a wheel, a directory tree (one variant folder), or a loose file.

    The resolution stage looks for each NEEDED library in it, the way the
    loader would once it is installed: `files` holds the container-relative
    paths of its ELF files (and, in a directory, of symlinks to them).
    """

    path: str
    kind: str  # "wheel", "dir" or "file"
    root: str | None = None  # on disk: the directory, or a loose file's folder
    files: set[str] = field(default_factory=set)
    links: dict[str, str] = field(default_factory=dict)  # in a directory: symlink -> the ELF file it names
    metadata: str | None = None  # a wheel's METADATA text
    wheel: WheelTags | None = None


@dataclass
class ScanItem:
    """One open ELF object and where it came from."""

    reader: ElfReader
    display: str
    shipped: frozenset[str]
    container: str | None = None  # the wheel or directory it was found in
    wheel: WheelTags | None = None
    variant_dir: VariantDir | None = None  # the kernel build variant it belongs to
    # streamed wheel members: read again keeping these extra byte ranges too
    reload: Callable[[list[tuple[int, int]]], ElfReader] | None = None
    position: tuple[int, int] = (0, 0)  # (input, object within it): sorting by it gives archive/walk order
    origin: Container | None = None  # the container it was found in
    relpath: str = ""  # its path inside that container (posix separators)

    def read(self, use: Callable[[ElfReader], T]) -> T:
        """`use(reader)`; if a streamed member's tables lie outside the kept bytes, keep them too and retry.

        Each retry streams the member once more, keeping the ranges the reader
        asked for; memory grows by those tables only, never by the member.
        """
        if self.reload is None:
            return use(self.reader)
        reload = self.reload

        def attempt(extra: list[tuple[int, int]]) -> T:
            if extra:
                self.reader = reload(extra)
            return use(self.reader)

        return keeping_missing(attempt, self.display)


def scan(paths: list[str], problems: list[InputError], jobs: int = 1, skipped: list[str] | None = None,
         pure: list[str] | None = None) -> Iterator[ScanItem | ForeignItem]:
    """Every ELF object under `paths`; each item's `position` gives its place.

    Objects of one wheel may come out of archive order when `jobs` > 1 (the
    biggest are inflated first); sort by `position` to restore it. Problems are
    appended to `problems` in a deterministic order whatever `jobs` is. Files
    inside directories and wheels that are not ELF are skipped, and listed in
    `skipped` when it is given. Variant folders without compiled objects
    (pure-Python variants, `torch-cuda`) are listed in `pure` when it is given.
    """
    enclosing: Enclosing = {}  # loose files' variant folders
    for number, (path, kind) in enumerate(iter_paths(paths)):
        if isinstance(kind, InputError):
            problems.append(kind)
            continue
        if kind == "file":
            items = _scan_file(path, problems, enclosing)
        elif kind == "dir":
            items = _scan_directory(path, problems, skipped, pure)
        else:
            items = _scan_wheel(path, problems, jobs, skipped)
        for index, item in enumerate(items):
            # A wheel member's place is its archive index; anything else's, its place in the walk.
            item.position = (number, item.position[1] if item.wheel is not None else index)
            yield item


def _scan_file(path: str, problems: list[InputError],
               enclosing: Enclosing) -> Iterator[ScanItem | ForeignItem]:
    """A file named directly; inside a kernel variant folder it is checked as part of that folder."""
    found = _variant_of(path, problems, enclosing)
    if found is not None:
        vdir, origin, shipped = found
        relpath = os.path.relpath(path, vdir.path).replace(os.sep, "/")
        fmt = _format_of(path)
        if fmt in ("macho", "pe"):
            yield ForeignItem(fmt, path, path=path, container=vdir.path, variant_dir=vdir, origin=origin,
                              relpath=relpath)
            return
        try:
            with open_elf(path) as reader:
                yield ScanItem(reader, path, shipped, container=vdir.path, variant_dir=vdir, origin=origin,
                               relpath=relpath)
        except InputError as exc:
            problems.append(exc)
        return
    origin = Container(path, "file", root=os.path.dirname(os.path.abspath(path)))
    fmt = _format_of(path)
    if fmt in ("macho", "pe"):
        yield ForeignItem(fmt, path, path=path, origin=origin, relpath=os.path.basename(path))
        return
    try:
        with open_elf(path) as reader:
            yield ScanItem(reader, path, frozenset(), origin=origin, relpath=os.path.basename(path))
    except InputError as exc:
        problems.append(exc)


def _format_of(path: str) -> str | None:
    from abicheck.inputs.paths import object_format

    try:
        with open(path, "rb") as f:
            return object_format(f.read(64))
    except OSError:
        return None  # open_elf reports it


def _variant_of(path: str, problems: list[InputError],
                enclosing: Enclosing) -> InVariant | None:
    """The kernel variant folder (`build/torch28-cxx11-cu128-x86_64-linux/`) a file lies in, if any.

    pre-commit and xargs pass loose files; they get the context checking their
    folder would give them: the variant's backend, architecture and files.
    """
    from abicheck.inputs.kernel_tree import OUTPUT_FOLDERS
    from abicheck.inputs.variants import looks_like_variant

    folder = os.path.dirname(os.path.abspath(path))
    while True:
        parent = os.path.dirname(folder)
        if looks_like_variant(os.path.basename(folder)) and (
                os.path.basename(parent) in OUTPUT_FOLDERS or os.path.isfile(os.path.join(folder, "metadata.json"))):
            break
        if parent == folder:
            return None
        folder = parent
    if folder not in enclosing:
        from abicheck.inputs.kernel_tree import load_variant_dir

        shown = os.path.join(os.path.dirname(path), os.path.relpath(folder, os.path.dirname(os.path.abspath(path))))
        try:
            vdir = load_variant_dir(os.path.normpath(shown))
        except InputError as exc:
            exc.path = exc.path or folder
            problems.append(exc)
            enclosing[folder] = None
            return None
        files, shipped = walk_directory(vdir.path, [])
        elf = {f.relpath for f in files if f.format == "elf" and not f.relocatable}
        enclosing[folder] = (vdir, Container(vdir.path, "dir", root=vdir.path, files=elf), shipped)
    return enclosing[folder]


def _scan_directory(root: str, problems: list[InputError], skipped: list[str] | None,
                    pure: list[str] | None = None) -> Iterator[ScanItem | ForeignItem]:
    from abicheck.inputs.kernel_tree import find_variant_dirs, load_variant_dir

    variant_paths = find_variant_dirs(root)
    if variant_paths is None:  # a plain directory, not a kernel tree
        yield from _scan_objects(root, None, problems, skipped)
        return
    if not variant_paths:
        problems.append(InputError("no build outputs under build/, result/: build the kernel first", root))
        return
    for path in variant_paths:
        try:
            vdir = load_variant_dir(path)
        except InputError as exc:
            exc.path = exc.path or path
            problems.append(exc)
            continue
        found = 0
        for item in _scan_objects(path, vdir, problems, skipped):
            found += 1
            yield item
        if not found and not vdir.variant.has_binaries and pure is not None:
            pure.append(vdir.variant.name)


def _scan_objects(root: str, vdir: VariantDir | None, problems: list[InputError],
                  skipped: list[str] | None = None) -> Iterator[ScanItem | ForeignItem]:
    links: dict[str, str] = {}
    files, shipped = walk_directory(root, problems, skipped, links)
    elf = {f.relpath for f in files if f.format == "elf" and not f.relocatable}
    elf_links = {link: target for link, target in links.items() if target in elf}
    origin = Container(root, "dir", root=root, files=elf | set(elf_links), links=elf_links)
    count = 0
    for found in files:
        if found.format != "elf":
            count += 1
            yield ForeignItem(found.format, found.display, path=found.path, container=root, variant_dir=vdir,
                              origin=origin, relpath=found.relpath)
            continue
        try:
            with open_elf(found.path, found.display) as reader:
                if reader.facts.type == "REL":
                    continue  # an object file (.o): never loaded by the loader
                count += 1
                yield ScanItem(reader, found.display, shipped, container=root, variant_dir=vdir, origin=origin,
                               relpath=found.relpath)
        except InputError as exc:
            count += 1
            problems.append(exc)
    if count == 0 and vdir is None:
        problems.append(NothingToCheck("no ELF, Mach-O or PE objects found in this directory", root))
    elif count == 0 and vdir is not None and vdir.variant.has_binaries:
        problems.append(InputError(f"variant folder {vdir.variant.name} holds no compiled objects (.so): "
                                   "build the kernel first", root))


def _scan_wheel(path: str, problems: list[InputError], jobs: int = 1,
                skipped: list[str] | None = None) -> Iterator[ScanItem | ForeignItem]:
    from abicheck.inputs.wheel import WheelReader  # zipfile and packaging only when a wheel is given

    try:
        wheel = WheelReader(path)
    except InputError as exc:
        problems.append(exc)
        return
    counter = [0]  # ELF members met, readable or not
    first = len(problems)
    with wheel:
        yield from _wheel_items(wheel, path, problems, jobs, counter, skipped)
    # Whatever was found wrong in this wheel's members, by the scan or by the caller
    # between items, in archive order (members finish out of order with jobs > 1).
    if len(problems) - first > 1:
        index = {wheel.display(m): m.index for m in wheel.members}
        problems[first:] = sorted(problems[first:], key=lambda p: index.get(p.path or "", len(index)))
    if counter[0] == 0 and not any((p.path or "").startswith(path + "!") for p in problems):
        problems.append(NothingToCheck("no ELF, Mach-O or PE objects found in this wheel", path))


def _open_member(wheel: WheelReader, member: object, display: str,
                 data: object) -> tuple[ElfReader, list[tuple[int, int]]]:
    """The reader of a streamed member, streaming it again for any table outside the kept head.

    Returns the reader and the extra ranges it needed, which later re-reads keep too.
    """
    extra: list[tuple[int, int]] = []

    def attempt(ranges: list[tuple[int, int]]) -> ElfReader:
        source = data if not ranges else wheel.read_ranges(member, ranges)  # type: ignore[arg-type]
        return ElfReader(source, display)  # type: ignore[arg-type]

    return keeping_missing(attempt, display, extra), extra


def _wheel_items(wheel: WheelReader, path: str, problems: list[InputError], jobs: int,
                 counter: list[int], skipped: list[str] | None) -> Iterator[ScanItem | ForeignItem]:
    origin = Container(path, "wheel", metadata=wheel.metadata(problems), wheel=wheel.tags, files=wheel.elf_names)
    try:
        members = wheel.loaded(problems, jobs, skipped)
        for loaded in members:
            if loaded.problem is not None:
                problems.append(loaded.problem)
                counter[0] += 1
                continue
            if loaded.data is None:
                continue
            counter[0] += 1
            member = loaded.member
            display = wheel.display(member)
            try:
                reader, first = _open_member(wheel, member, display, loaded.data)
            except InputError as exc:
                problems.append(exc)
                continue

            def again(extra: list[tuple[int, int]], member=member, display=display,
                      first=first) -> ElfReader:
                return ElfReader(wheel.read_ranges(member, first + extra), display)  # type: ignore[arg-type]

            yield ScanItem(reader, display, wheel.shipped, container=path, wheel=wheel.tags, reload=again,
                           position=(0, member.index), origin=origin, relpath=member.name)
        for member, fmt in wheel.foreign_members:
            counter[0] += 1
            yield wheel_member(wheel, member, fmt, origin)
    except InputError as exc:  # the archive itself became unreadable mid-scan
        problems.append(exc)
