"""Walk the given paths and yield every object in them as an `Artifact`, one at a time.

This is the front of the one pipeline (abicheck.pipeline) that `check`,
`show` and `abi dump` share: an ELF object's reader is open while its
artifact is yielded (read with pread for files, the kept ranges of a
streamed wheel member); Mach-O and PE objects are read when their artifact
is. The input problems met on the way are collected as they are found.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Optional

from abicheck.binary import Format
from abicheck.binary.elf import ElfReader, open_elf
from abicheck.errors import InputError, NothingToCheck
from abicheck.inputs.artifact import Artifact, Container, Origin, elf_artifact, foreign_file, foreign_member
from abicheck.inputs.kernel_tree import OUTPUT_FOLDERS, find_nested_variant_dirs, find_variant_dirs, load_variant_dir
from abicheck.inputs.paths import iter_paths, object_format, walk_directory
from abicheck.inputs.retry import keeping_missing
from abicheck.inputs.variants import looks_like_variant
from abicheck.inputs.wheel import WheelReader

if TYPE_CHECKING:
    from abicheck.inputs.kernel_tree import VariantDir

# A loose file's kernel variant folder: its parsed name, the folder as a container, its shipped names.
InVariant = tuple["VariantDir", "Container", frozenset[str]]
Enclosing = dict[str, "InVariant | None"]
Expect = Callable[[Optional[int]], None]  # told how many objects an input holds, None when not known


def scan(paths: list[str], problems: list[InputError], jobs: int = 1, skipped: list[str] | None = None,
         pure: list[str] | None = None, expect: Expect | None = None) -> Iterator[Artifact]:
    """Every ELF object under `paths`; each item's `position` gives its place.

    Objects of one wheel may come out of archive order when `jobs` > 1 (the
    biggest are inflated first); sort by `position` to restore it. Problems are
    appended to `problems` in a deterministic order whatever `jobs` is. Files
    inside directories and wheels that are not ELF are skipped, and listed in
    `skipped` when it is given. Variant folders without compiled objects
    (pure-Python variants, `torch-cuda`) are listed in `pure` when it is given.
    `expect`, when given, is told how many objects each wheel holds once it is
    known, and None for a file or folder (whose count is not known before the walk).
    """
    enclosing: Enclosing = {}  # loose files' variant folders
    number = 0  # each given path, and each wheel a directory holds, in turn
    for path, kind in iter_paths(paths):
        if isinstance(kind, InputError):
            problems.append(kind)
            number += 1
            continue
        wheels: list[str] = []  # a dist/ or wheelhouse: the wheels its walk meets, checked as if named
        if kind == "file":
            items = _scan_file(path, problems, enclosing)
        elif kind == "dir":
            items = _scan_directory(path, problems, skipped, pure, wheels)
        else:
            items = _scan_wheel(path, problems, jobs, skipped, pure, expect)
        if kind != "wheel" and expect is not None:
            expect(None)
        yield from _placed(items, number)
        number += 1
        for wheel in wheels:
            yield from _placed(_scan_wheel(wheel, problems, jobs, skipped, pure, expect), number)
            number += 1


def _placed(items: Iterator[Artifact], number: int) -> Iterator[Artifact]:
    """A wheel member's place is its archive index; anything else's, its place in the walk."""
    for index, item in enumerate(items):
        item.origin = item.origin._replace(position=(number, item.origin.position[1] if item.origin.wheel is not None
                                                     else index))
        yield item


def _scan_file(path: str, problems: list[InputError],
               enclosing: Enclosing) -> Iterator[Artifact]:
    """A file named directly; inside a kernel variant folder it is checked as part of that folder."""
    found = _variant_of(path, problems, enclosing)
    if found is not None:
        vdir, origin, shipped = found
        relpath = os.path.relpath(path, vdir.path).replace(os.sep, "/")
        yield from _open_file(path, Origin(path, origin, relpath, variant_dir=vdir, shipped=shipped), problems)
        return
    folder = Container(path, "file", root=os.path.dirname(os.path.abspath(path)))
    yield from _open_file(path, Origin(path, folder, os.path.basename(path)), problems)


def _open_file(path: str, origin: Origin, problems: list[InputError]) -> Iterator[Artifact]:
    fmt = _format_of(path)
    if fmt == "macho" or fmt == "pe":
        yield foreign_file(origin, fmt, path)
        return
    try:
        with open_elf(path) as reader:
            yield elf_artifact(origin, reader)
    except InputError as exc:
        problems.append(exc)


def _format_of(path: str) -> Format | None:
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
        enclosing[folder] = (vdir, Container(vdir.path, "dir", root=vdir.path, files=frozenset(elf)), shipped)
    return enclosing[folder]


def _scan_directory(root: str, problems: list[InputError], skipped: list[str] | None,
                    pure: list[str] | None = None, wheels: list[str] | None = None) -> Iterator[Artifact]:
    try:
        variant_paths = find_variant_dirs(root, strict=True)
    except InputError as exc:
        problems.append(exc)
        return
    if variant_paths is None:  # a plain directory, or a monorepo of kernel projects (<kernel>/build/<variant>/)
        variant_paths = find_nested_variant_dirs(root)
        if not variant_paths:
            yield from _scan_objects(root, None, problems, skipped, wheels=wheels)
            return
        outputs = frozenset(os.path.abspath(os.path.dirname(p)) for p in variant_paths)
        yield from _scan_objects(root, None, problems, skipped, exclude=outputs, quiet=True, wheels=wheels)
    if not variant_paths:
        problems.append(NothingToCheck("no build outputs under build/, result/: build the kernel first", root))
        return
    for path in variant_paths:
        try:
            vdir = load_variant_dir(path)
        except InputError as exc:
            exc.path = exc.path or path
            problems.append(exc)
            continue
        found = 0
        for item in _scan_objects(path, vdir, problems, skipped, wheels=wheels):
            found += 1
            yield item
        if not found and not vdir.variant.has_binaries and pure is not None:
            pure.append(vdir.variant.name)


def _scan_objects(root: str, vdir: VariantDir | None, problems: list[InputError],
                  skipped: list[str] | None = None, exclude: frozenset[str] = frozenset(),
                  quiet: bool = False, wheels: list[str] | None = None) -> Iterator[Artifact]:
    """The objects under `root`; `quiet`: the rest of a monorepo, where finding none is no problem.

    The rest of a monorepo is walked without entering the kernels' output folders
    (`exclude`) and hidden folders (a .venv holding torch is not the repo's). The
    wheels met are added to `wheels` (a folder of only wheels holds something to check).
    """
    links: dict[str, str] = {}
    met: list[str] = []
    files, shipped = walk_directory(root, problems, skipped, links,
                                    frozenset(os.path.join(root, os.path.relpath(e, os.path.abspath(root)))
                                              for e in exclude), skip_hidden=quiet, wheels=met)
    if wheels is not None:
        wheels.extend(met)
    elf = {f.relpath for f in files if f.format == "elf" and not f.relocatable}
    elf_links = {link: target for link, target in links.items() if target in elf}
    tree = Container(root, "dir", root=root, files=frozenset(elf | set(elf_links)), links=elf_links)
    count = 0
    for found in files:
        origin = Origin(found.display, tree, found.relpath, variant_dir=vdir, shipped=shipped)
        if found.format == "macho" or found.format == "pe":
            count += 1
            yield foreign_file(origin, found.format, found.path)
            continue
        try:
            with open_elf(found.path, found.display) as reader:
                if reader.facts.type == "REL":
                    continue  # an object file (.o): never loaded by the loader
                count += 1
                yield elf_artifact(origin, reader)
        except InputError as exc:
            count += 1
            problems.append(exc)
    if count == 0 and vdir is None and not quiet and not met:
        problems.append(NothingToCheck("no ELF, Mach-O or PE objects found in this directory", root))
    elif count == 0 and vdir is not None and vdir.variant.has_binaries:
        problems.append(InputError(f"variant folder {vdir.variant.name} holds no compiled objects (.so): "
                                   "build the kernel first", root))


def _scan_wheel(path: str, problems: list[InputError], jobs: int = 1, skipped: list[str] | None = None,
                pure: list[str] | None = None, expect: Expect | None = None) -> Iterator[Artifact]:
    try:
        wheel = WheelReader(path)
    except InputError as exc:
        problems.append(exc)
        return
    counter = [0]  # ELF members met, readable or not
    first = len(problems)
    with wheel:
        yield from _wheel_items(wheel, path, problems, jobs, counter, skipped, expect)
    # Whatever was found wrong in this wheel's members, by the scan or by the caller
    # between items, in archive order (members finish out of order with jobs > 1).
    if len(problems) - first > 1:
        index = {wheel.display(m): m.index for m in wheel.members}
        problems[first:] = sorted(problems[first:], key=lambda p: index.get(p.path or "", len(index)))
    if counter[0] == 0 and not any((p.path or "").startswith(path + "!") for p in problems):
        if wheel.tags.platforms and all(p == "any" for p in wheel.tags.platforms) and pure is not None:
            pure.append(os.path.basename(path))  # a pure-Python wheel: nothing to check, and said so
        else:
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

    return keeping_missing(attempt, display, extra, _whole_reader(wheel, member, display)), extra


WHOLE_BYTES = 1 << 30  # a member with tables in many places is read whole up to this size


def _whole_reader(wheel: WheelReader, member: object, display: str) -> Callable[[], ElfReader] | None:
    """Reading the member whole, for one whose tables lie in more places than re-reads cover (patchelf)."""
    if getattr(member, "size", WHOLE_BYTES + 1) > WHOLE_BYTES:
        return None
    return lambda: ElfReader(wheel.read_all(member), display)  # type: ignore[arg-type]


def _wheel_items(wheel: WheelReader, path: str, problems: list[InputError], jobs: int,
                 counter: list[int], skipped: list[str] | None, expect: Expect | None = None) -> Iterator[Artifact]:
    archive = Container(path, "wheel", metadata=wheel.metadata(problems), wheel=wheel.tags, files=wheel.elf_names)
    try:
        members = wheel.loaded(problems, jobs, skipped, expect)
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

            origin = Origin(display, archive, member.name, wheel=wheel.tags, shipped=wheel.shipped,
                            position=(0, member.index))
            yield elf_artifact(origin, reader, again, _whole_reader(wheel, member, display))
        for member, fmt in wheel.foreign_members:
            counter[0] += 1
            origin = Origin(wheel.display(member), archive, member.name, wheel=wheel.tags, shipped=wheel.shipped,
                            position=(0, member.index))
            yield foreign_member(origin, fmt, wheel, member)
    except InputError as exc:  # the archive itself became unreadable mid-scan
        problems.append(exc)
