"""Turn the paths a user gives into the ELF objects to check.

* a file: checked as ELF (a `.whl` file is opened as a wheel);
* a directory: searched recursively; ELF objects are found by their magic
  bytes, symlinks are never followed (so a scan never leaves the root), and
  relocatable `.o` files are left out since no loader ever sees them;
* a wheel: see `abicheck.inputs.wheel`.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator
from typing import NamedTuple

from abicheck.binary import Format
from abicheck.binary.elf import ELF_MAGIC, describe_non_elf, is_lfs_pointer
from abicheck.binary.macho import is_macho
from abicheck.binary.pe import is_pe
from abicheck.errors import InputError
from abicheck.inputs.variants import backends
from abicheck.policy.manylinux import satisfied_by_shipping


class FoundFile(NamedTuple):
    path: str  # as it is opened
    display: str  # as it is reported
    relocatable: bool = False  # an ELF object file (.o, ET_REL): never loaded by the loader
    relpath: str = ""  # inside the walked root, with posix separators
    format: Format = "elf"  # elf, macho (macOS) or pe (Windows)


# `_relu_cuda_ab12cd3.abi3.so`, `_name_cuda_7645816_dirty.abi3.so` (a build from a modified tree),
# `_relu_cuda_ab12cd3.pyd` on Windows: kernel builders name their ops libraries so, the whole name: an
# underscore, the kernel, the backend, a hexadecimal revision. `xla_rocm_plugin.so` and
# `libtorch_cuda_linalg.so` are not kernels.
_KERNEL_FILE = re.compile(r"_[A-Za-z0-9_]+?_(?P<backend>[a-z]+)_[0-9a-f]+(_dirty)?(?P<ext>(\.abi3)?\.so|\.pyd)")


def backend_from_filename(name: str, in_wheel: bool = False) -> str | None:
    """The backend a kernel builder's file name states (`_relu_cuda_ab12.abi3.so` -> cuda).

    In a wheel, only a stable-ABI extension (`.abi3.so`, `.pyd`) can be a kernel's ops library.
    """
    m = _KERNEL_FILE.fullmatch(os.path.basename(name))
    if m is None or (in_wheel and m.group("ext") == ".so"):
        return None

    return m.group("backend") if m.group("backend") in backends() else None


def object_format(head: bytes) -> Format | None:
    """"elf", "macho" or "pe" for the first bytes of an object abicheck reads; None for anything else."""
    if head[:4] == ELF_MAGIC:
        return "elf"

    if is_macho(head):
        return "macho"
    if is_pe(head) and len(head) >= 64:
        # An MZ file whose PE header offset is past the DOS header is a PE object: the reader says when that
        # offset leads nowhere (an input error, never a skipped non-object).
        offset = int.from_bytes(head[0x3C:0x40], "little")
        return "pe" if offset >= 64 else None
    return None


def kind_of(path: str) -> str:
    """"wheel", "dir" or "file"; raises InputError for a missing path."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputError("no such file or directory", path) from None
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), path) from None
    if stat.S_ISDIR(mode):
        return "dir"
    if not stat.S_ISREG(mode):  # a FIFO, socket or device would block or never end, even named x.whl
        raise InputError("not a regular file", path)
    if path.lower().endswith(".whl"):
        return "wheel"
    return "file"


def _head(path: str) -> bytes:
    """The first bytes of a regular file, opened so that a FIFO swapped in meanwhile cannot block."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return b""
        return f.read(64)


def _is_relocatable(head: bytes) -> bool:
    """e_type == ET_REL, read from the first 18 bytes in the file's byte order."""
    if len(head) < 18:
        return False
    return int.from_bytes(head[16:18], "big" if head[5] == 2 else "little") == 1


def looks_like_library(name: str) -> bool:
    """`libfoo.so`, `libfoo.so.1`: names a loader would open."""
    return name.endswith(".so") or ".so." in name


MAX_DEPTH = 512  # folders below the root a walk enters; deeper is reported, not walked (PATH_MAX allows ~2,000)


