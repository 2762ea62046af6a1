"""A small Mach-O reader: what decides whether a macOS object loads.

For each architecture slice (a fat file has several): the CPU, the file
type, the minimum macOS (`LC_BUILD_VERSION`, or `LC_VERSION_MIN_MACOSX` in
older files), the dylibs it loads (`LC_LOAD_DYLIB` and kin), its `LC_RPATH`
entries, and, read only when asked, its undefined external symbols (through
`LC_DYSYMTAB`'s range of `LC_SYMTAB`) and what it exports (the export trie
dyld binds against, `LC_DYLD_EXPORTS_TRIE` or `LC_DYLD_INFO`; the symbol
table's external definitions in files that have no trie).

Our own reader rather than macholib: it reads through the same bounded
buffers as the ELF reader (pread for files, kept ranges of a streamed wheel
member, `MissingBytes` to stream a member again), caps every count, and
turns anything malformed into one input error; macholib reads whole files
and raises whatever the bytes provoke.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import NamedTuple

from abicheck.binary.elf_model import Buffer
from abicheck.errors import InputError

MH_MAGIC, MH_MAGIC_64 = 0xFEEDFACE, 0xFEEDFACF
FAT_MAGIC, FAT_MAGIC_64 = 0xCAFEBABE, 0xCAFEBABF
MAX_COMMANDS = 4096
MAX_SLICES = 16  # real fat files hold 2-4; more is refused as malformed
JAVA_CLASS_COUNT = 45  # Java class files share the fat magic; their "count" (the class version) is 45 or more
MAX_UNDEFINED = 1 << 20
MAX_EXPORTS = 1 << 20
MAX_TRIE = 64 << 20  # bytes of export trie read at once (libtorch_cpu.dylib's is a few MB)
MAX_NAME = 1 << 16  # bytes of one symbol name
WHOLE_STRINGS = 128 << 20  # a string table up to this size is read at once; a larger one name by name
MAX_SECTIONS = 1 << 12

CPU_TYPES = {0x01000007: "x86_64", 0x0100000C: "aarch64", 7: "i686", 12: "arm", 0x0200000C: "arm64_32",
             18: "ppc", 0x01000012: "ppc64"}
FILE_TYPES = {1: "object", 2: "executable", 6: "dylib", 8: "bundle", 9: "dylib stub", 11: "kext"}
PLATFORMS = {1: "macos", 2: "ios", 3: "tvos", 4: "watchos", 6: "maccatalyst", 11: "visionos"}
LC_SEGMENT, LC_SYMTAB, LC_DYSYMTAB, LC_LOAD_DYLIB, LC_ID_DYLIB, LC_SEGMENT_64 = 0x1, 0x2, 0xB, 0xC, 0xD, 0x19
LC_LAZY_LOAD_DYLIB, LC_VERSION_MIN_MACOSX, LC_BUILD_VERSION = 0x20, 0x24, 0x32
LC_DYLD_INFO, LC_DYLD_INFO_ONLY, LC_DYLD_EXPORTS_TRIE = 0x22, 0x80000022, 0x80000033
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


class MachOExport(NamedTuple):
    """One name a dylib exports: `_answer` as written (C names carry a leading `_`)."""

    name: str
    kind: str  # func, object, tls
    weak: bool


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
    _extdef: tuple[int, int] | None = None  # first index, count of the external definitions (LC_DYSYMTAB)
    _trie: tuple[int, int] | None = None  # offset, size of the export trie (slice-relative)
    _image_base: int = 0  # __TEXT's address: trie addresses are relative to it
    _sections: list[tuple[int, int, int]] = field(default_factory=list)  # (address, size, flags), 1-based order
    _strings: bytes | None = None  # the string table, once read whole
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
            wide = cmd == LC_SEGMENT_64
            if body[8:24].split(b"\0", 1)[0] == b"__TEXT":
                s._image_base = struct.unpack_from(e + ("Q" if wide else "I"), body, 24)[0]
            first, entry = (72, 80) if wide else (56, 68)
            nsects = struct.unpack_from(e + "I", body, 64 if wide else 48)[0]
            if len(s._sections) + nsects > MAX_SECTIONS:
                raise self._fail(f"more than {MAX_SECTIONS} sections")
            need(first + nsects * entry)
            for i in range(nsects):
                at = first + i * entry
                addr, size = struct.unpack_from(e + ("QQ" if wide else "II"), body, at + 32)
                flags = struct.unpack_from(e + "I", body, at + (64 if wide else 56))[0]
                s._sections.append((addr, size, flags))
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
            _il, _nl, iextdef, nextdef, iundef, nundef = struct.unpack_from(e + "IIIIII", body, 8)
            s._undef, s._extdef = (iundef, nundef), (iextdef, nextdef)
        elif cmd in (LC_DYLD_INFO, LC_DYLD_INFO_ONLY):
            need(48)
            offset, size = struct.unpack_from(e + "II", body, 40)
            if size:
                s._trie = (offset, size)
        elif cmd == LC_DYLD_EXPORTS_TRIE:
            need(16)
            s._trie = struct.unpack_from(e + "II", body, 8)

    def undefined(self, s: MachOSlice) -> list[tuple[str, str | None]]:
        """The slice's undefined external symbols, as written (`_PyList_New`: C names carry a leading `_`).

        Each with the dylib its two-level namespace ordinal names, or None (flat
        or dynamic lookup: the interpreter's symbols in an extension).
        """
        out = []
        for strx, ntype, _sect, desc, _value in self._entries(s, s._undef, MAX_UNDEFINED, "undefined"):
            if ntype & 0xE0 or ntype & 0x0E != 0 or not ntype & 0x01:
                continue  # debugging entries, defined symbols, non-external ones
            ordinal = (desc >> 8) & 0xFF
            library = s.dylibs[ordinal - 1][0] if 0 < ordinal <= len(s.dylibs) else None
            out.append((self._name(s, strx), library))
        return out

    def _entries(self, s: MachOSlice, span: tuple[int, int] | None, cap: int,
                 what: str) -> list[tuple[int, int, int, int, int]]:
        """The symbol table entries of `span` (first index, count: LC_DYSYMTAB's range of `what` symbols; the
        whole table without one), each (strx, type, section, desc, value); none without a symbol table."""
        if s._symtab is None:
            return []
        nsyms = s._symtab[1]
        first, count = span if span is not None else (0, nsyms)
        if first + count > nsyms or count > cap:
            raise self._fail(f"{count} {what} symbols from index {first} of {nsyms}")
        entry = 16 if s._is64 else 12
        table = self._read(s._base + s._symtab[0] + first * entry, count * entry)
        return list(struct.Struct(s._endian + ("IBBHQ" if s._is64 else "IBBHI")).iter_unpack(table))

    def _name(self, s: MachOSlice, strx: int) -> str:
        """The string at `strx` of the string table.

        A table up to WHOLE_STRINGS is read once (one range, so a streamed
        member is streamed again once at most); a larger one, name by name.
        """
        assert s._symtab is not None
        _symoff, _nsyms, stroff, strsize = s._symtab
        if strx >= strsize:
            raise self._fail(f"string offset {strx} is outside the string table")
        if strsize <= WHOLE_STRINGS:
            if s._strings is None:
                s._strings = self._read(s._base + stroff, strsize)
            end = s._strings.find(b"\0", strx, strx + MAX_NAME)
            return s._strings[strx:end if end >= 0 else min(strsize, strx + MAX_NAME)].decode("utf-8", "replace")
        return self._cstring(s._base + stroff + strx, min(strsize - strx, MAX_NAME))

    def _cstring(self, offset: int, limit: int) -> str:
        """A NUL-ended string at `offset` of at most `limit` bytes, read 256 bytes at a time."""
        text = b""
        while len(text) < limit:
            chunk = self._read(offset + len(text), min(256, limit - len(text)))
            end = chunk.find(b"\0")
            if end >= 0:
                return (text + chunk[:end]).decode("utf-8", "replace")
            text += chunk
        return text.decode("utf-8", "replace")

    def exported(self, s: MachOSlice) -> list[MachOExport]:
        """What the slice exports, as dyld sees it: the export trie, else the symbol table's definitions.

        Kinds: `tls` for thread-local entries, `func` for addresses in sections
        holding instructions and for re-exports and resolvers (whose kind the
        file does not say), `object` for the rest.
        """
        if s._trie is not None:
            return self._trie_exports(s)
        out = []
        for strx, ntype, sect, desc, _value in self._entries(s, s._extdef, MAX_EXPORTS, "defined"):
            if ntype & 0xF1 != 0x01 or ntype & 0x0E not in (0x0E, 0x02):
                continue  # debugging, private or non-external entries; only section and absolute definitions
            kind = self._section_kind(s, sect) if ntype & 0x0E == 0x0E else "object"
            out.append(MachOExport(self._name(s, strx), kind, bool(desc & 0x80)))  # N_WEAK_DEF
        return out

    def _section_kind(self, s: MachOSlice, number: int) -> str:
        if not 0 < number <= len(s._sections):
            raise self._fail(f"a symbol in section {number} of {len(s._sections)}")
        flags = s._sections[number - 1][2]
        if flags & 0xFF in (0x11, 0x12, 0x13, 0x14, 0x15):  # S_THREAD_LOCAL_*
            return "tls"
        return "func" if flags & 0x80000400 else "object"  # S_ATTR_PURE_INSTRUCTIONS, S_ATTR_SOME_INSTRUCTIONS

    def _trie_exports(self, s: MachOSlice) -> list[MachOExport]:
        assert s._trie is not None
        offset, size = s._trie
        if size > MAX_TRIE:
            raise self._fail(f"an export trie of {size} bytes, over the {MAX_TRIE} abicheck reads")
        trie = self._read(s._base + offset, size)

        def uleb(at: int) -> tuple[int, int]:
            value = shift = 0
            while True:
                if at >= size or shift > 63:
                    raise self._fail("the export trie holds a number that does not end")
                byte = trie[at]
                value |= (byte & 0x7F) << shift
                at, shift = at + 1, shift + 7
                if not byte & 0x80:
                    return value, at

        out: list[MachOExport] = []
        seen: set[int] = set()
        stack: list[tuple[int, bytes]] = [(0, b"")]
        while stack:
            node, prefix = stack.pop()
            # A node reached twice (a loop, or shared children that would multiply the walk) or outside the
            # trie is malformed: linkers write a tree.
            if node in seen or node >= size:
                raise self._fail(f"the export trie loops or leaves itself at offset {node}")
            seen.add(node)
            terminal, at = uleb(node)
            children = at + terminal
            if terminal:
                flags, at = uleb(at)
                kind = "tls" if flags & 0x03 == 0x01 else "func"
                if not flags & 0x18:  # neither a re-export nor a stub with a resolver: an address
                    address, at = uleb(at)
                    if kind != "tls":
                        kind = self._kind_at(s, s._image_base + address)
                out.append(MachOExport(prefix.decode("utf-8", "replace"), kind, bool(flags & 0x04)))
                if len(out) > MAX_EXPORTS:
                    raise self._fail(f"more than {MAX_EXPORTS} exports")
            if children >= size:
                raise self._fail(f"an export trie node at offset {node} runs past the trie")
            at = children + 1
            for _ in range(trie[children]):
                end = trie.find(b"\0", at)
                if end < 0 or len(prefix) + end - at > MAX_NAME:
                    raise self._fail(f"an export trie edge at offset {at} does not end")
                child, next_at = uleb(end + 1)
                stack.append((child, prefix + trie[at:end]))
                at = next_at
        return sorted(out, key=lambda x: x.name)

    def _kind_at(self, s: MachOSlice, address: int) -> str:
        for number, (start, length, _flags) in enumerate(s._sections, 1):
            if start <= address < start + length:
                return self._section_kind(s, number)
        return "object"  # outside every section: absolute (`__mh_dylib_header` and the like)
