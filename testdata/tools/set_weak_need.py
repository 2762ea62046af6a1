"""Mark one version need of an ELF file VER_FLG_WEAK, in place.

GNU ld never sets the flag, so the recipe sets it to give the tests a real
file with a weak version need. Usage: set_weak_need.py FILE VERSION
"""

import sys

from elftools.elf.elffile import ELFFile

VER_FLG_WEAK = 0x2


def main(path: str, version: str) -> None:
    with open(path, "rb") as f:
        elf = ELFFile(f)
        section = elf.get_section_by_name(".gnu.version_r")
        base = section["sh_offset"]
        little = elf.little_endian
        patch_at = None
        offset = base
        for verneed, auxes in section.iter_versions():
            aux_offset = offset + verneed["vn_aux"]
            for aux in auxes:
                if aux.name == version:
                    patch_at = aux_offset + 4  # vna_hash is 4 bytes, then vna_flags
                aux_offset += aux["vna_next"]
            offset += verneed["vn_next"]
    if patch_at is None:
        sys.exit(f"{path}: no version need named {version}")
    with open(path, "r+b") as f:
        f.seek(patch_at)
        flags = int.from_bytes(f.read(2), "little" if little else "big")
        f.seek(patch_at)
        f.write((flags | VER_FLG_WEAK).to_bytes(2, "little" if little else "big"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