def walk_tree(root: str, onerror: Callable[[OSError], None] | None = None,
              too_deep: Callable[[str], None] | None = None) -> Iterator[tuple[str, list[str], list[str]]]:
    """os.walk's top-down (dirpath, dirnames, filenames), without recursing in Python's stack (os.walk does, in
    Python 3.11: a tree 1,200 levels deep raised RecursionError). Symlinks to folders are not entered; removing
    names from `dirnames` prunes them; a folder deeper than MAX_DEPTH is passed to `too_deep`, not entered."""
    stack: list[tuple[str, int]] = [(root, 0)]
    while stack:
        top, depth = stack.pop()
        dirs: list[str] = []
        files: list[str] = []
        try:
            with os.scandir(top) as entries:
                for entry in entries:
                    try:
                        is_dir = entry.is_dir(follow_symlinks=False)
                    except OSError:
                        is_dir = False
                    (dirs if is_dir else files).append(entry.name)
        except OSError as exc:
            if onerror is not None:
                onerror(exc)
            continue
        dirs.sort()
        yield top, dirs, files
        for name in reversed(dirs):  # reversed onto the stack: visited in sorted order
            path = os.path.join(top, name)
            if depth + 1 > MAX_DEPTH:
                if too_deep is not None:
                    too_deep(path)
                continue
            stack.append((path, depth + 1))


def walk_directory(root: str, problems: list[InputError], skipped: list[str] | None = None,
                   links: dict[str, str] | None = None,
                   exclude: frozenset[str] = frozenset(), skip_hidden: bool = False,
                   wheels: list[str] | None = None) -> tuple[list[FoundFile], frozenset[str]]:
    """Object files under `root`, and every file name present (the shipped names).

    A file is an object to check only when it starts with the ELF, Mach-O or
    PE magic (`FoundFile.format`); any
    other file is skipped (and listed in `skipped`), whatever its name, except
    a Git LFS pointer named like a library, which is a problem: the real
    object was never fetched. FIFOs, sockets and devices are skipped without
    being opened. Symlinks are not followed; with `links`, each one inside the
    root is recorded as root-relative link -> target. A directory the walk
    cannot read is a problem naming it. Folders in `exclude` are not entered, nor
    with `skip_hidden` those whose names start with a dot (.venv, .git). The
    wheels met (a dist/, a wheelhouse) are listed in `wheels`, to be checked
    as wheels; they are never skipped files.
    """
    found: list[FoundFile] = []
    names: set[str] = set()

    def unreadable(exc: OSError) -> None:  # a folder the walk cannot list: its objects would be lost
        problems.append(InputError(f"cannot read directory: {exc.strerror or exc}", exc.filename or root))

    def deep(path: str) -> None:
        problems.append(InputError(f"more than {MAX_DEPTH} folders deep: not checked below here", path))

    for dirpath, dirnames, filenames in walk_tree(root, unreadable, deep):
        dirnames.sort()
        if exclude or skip_hidden:
            dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in exclude
                           and not (skip_hidden and d.startswith("."))]
        for name in sorted(filenames):
            names.add(name)
            path = os.path.join(dirpath, name)
            try:
                mode = os.lstat(path).st_mode
                if stat.S_ISLNK(mode):
                    real = os.path.realpath(path)
                    inside = real.startswith(os.path.realpath(root).rstrip(os.sep) + os.sep)
                    if inside:
                        if links is not None:
                            target = os.path.relpath(real, os.path.realpath(root))
                            links[os.path.relpath(path, root).replace(os.sep, "/")] = target.replace(os.sep, "/")
                        continue  # the file it points to is scanned where it lives
                    # A link out of the tree: what it names is checked here, under the link's path, once.
                    mode = os.stat(path).st_mode  # follows it; a dangling or looping link is an OSError
                if not stat.S_ISREG(mode):  # FIFOs, sockets, devices: reading them could block forever
                    if skipped is not None:
                        skipped.append(path)
                    continue
                if name.endswith(".whl"):
                    if wheels is not None:
                        wheels.append(path)
                    continue
                head = _head(path)
            except OSError as exc:
                problems.append(InputError(exc.strerror or str(exc), path))
                continue
            fmt = object_format(head)
            if fmt is not None:
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                found.append(FoundFile(path, path, fmt == "elf" and _is_relocatable(head), rel, fmt))
            elif looks_like_library(name) and is_lfs_pointer(head):
                problems.append(InputError(describe_non_elf(head), path))
            elif skipped is not None:
                skipped.append(path)
    return found, frozenset(n for n in names if satisfied_by_shipping(n))


def iter_paths(paths: list[str]) -> Iterator[tuple[str, str | InputError]]:
    """(path, kind) for each given path, or (path, error) when it is unusable."""
    for path in paths:
        try:
            yield path, kind_of(path)
        except InputError as exc:
            yield path, exc
