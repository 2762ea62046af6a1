"""Generate policies/glibc-symbols.json from the glibc ABI lists that zig ships.

The `ziglang` package on PyPI carries `lib/libc/glibc/abilists`: every symbol
of every glibc release's .abilist files, consolidated per target by the zig
project. This script decodes that file (its binary layout is documented in
the ziglang/libc-abi-tools README) and keeps what abicheck's hints need, for
the architectures the manylinux policies cover:

    symbol -> [[arch bitmask, library, [symbol versions]], ...]

`X@GLIBC_V` exists in glibc release R when V <= R (glibc never drops a symbol
version), in the library named by its entry. To stay small, an architecture's
first glibc version (2.2.5 on x86_64, 2.17 on aarch64) is written "B", and
symbols that exist only at that baseline are kept too: the symbol
resolution stage (AB312) needs every symbol glibc defines, not only those
that can be too new.

Usage: python tools/gen_glibc_symbols.py [ABILISTS] > policies/glibc-symbols.json
       python tools/gen_glibc_symbols.py --exports [ABILISTS] > policies/glibc-exports.json

The second form writes the same facts laid out for lookups (architecture,
library, version, then the names), which AB312 reads.
"""

from __future__ import annotations

import json
import os
import sys

# manylinux architecture -> zig's target triple for it
ARCHES = {
    "x86_64": "x86_64-linux-gnu",
    "i686": "x86-linux-gnu",
    "aarch64": "aarch64-linux-gnu",
    "armv7l": "arm-linux-gnueabihf",
    "ppc64le": "powerpc64le-linux-gnu",
    "s390x": "s390x-linux-gnu",
    "riscv64": "riscv64-linux-gnu",
    "loongarch64": "loongarch64-linux-gnu",
}
SONAMES = {"c": "libc.so.6", "m": "libm.so.6", "pthread": "libpthread.so.0", "dl": "libdl.so.2",
           "rt": "librt.so.1", "util": "libutil.so.1", "resolv": "libresolv.so.2", "ld": "ld.so"}


class Decoder:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def u8(self) -> int:
        value = self.data[self.pos]
        self.pos += 1
        return value

    def u16(self) -> int:
        value = int.from_bytes(self.data[self.pos:self.pos + 2], "little")
        self.pos += 2
        return value

    def uleb(self) -> int:
        result = shift = 0
        while True:
            byte = self.u8()
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result

    def cstr(self) -> str:
        end = self.data.index(0, self.pos)
        text = self.data[self.pos:end].decode("ascii")
        self.pos = end + 1
        return text


def decode(path: str) -> tuple[list[str], list[str], list[str], list[tuple[str, int, str, list[str]]]]:
    d = Decoder(open(path, "rb").read())
    libs = [d.cstr() for _ in range(d.u8())]
    versions = []
    for _ in range(d.u8()):
        major, minor, patch = d.u8(), d.u8(), d.u8()
        versions.append(f"{major}.{minor}" + (f".{patch}" if patch else ""))
    targets = [d.cstr() for _ in range(d.u8())]
    inclusions = []
    for sized in (False, True):
        remaining = d.u16()
        while remaining:
            name = d.cstr()
            while True:
                mask = d.uleb()
                if sized:
                    d.uleb()  # object size: not needed here
                lib = d.u8()
                vers = []
                while True:
                    v = d.u8()
                    vers.append(versions[v & 0x7F])
                    if v & 0x80:
                        break
                inclusions.append((name, mask, libs[lib & 0x7F], vers))
                remaining -= 1
                if lib & 0x80:
                    break
    return libs, versions, targets, inclusions


def main() -> None:
    exports = "--exports" in sys.argv[1:]
    args = [a for a in sys.argv[1:] if a != "--exports"]
    if args:
        path = args[0]
    else:
        import ziglang

        path = os.path.join(os.path.dirname(ziglang.__file__), "lib", "libc", "glibc", "abilists")
    _libs, versions, targets, inclusions = decode(path)
    arch_names = list(ARCHES)
    bit_of = {targets.index(triple): i for i, triple in enumerate(ARCHES.values())}
    order = {v: i for i, v in enumerate(versions)}
    per_arch: list[dict[str, dict[str, list[str]]]] = [{} for _ in arch_names]  # arch -> symbol -> lib -> vers
    for name, mask, lib, vers in inclusions:
        for index, bit in bit_of.items():
            if mask >> index & 1:
                per_arch[bit].setdefault(name, {}).setdefault(SONAMES[lib], []).extend(vers)
    baselines = [min((v for table in arch.values() for vs in table.values() for v in vs), key=order.__getitem__)
                 for arch in per_arch]
    merged: dict[tuple[str, str, tuple[str, ...]], int] = {}
    for bit, arch in enumerate(per_arch):
        for name, table in arch.items():
            for lib, vers in table.items():
                key = (name, lib, tuple(sorted({"B" if v == baselines[bit] else v for v in vers},
                                               key=lambda v: -1 if v == "B" else order[v])))
                merged[key] = merged.get(key, 0) | 1 << bit
    symbols: dict[str, list] = {}
    for (name, lib, vers), mask in sorted(merged.items()):
        symbols.setdefault(name, []).append([mask, lib, list(vers)])
    try:
        from importlib.metadata import version

        zig_version = version("ziglang")
    except Exception:
        zig_version = "unknown"
    source = (f"glibc .abilist files as consolidated in lib/libc/glibc/abilists of the ziglang {zig_version} "
              "package (PyPI); generated by tools/gen_glibc_symbols.py")
    if exports:
        # arch -> library -> "GLIBC_x" -> the names, space-separated: long strings parse fast,
        # so checking one small object does not pay for the whole table
        table: dict[str, dict[str, dict[str, list[str]]]] = {}
        for bit, arch in enumerate(per_arch):
            for name, libraries in arch.items():
                for lib, vers in libraries.items():
                    for v in vers:
                        table.setdefault(arch_names[bit], {}).setdefault(lib, {}).setdefault(
                            f"GLIBC_{v}", []).append(name)
        json.dump({
            "about": "Every symbol glibc's libraries define, per architecture, library and symbol version: the "
                     "glibc exports AB312 resolves imports against.",
            "source": source,
            "arches": {arch: {lib: {v: " ".join(sorted(set(names))) for v, names in sorted(versions_.items())}
                              for lib, versions_ in sorted(libs.items())}
                       for arch, libs in sorted(table.items())},
        }, sys.stdout, separators=(",", ":"))
        sys.stdout.write("\n")
        return
    json.dump({
        "about": "glibc symbol@version availability per architecture: AB101 fix hints, and the glibc "
                 "exports AB312 resolves imports against.",
        "source": source,
        "glibc_versions": versions,
        "arches": arch_names,
        "baselines": dict(zip(arch_names, baselines, strict=True)),
        "libraries": sorted({lib for (_name, lib, _vers) in merged}),
        "symbols": dict(sorted(symbols.items())),
    }, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
