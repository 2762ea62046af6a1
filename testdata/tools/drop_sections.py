"""Write a section-less twin of an ELF file, as `sstrip` does.

Everything after the last loadable segment (the section headers and the
non-loaded sections) is cut off and the section header fields are zeroed, so
only the program headers describe the file. Usage: drop_sections.py IN OUT
"""

import struct
import sys


def main(src: str, dst: str) -> None:
    data = bytearray(open(src, "rb").read())
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "64-bit LE only"
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    end = 0
    for i in range(phnum):
        p_type, _flags, p_offset, _va, _pa, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + i * phentsize)
        if p_type == 1:  # PT_LOAD
            end = max(end, p_offset + p_filesz)
    del data[end:]
    struct.pack_into("<Q", data, 0x28, 0)  # e_shoff
    struct.pack_into("<HHH", data, 0x3A, 0, 0, 0)  # e_shentsize, e_shnum, e_shstrndx
    open(dst, "wb").write(bytes(data))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
