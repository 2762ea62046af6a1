"""Stage 2, binary facts: read what the loader reads from each object.

`elf` is the one ELF reader (program headers and PT_DYNAMIC, never the
section headers unless nothing else is there); `macho` and `pe` read macOS and
Windows objects; `exports` keeps a library's lookup tables; `demangle` shows
C++ names.
"""

from typing import Literal, get_args

Format = Literal["elf", "macho", "pe"]
FORMATS: tuple[str, ...] = get_args(Format)
