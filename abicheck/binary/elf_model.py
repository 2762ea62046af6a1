"""The facts the ELF reader produces, and the ELF constants it reads them with.

Plain data with no parsing: `ElfFacts` (the cheap facts of one object),
`VersionNeed` (one `.gnu.version_r` entry) and `Symbol` (one `.dynsym` entry
with its version resolved), the architecture names wheel tags use, and the
one-line reason a file is not ELF.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple, Protocol, Union


class ByteSource(Protocol):
    """What the readers need of a file's bytes: its length, slices and `find` (a pread file, a streamed member)."""

    def __len__(self) -> int: ...
    def __getitem__(self, key: slice, /) -> bytes: ...
    def find(self, sub: bytes, start: int, end: int, /) -> int: ...


Buffer = Union[bytes, bytearray, ByteSource]

ELF_MAGIC = b"\x7fELF"

PT_LOAD, PT_DYNAMIC, PT_INTERP, PT_NOTE = 1, 2, 3, 4
PT_GNU_PROPERTY = 0x6474E553
NT_GNU_PROPERTY_TYPE_0 = 5
GNU_PROPERTY_X86_ISA_1_NEEDED = 0xC0008002  # a bit mask: 1 baseline, 2 x86-64-v2, 4 v3, 8 v4
PN_XNUM = 0xFFFF

DT_NULL, DT_NEEDED, DT_HASH, DT_STRTAB, DT_SYMTAB = 0, 1, 4, 5, 6
DT_STRSZ, DT_SYMENT, DT_SONAME, DT_RPATH, DT_RUNPATH = 10, 11, 14, 15, 29
DT_GNU_HASH = 0x6FFFFEF5
DT_VERSYM = 0x6FFFFFF0
DT_VERDEF, DT_VERDEFNUM = 0x6FFFFFFC, 0x6FFFFFFD
DT_VERNEED, DT_VERNEEDNUM = 0x6FFFFFFE, 0x6FFFFFFF

VER_FLG_WEAK = 0x2
VERSYM_HIDDEN = 0x8000
VERSYM_INDEX = 0x7FFF
SHN_UNDEF = 0

# Generous caps: no real file comes near them, a hostile one cannot make a
# loop run longer than these.
MAX_DYNAMIC_ENTRIES = 1 << 16
MAX_VERSION_ENTRIES = 1 << 16
MAX_SYMBOLS = 1 << 24

ELF_TYPES = {0: "NONE", 1: "REL", 2: "EXEC", 3: "DYN", 4: "CORE"}

# (e_machine, class, endianness) -> the architecture name wheel tags use.
_ARCHES: dict[tuple[int, int, str], str] = {
    (62, 64, "little"): "x86_64",
    (3, 32, "little"): "i686",
    (183, 64, "little"): "aarch64",
    (40, 32, "little"): "armv7l",
    (21, 64, "little"): "ppc64le",
    (21, 64, "big"): "ppc64",
    (20, 32, "big"): "ppc",
    (22, 64, "big"): "s390x",
    (243, 64, "little"): "riscv64",
    (243, 32, "little"): "riscv32",
    (258, 64, "little"): "loongarch64",
    (8, 32, "big"): "mips",
    (8, 32, "little"): "mipsel",
    (8, 64, "big"): "mips64",
    (8, 64, "little"): "mips64el",
}
ARCH_SIGNATURES: dict[str, tuple[int, int, str]] = {v: k for k, v in _ARCHES.items()}

MACHINE_NAMES = {
    3: "Intel 80386", 8: "MIPS", 20: "PowerPC", 21: "PowerPC64", 22: "IBM S/390",
    40: "ARM", 62: "x86-64", 183: "AArch64", 243: "RISC-V", 258: "LoongArch",
}

_LINKER_SCRIPT_WORDS = (b"/*", b"GROUP", b"INPUT", b"OUTPUT_FORMAT", b"SEARCH_DIR", b"AS_NEEDED")


class VersionNeed(NamedTuple):
    """One entry of `.gnu.version_r`: `library` must provide `version`."""

    library: str
    version: str
    weak: bool
    versym: int  # vna_other: the `.gnu.version` value that refers to this need


class Symbol(NamedTuple):
    """A `.dynsym` entry with its version resolved."""

    name: str
    version: str | None
    library: str | None  # for imports, the library whose version need names it
    kind: str  # func, object, tls, notype, ...
    binding: str  # global, weak, local, gnu_unique
    defined: bool
    size: int
    hidden: bool  # the version is not the default one (`name@VER`, not `@@`)

    @property
    def display(self) -> str:
        return f"{self.name}@{self.version}" if self.version else self.name


class ElfFacts(NamedTuple):
    """The cheap facts of one ELF object; all that most rules need."""

    elf_class: int  # 32 or 64
    endian: str  # "little" or "big"
    machine: int
    type: str  # EXEC, DYN, REL, CORE
    interpreter: str | None
    needed: tuple[str, ...]
    soname: str | None
    rpath: tuple[str, ...]
    runpath: tuple[str, ...]
    version_needs: tuple[VersionNeed, ...]
    has_dynamic: bool

    @property
    def arch(self) -> str | None:
        """The wheel-tag architecture name, or None for an unusual machine."""
        return _ARCHES.get((self.machine, self.elf_class, self.endian))

    @property
    def machine_description(self) -> str:
        name = MACHINE_NAMES.get(self.machine, f"machine {self.machine}")
        return f"{name}, {self.elf_class}-bit {self.endian}-endian"


LFS_POINTER = b"version https://git-lfs"


def is_musl(facts: ElfFacts) -> bool:
    """musl's C library (`libc.musl-x86_64.so.1`, or `libc.so` as musl's linker names it) or loader."""
    return (any(n == "libc.so" or n.startswith("libc.musl-") for n in facts.needed)
            or bool(facts.interpreter and "ld-musl" in facts.interpreter))


def is_lfs_pointer(head: bytes) -> bool:
    """True for the text file Git LFS leaves in place of an object it has not fetched."""
    return head.startswith(LFS_POINTER)


def describe_non_elf(head: bytes) -> str:
    """The one-line reason why a file starting with `head` is not ELF."""
    if not head:
        return "empty file, not an ELF object"
    stripped = head.lstrip()
    if stripped.startswith(_LINKER_SCRIPT_WORDS):
        return "a linker script, not an ELF object (only the linker can read it; check the library it names)"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive, not an ELF object (name it .whl to check it as a wheel)"
    if is_lfs_pointer(head):
        return "a Git LFS pointer, not the object itself: run git lfs pull"
    if head.startswith(b"!<arch>"):
        return "a static archive (.a), not a shared object"
    return "not an ELF file (bad magic bytes)"



SYMBOL_KINDS = {0: "notype", 1: "object", 2: "func", 3: "section", 4: "file", 5: "common", 6: "tls",
                 10: "ifunc"}
SYMBOL_BINDINGS = {0: "local", 1: "global", 2: "weak", 10: "gnu_unique"}


def split_paths(values: Iterator[str]) -> tuple[str, ...]:
    return tuple(p for value in values for p in value.split(":") if p)


def is_elf(head: bytes) -> bool:
    """True when `head` (the first bytes of a file) starts with the ELF magic."""
    return head[:4] == ELF_MAGIC
