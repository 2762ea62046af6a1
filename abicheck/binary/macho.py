"""A small Mach-O reader: what decides whether a macOS object loads.

For each architecture slice (a fat file has several): the CPU, the file
type, the minimum macOS (`LC_BUILD_VERSION`, or `LC_VERSION_MIN_MACOSX` in
older files), the dylibs it loads (`LC_LOAD_DYLIB` and kin), its `LC_RPATH`
entries, and, read only when asked, its undefined external symbols (through
`LC_DYSYMTAB`'s range of `LC_SYMTAB`).

Our own reader rather than macholib: it reads through the same bounded
buffers as the ELF reader (pread for files, kept ranges of a streamed wheel
member, `MissingBytes` to stream a member again), caps every count, and
turns anything malformed into one input error; macholib reads whole files
and raises whatever the bytes provoke.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from abicheck.binary.elf_model import Buffer
from abicheck.errors import InputError

MH_MAGIC, MH_MAGIC_64 = 0xFEEDFACE, 0xFEEDFACF
FAT_MAGIC, FAT_MAGIC_64 = 0xCAFEBABE, 0xCAFEBABF
MAX_COMMANDS = 4096
MAX_SLICES = 16  # real fat files hold 2-4; more is refused as malformed
JAVA_CLASS_COUNT = 45  # Java class files share the fat magic; their "count" (the class version) is 45 or more
MAX_UNDEFINED = 1 << 20

CPU_TYPES = {0x01000007: "x86_64", 0x0100000C: "aarch64", 7: "i686", 12: "arm", 0x0200000C: "arm64_32",
             18: "ppc", 0x01000012: "ppc64"}
FILE_TYPES = {1: "object", 2: "executable", 6: "dylib", 8: "bundle", 9: "dylib stub", 11: "kext"}
PLATFORMS = {1: "macos", 2: "ios", 3: "tvos", 4: "watchos", 6: "maccatalyst", 11: "visionos"}
LC_SEGMENT, LC_SYMTAB, LC_DYSYMTAB, LC_LOAD_DYLIB, LC_ID_DYLIB, LC_SEGMENT_64 = 0x1, 0x2, 0xB, 0xC, 0xD, 0x19
LC_LAZY_LOAD_DYLIB, LC_VERSION_MIN_MACOSX, LC_BUILD_VERSION = 0x20, 0x24, 0x32
LC_LOAD_WEAK_DYLIB, LC_RPATH, LC_REEXPORT_DYLIB, LC_LOAD_UPWARD_DYLIB = 0x80000018, 0x8000001C, 0x8000001F, 0x80000023
DYLIB_COMMANDS = {LC_LOAD_DYLIB: "load", LC_LOAD_WEAK_DYLIB: "weak", LC_REEXPORT_DYLIB: "reexport",
                  LC_LAZY_LOAD_DYLIB: "lazy", LC_LOAD_UPWARD_DYLIB: "upward"}


def is_macho(head: bytes) -> bool:
    """Whether `head` (at least 8 bytes) starts a Mach-O file, thin or fat."""
    if len(head) < 8:
        return False
    if struct.unpack("<I", head[:4])[0] in (MH_MAGIC, MH_MAGIC_64) or struct.unpack(
            ">I", head[:4])[0] in (MH_MAGIC, MH_MAGIC_64):
        return True
    magic, count = struct.unpack(">II", head[:8])
    # A count up to 44 cannot be a Java class file: it is a fat Mach-O, which the reader refuses when over
    # MAX_SLICES (an input error, never a skipped non-object).
    return magic in (FAT_MAGIC, FAT_MAGIC_64) and 0 < count < JAVA_CLASS_COUNT


def _version(value: int) -> str:
    """Mach-O's packed `xxxx.yy.zz` version."""
    major, minor, patch = value >> 16, (value >> 8) & 0xFF, value & 0xFF
    return f"{major}.{minor}" + (f".{patch}" if patch else "")


