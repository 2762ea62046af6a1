"""Stage 2, binary facts: read what the dynamic loader reads from each object.

`elf` is the one ELF reader (program headers and PT_DYNAMIC, never the
section headers unless nothing else is there); `demangle` shows C++ names.
"""
