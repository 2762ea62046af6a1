"""Join thin Mach-O files into one fat (universal) file, as `lipo -create` does.

Usage: make_fat.py OUT THIN... (lipo is not on Linux; the layout is a
big-endian fat header, one fat_arch per slice, each slice aligned to 2^14.)
"""

import struct
import sys

ALIGN = 14


def main(out: str, thin: list[str]) -> None:
    slices = []
    for path in thin:
        data = open(path, "rb").read()
        magic, cputype, cpusubtype = struct.unpack("<Iii", data[:12])
        if magic != 0xFEEDFACF:
            sys.exit(f"{path}: not a thin 64-bit Mach-O file")
        slices.append((cputype, cpusubtype, data))
    offset = 1 << ALIGN
    header = struct.pack(">II", 0xCAFEBABE, len(slices))
    body = b""
    for n, (cputype, cpusubtype, data) in enumerate(slices):
        header += struct.pack(">iiIII", cputype, cpusubtype, offset + len(body), len(data), ALIGN)
        body += data + (bytes(-len(data) % (1 << ALIGN)) if n < len(slices) - 1 else b"")  # as lipo: no tail
    with open(out, "wb") as f:
        f.write(header + bytes(offset - len(header)) + body)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
