"""Turn a thin Mach-O file's LC_BUILD_VERSION into an unknown command, in place.

The result records no minimum macOS, as a hand-assembled or post-processed
object might: the tests need one. Usage: drop_min_macos.py FILE
"""

import struct
import sys

LC_BUILD_VERSION = 0x32


def main(path: str) -> None:
    data = bytearray(open(path, "rb").read())
    ncmds = struct.unpack_from("<I", data, 16)[0]
    at = 32
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", data, at)
        if cmd == LC_BUILD_VERSION:
            struct.pack_into("<I", data, at, 0x7F000001)  # no such command: dyld and readers skip it
            open(path, "wb").write(bytes(data))
            return
        at += size
    sys.exit(f"{path}: no LC_BUILD_VERSION")


if __name__ == "__main__":
    main(sys.argv[1])
