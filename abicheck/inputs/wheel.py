"""Wheels: file-name tags, and ELF members read straight from the zip.

A wheel is never extracted to disk: members are streamed through inflate and
only the bytes the ELF reader needs are kept (see `abicheck.inputs.stream`), by a
small pool of threads (inflate releases the GIL).
"""

from __future__ import annotations

import heapq
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise
from types import MappingProxyType
from typing import NamedTuple

from abicheck.binary import Format
from abicheck.binary.elf import describe_non_elf, is_lfs_pointer
from abicheck.errors import InputError
from abicheck.inputs.paths import looks_like_library, object_format
from abicheck.inputs.stream import HEAD_BYTES, OUT_STEP, MemberStream, peek
from abicheck.inputs.workshare import WorkShare
from abicheck.policy.manylinux import Policy, policy_for_tag, satisfied_by_shipping, tag_arch

# A member bigger than this uncompressed is refused rather than inflated; the
# largest real objects (libtorch_cuda.so) are about 1.5 GiB.
MAX_MEMBER_BYTES = 4 << 30
# Refuse archives whose members claim absurd expansion ratios (zip bombs); the
# ratio is verified again while inflating (abicheck.inputs.stream).
MAX_RATIO = 1000
# What the members inflating at once, and their results waiting to be checked, may
# keep in memory together (the head each keeps, and the chunk it inflates into);
# a member bigger than that runs alone.
MEMORY_BUDGET = 128 << 20
# METADATA is text of a few kilobytes; anything this big is not one.
MAX_METADATA_BYTES = 1 << 20
# zipfile keeps about 600 bytes per entry: a million entries is 600 MB before anything is read. The
# biggest real wheels hold 10,000-20,000 (torch 2.13: 12,248; tensorflow-cpu 2.21: 15,632).
MAX_ENTRIES = 1 << 18


def _entry_count(path: str) -> int | None:
    """The entry count the zip's end record declares (zip64's when it defers to it), or None if not found."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            tail_size = min(size, 22 + 65535)  # the end record, and a comment of at most 64 KiB after it
            f.seek(size - tail_size)
            tail = f.read(tail_size)
            at = tail.rfind(b"PK\x05\x06")
            if at < 0 or at + 22 > len(tail):
                return None
            count = int.from_bytes(tail[at + 10:at + 12], "little")
            locator = at - 20
            if count == 0xFFFF and locator >= 0 and tail[locator:locator + 4] == b"PK\x06\x07":
                f.seek(int.from_bytes(tail[locator + 8:locator + 16], "little"))
                record = f.read(56)
                if record[:4] == b"PK\x06\x06" and len(record) == 56:
                    count = int.from_bytes(record[32:40], "little")
            return count
    except OSError:
        return None  # zipfile says what is wrong


class WheelTags(NamedTuple):
    """What a wheel's file name claims."""

    name: str | None
    platforms: tuple[str, ...]
    abi3: bool
    claims: Mapping[str, Policy] = MappingProxyType({})  # arch -> oldest claimed policy
    abi3_python: tuple[int, int] | None = None  # cp39-abi3 -> (3, 9)
    pythons: tuple[str, ...] = ()  # interpreters of its version-specific tags (cp311); none for py3 or abi3

    @property
    def arches(self) -> tuple[str, ...]:
        return tuple(self.claims)