@dataclass
class MachOSlice:
    """One architecture of a Mach-O file."""

    arch: str  # x86_64, aarch64, ... or "cpu 0x..." when unknown
    file_type: str
    min_macos: str | None = None  # from LC_BUILD_VERSION (platform macOS) or LC_VERSION_MIN_MACOSX
    platform: str | None = None
    sdk: str | None = None
    install_name: str | None = None
    dylibs: list[tuple[str, str]] = field(default_factory=list)  # (path, load | weak | reexport | ...)
    rpaths: list[str] = field(default_factory=list)
    _symtab: tuple[int, int, int, int] | None = None  # symoff, nsyms, stroff, strsize (slice-relative)
    _undef: tuple[int, int] | None = None  # first index, count (LC_DYSYMTAB)
    _base: int = 0
    _is64: bool = True
    _endian: str = "<"


class MachOFile:
    """A thin or fat Mach-O file in a buffer (`buf[a:b]` slicing, `len(buf)`)."""

    def __init__(self, buf: Buffer, label: str) -> None:
        self._buf, self.label, self._size = buf, label, len(buf)
        self.fat = False
        self.slices: list[MachOSlice] = []
        head = self._read(0, 8)
        if struct.unpack(">I", head[:4])[0] in (FAT_MAGIC, FAT_MAGIC_64):
            self.fat = True
            wide = struct.unpack(">I", head[:4])[0] == FAT_MAGIC_64
            count = struct.unpack(">I", head[4:8])[0]
            if not 0 < count <= MAX_SLICES:
                raise self._fail(f"a fat header with {count} architectures, over the {MAX_SLICES} abicheck reads")
            entry = 32 if wide else 20
            for i in range(count):
                raw = self._read(8 + i * entry, entry)
                if wide:
                    _cpu, _sub, offset, size, _align, _res = struct.unpack(">iiQQII", raw)
                else:
                    _cpu, _sub, offset, size, _align = struct.unpack(">iiIII", raw)
                if offset + size > self._size or size < 28:
                    raise self._fail(f"architecture {i} runs past the end of the file")
                self.slices.append(self._slice(offset, size))
        else:
            self.slices.append(self._slice(0, self._size))

    def _fail(self, what: str) -> InputError:
        return InputError(f"malformed Mach-O: {what}", self.label)

    def _read(self, offset: int, size: int) -> bytes:
        if offset < 0 or size < 0 or offset + size > self._size:
            raise self._fail(f"{size} bytes at offset {offset} run past the end of the file ({self._size} bytes)")
        data = self._buf[offset:offset + size]
        if len(data) != size:
            raise self._fail(f"short read at offset {offset}")
        return bytes(data)

    def _slice(self, base: int, size: int) -> MachOSlice:
        raw = self._read(base, 4)
        if struct.unpack("<I", raw)[0] in (MH_MAGIC, MH_MAGIC_64):
            endian = "<"
        elif struct.unpack(">I", raw)[0] in (MH_MAGIC, MH_MAGIC_64):
            endian = ">"
        else:
            raise self._fail(f"no Mach-O header at offset {base}")
        magic, cpu, _sub, ftype, ncmds, sizeofcmds, _flags = struct.unpack(endian + "IiiIIII", self._read(base, 28))
        is64 = magic == MH_MAGIC_64
        if ncmds > MAX_COMMANDS:
            raise self._fail(f"{ncmds} load commands")
        found = MachOSlice(arch=CPU_TYPES.get(cpu & 0xFFFFFFFF, f"cpu 0x{cpu & 0xFFFFFFFF:x}"),
                           file_type=FILE_TYPES.get(ftype, f"type {ftype}"), _base=base, _is64=is64,
                           _endian=endian)
        start = base + (32 if is64 else 28)
        commands = self._read(start, sizeofcmds)
        size_limit = size
        at = 0
        for _ in range(ncmds):
            if at + 8 > len(commands):
                raise self._fail("load commands run past sizeofcmds")
            cmd, size = struct.unpack_from(endian + "II", commands, at)
            if size < 8 or at + size > len(commands):
                raise self._fail(f"load command {cmd:#x} of {size} bytes")
            self._command(found, cmd, commands[at:at + size], endian, size_limit)
            at += size
        return found

    def _command(self, s: MachOSlice, cmd: int, body: bytes, e: str, limit: int) -> None:
        def string(offset: int) -> str:
            if not 8 <= offset < len(body):
                raise self._fail(f"load command {cmd:#x} names a string outside itself")
            return body[offset:].split(b"\0", 1)[0].decode("utf-8", "replace")

        def need(size: int) -> None:
            if len(body) < size:
                raise self._fail(f"load command {cmd:#x} is {len(body)} bytes, under {size}")

        if cmd in (LC_SEGMENT, LC_SEGMENT_64):
            need(48 if cmd == LC_SEGMENT else 72)
            fileoff, filesize = struct.unpack_from(e + ("II" if cmd == LC_SEGMENT else "QQ"), body,
                                                   32 if cmd == LC_SEGMENT else 40)
            if fileoff + filesize > limit:  # dyld refuses it: "truncated or malformed object"
                raise self._fail(f"a segment ends at byte {fileoff + filesize}, past the end of the "
                                 f"{'slice' if self.fat else 'file'} ({limit} bytes): truncated?")
        elif cmd in DYLIB_COMMANDS:
            need(12)
            s.dylibs.append((string(struct.unpack_from(e + "I", body, 8)[0]), DYLIB_COMMANDS[cmd]))
        elif cmd == LC_ID_DYLIB:
            need(12)
            s.install_name = string(struct.unpack_from(e + "I", body, 8)[0])
        elif cmd == LC_RPATH:
            need(12)
            s.rpaths.append(string(struct.unpack_from(e + "I", body, 8)[0]))
        elif cmd == LC_BUILD_VERSION:
            need(16)
            platform, minos, sdk = struct.unpack_from(e + "III", body, 8)
            s.platform = PLATFORMS.get(platform, f"platform {platform}")
            if platform == 1 or s.min_macos is None:
                s.min_macos, s.sdk = (_version(minos), _version(sdk)) if platform == 1 else (None, None)
        elif cmd == LC_VERSION_MIN_MACOSX:
            need(16)
            version, sdk = struct.unpack_from(e + "II", body, 8)
            s.platform, s.min_macos, s.sdk = "macos", _version(version), _version(sdk)
        elif cmd == LC_SYMTAB:
            need(24)
            s._symtab = struct.unpack_from(e + "IIII", body, 8)
        elif cmd == LC_DYSYMTAB:
            need(32)
            _il, _nl, _ie, _ne, iundef, nundef = struct.unpack_from(e + "IIIIII", body, 8)
            s._undef = (iundef, nundef)

    def undefined(self, s: MachOSlice) -> list[tuple[str, str | None]]:
        """The slice's undefined external symbols, as written (`_PyList_New`: C names carry a leading `_`).

        Each with the dylib its two-level namespace ordinal names, or None (flat
        or dynamic lookup: the interpreter's symbols in an extension).
        """
        if s._symtab is None:
            return []
        symoff, nsyms, stroff, strsize = s._symtab
        first, count = s._undef if s._undef is not None else (0, nsyms)
        if first + count > nsyms or count > MAX_UNDEFINED:
            raise self._fail(f"{count} undefined symbols from index {first} of {nsyms}")
        entry = 16 if s._is64 else 12
        table = self._read(s._base + symoff + first * entry, count * entry)
        strings = self._read(s._base + stroff, strsize)
        fmt = struct.Struct(s._endian + ("IBBHQ" if s._is64 else "IBBHI"))
        out = []
        for strx, ntype, _sect, desc, _value in fmt.iter_unpack(table):
            if ntype & 0xE0 or ntype & 0x0E != 0 or not ntype & 0x01:
                continue  # debugging entries, defined symbols, non-external ones
            if strx >= strsize:
                raise self._fail(f"string offset {strx} is outside the string table")
            end = strings.find(b"\0", strx)
            ordinal = (desc >> 8) & 0xFF
            library = s.dylibs[ordinal - 1][0] if 0 < ordinal <= len(s.dylibs) else None
            out.append((strings[strx:end if end >= 0 else strsize].decode("utf-8", "replace"), library))
        return out