def parse_wheel_name(filename: str) -> WheelTags:
    """Parse `pkg-1.0-cp311-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl`."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename  # noqa: PLC0415 - packaging costs ~20 ms at import: loaded only when used

    try:
        name, _version, _build, tags = parse_wheel_filename(os.path.basename(filename))
    except InvalidWheelFilename:
        return WheelTags(name=None, platforms=(), abi3=False)
    platforms = tuple(sorted({t.platform for t in tags}))
    claims: dict[str, Policy] = {}
    for platform in platforms:
        policy = policy_for_tag(platform)
        arch = tag_arch(platform)
        if policy is None or arch is None:
            continue
        current = claims.get(arch)
        if current is None or (current.family == policy.family and policy.priority > current.priority):
            claims[arch] = policy
    minimums = [(int(t.interpreter[2]), int(t.interpreter[3:])) for t in tags
                if t.abi == "abi3" and t.interpreter.startswith("cp") and t.interpreter[2:].isdigit()
                and len(t.interpreter) > 3]
    pythons = tuple(sorted({t.interpreter for t in tags if t.abi not in ("abi3", "none")}))
    return WheelTags(name=str(name), platforms=platforms, abi3=any(t.abi == "abi3" for t in tags),
                     claims=claims, abi3_python=min(minimums) if minimums else None, pythons=pythons)


@dataclass
class Member:
    """One file inside a wheel."""

    name: str
    size: int
    info: zipfile.ZipInfo
    index: int  # its place among the wheel's files, in archive order


class WheelReader:
    """An open wheel; use as a context manager."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.tags = parse_wheel_name(path)
        count = _entry_count(path)
        if count is not None and count > MAX_ENTRIES:
            raise InputError(f"a wheel of {count} entries, over the {MAX_ENTRIES} abicheck reads (the biggest "
                             "real wheels hold about 16,000)", path)
        try:
            self._zip = zipfile.ZipFile(path)
            infos = self._zip.infolist()
        except FileNotFoundError:
            raise InputError("no such file", path) from None
        except IsADirectoryError:
            raise InputError("is a directory, not a wheel", path) from None
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
                NotImplementedError) as exc:  # NotImplementedError: a "version needed" zipfile lacks
            raise InputError(f"not a readable wheel (corrupt or not a zip archive: {exc})", path) from None
        self._check_layout(infos)  # first: ZipInfo.is_dir() fails on an empty name
        self.members = [Member(i.filename, i.file_size, i, n)
                        for n, i in enumerate(i for i in infos if not i.is_dir())]
        # Every name the wheel ships satisfies a NEEDED entry of the same name.
        names = (os.path.basename(m.name) for m in self.members)
        self.shipped = frozenset(n for n in names if satisfied_by_shipping(n))
        self.elf_names: set[str] = set()  # filled as elf_members() finds them
        self.foreign_members: list[tuple[Member, Format]] = []  # Mach-O and PE members, with their format

    def metadata(self, problems: list[InputError]) -> str | None:
        """The text of the wheel's `*.dist-info/METADATA`, or None (a problem when unreadable)."""
        for member in self.members:
            head, _, tail = member.name.partition("/")
            if tail == "METADATA" and head.endswith(".dist-info"):
                if member.size > MAX_METADATA_BYTES:
                    problems.append(InputError(f"METADATA is {member.size} bytes, over the "
                                               f"{MAX_METADATA_BYTES >> 20} MiB limit", self.display(member)))
                    return None
                try:
                    with self._zip.open(member.info) as f:
                        return f.read(MAX_METADATA_BYTES).decode("utf-8", "replace")
                except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError,
                        RuntimeError) as exc:
                    problems.append(InputError(f"cannot read METADATA: {exc}", self.display(member)))
                    return None
        return None

    def _check_layout(self, infos: list[zipfile.ZipInfo]) -> None:
        """Members must not overlap, nor have empty names: both are zip-bomb or fuzzing constructions."""
        if any(not i.filename or i.filename.startswith("/") for i in infos):
            self._zip.close()
            raise InputError("not a readable wheel: a member has an empty or absolute name", self.path)
        spans = sorted((i.header_offset, i.header_offset + 30 + i.compress_size) for i in infos)
        for (start, stop), (following, _end) in pairwise(spans):
            if following < stop or following == start:
                self._zip.close()
                raise InputError("not a readable wheel: members overlap (the zip-bomb construction)", self.path)

    def __enter__(self) -> WheelReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._zip.close()

    def display(self, member: Member) -> str:
        return f"{self.path}!{member.name}"

    def check_sizes(self, member: Member) -> None:
        """Refuse absurd members from their declared sizes alone, before inflating anything."""
        if member.size > MAX_MEMBER_BYTES:
            raise InputError(f"member is {member.size} bytes uncompressed, over the "
                             f"{MAX_MEMBER_BYTES >> 30} GiB limit", self.display(member))
        compressed = max(member.info.compress_size, 1)
        if member.size > 1 << 20 and member.size / compressed > MAX_RATIO:
            raise InputError(f"member expands {member.size // compressed}x; refusing a likely zip bomb",
                             self.display(member))

    def load(self, member: Member) -> LoadedMember:
        """Inflate what the ELF reader needs of one ELF member (safe in worker threads)."""

        label = self.display(member)
        try:
            self.check_sizes(member)
            data = MemberStream(self.path, member.info, label).read_sparse()
        except InputError as exc:
            return LoadedMember(member, None, exc)
        except OSError as exc:
            return LoadedMember(member, None, InputError(f"cannot read member: {exc.strerror or exc}", label))
        if isinstance(data, bytes):  # not ELF after all
            return LoadedMember(member, None, InputError(describe_non_elf(data), label))
        return LoadedMember(member, data, None)

    def read_all(self, member: Member) -> bytes:
        """The whole member (for --torch wheels, whose libraries are searched through and through)."""

        return MemberStream(self.path, member.info, self.display(member)).read_all(MAX_MEMBER_BYTES)

    def read_ranges(self, member: Member, extra: list[tuple[int, int]]) -> object:
        """Stream the member again keeping `extra` ranges too: for tables outside the kept head."""

        data = MemberStream(self.path, member.info, self.display(member)).read_sparse(extra=extra)
        if isinstance(data, bytes):
            raise InputError("member changed while it was read", self.display(member))
        return data

    def elf_members(self, problems: list[InputError], skipped: list[str] | None = None) -> list[Member]:
        """Members that start with the ELF magic. Others are skipped (listed in `skipped`), except
        a Git LFS pointer named like a library, which is a problem.

        One pass over the archive with one file handle, inflating a few bytes of each.
        """

        found = []
        try:
            f = open(self.path, "rb")
        except OSError as exc:
            raise InputError(exc.strerror or str(exc), self.path) from None
        with f:
            for member in self.members:
                label = self.display(member)
                if member.size < 4:
                    head = b""
                else:
                    try:
                        head = peek(f, member.info, label, 64)
                    except InputError as exc:
                        problems.append(exc)
                        continue
                    except OSError as exc:
                        problems.append(InputError(f"cannot read member: {exc.strerror or exc}", label))
                        continue
                fmt = object_format(head)
                if fmt == "elf":
                    found.append(member)
                    self.elf_names.add(member.name)
                elif fmt is not None:
                    self.foreign_members.append((member, fmt))
                elif looks_like_library(os.path.basename(member.name)) and is_lfs_pointer(head):
                    problems.append(InputError(describe_non_elf(head), label))
                elif skipped is not None:
                    skipped.append(label)
        return found

    def loaded(self, problems: list[InputError], jobs: int = 1, skipped: list[str] | None = None,
               expect: Callable[[int | None], None] | None = None) -> Iterator[LoadedMember]:
        """Every ELF member, inflated by `jobs` threads (this one included).

        With one job they come in archive order. With more they come as they
        finish, so callers that need archive order sort by `member.index`: the
        other threads inflate the biggest members first and this one the
        smallest (see `workshare`). The biggest member usually bounds the wall
        time (torch's libtorch_cpu.so is 70% of its wheel's ELF bytes), so it
        starts before the pass that finds the ELF members; if it turns out not to
        be ELF, that costs a single inflated chunk and its result is dropped.
        `expect`, when given, is told how many objects (ELF, Mach-O and PE) the
        wheel holds once the pass that finds them is done.
        """
        if jobs <= 1:
            found = self.elf_members(problems, skipped)
            if expect is not None:
                expect(len(found) + len(self.foreign_members))
            yield from (self.load(m) for m in found)
            return


        with WorkShare(self.load, lambda m: m.info.compress_size, workers=jobs - 1,
                       cost=lambda m: min(m.size, HEAD_BYTES) + OUT_STEP, budget=MEMORY_BUDGET) as share:
            early = heapq.nlargest(jobs - 1, (m for m in self.members if m.size >= 4),
                                   key=lambda m: m.info.compress_size)
            share.add(early)
            members = self.elf_members(problems, skipped)
            if expect is not None:
                expect(len(members) + len(self.foreign_members))
            elf = {m.index for m in members}
            started = {m.index for m in early}
            share.add(m for m in members if m.index not in started)
            share.close()
            for loaded in share.results():
                if loaded.member.index in elf:
                    yield loaded


@dataclass
class LoadedMember:
    """A member after loading: its kept bytes, a problem, or neither (not ELF)."""

    member: Member
    data: object  # SparseBuffer, or None
    problem: InputError | None
