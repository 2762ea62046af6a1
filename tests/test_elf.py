"""The ELF reader against the readelf-derived manifest, pyelftools, and hostile input."""

from __future__ import annotations

import os
import struct

import pytest
from conftest import bin_path
from elftools.elf.elffile import ELFFile

from abicheck.binary.elf import DT_SYMTAB, ElfReader, open_elf, read_facts
from abicheck.errors import ElfError, InputError

GOOD = [
    "x86_64/newglibc.so", "x86_64/newglibc.stripped.so", "x86_64/newglibc.nosections.so",
    "x86_64/newcxx.so", "x86_64/newcxx.stripped.so", "x86_64/portable-glibc228.so",
    "x86_64/portable-glibc228.stripped.so", "x86_64/weakref.so", "x86_64/tool", "x86_64/tool-nix",
    "x86_64/runpath-origin.so", "x86_64/rpath-absolute.so", "x86_64/runpath-nix.so", "x86_64/runpath-usr.so",
    "aarch64/newglibc.so", "aarch64/portable-glibc228.so", "riscv64/newglibc.so",
    "i686/portable-glibc228.so", "s390x/portable-glibc228.so", "mips/portable-glibc228.so",
]


def _facts_as_manifest(reader: ElfReader) -> dict:
    f = reader.facts
    needs: dict[str, list] = {}
    for need in f.version_needs:
        needs.setdefault(need.library, []).append([need.version, need.weak])
    imports = sorted({s.display for s in reader.imports() if s.version})
    return {
        "class": f.elf_class, "endian": f.endian, "type": f.type, "arch": f.arch,
        "interpreter": f.interpreter, "needed": list(f.needed), "soname": f.soname,
        "rpath": ":".join(f.rpath) or None, "runpath": ":".join(f.runpath) or None,
        "version_needs": {lib: sorted(v) for lib, v in sorted(needs.items())},
        "versioned_imports": imports,
    }


@pytest.mark.parametrize("rel", GOOD)
def test_reader_matches_manifest(rel, manifest):
    expected = {k: v for k, v in manifest[f"bin/{rel}"].items() if k not in ("sectionless", "versions_from")}
    with open_elf(bin_path(rel)) as reader:
        assert _facts_as_manifest(reader) == expected


@pytest.mark.parametrize("rel", GOOD)
def test_bytes_and_mmap_give_the_same_facts(rel):
    path = bin_path(rel)
    with open(path, "rb") as f:
        from_bytes = ElfReader(f.read(), path)
    with open_elf(path) as mapped:
        assert mapped.facts == from_bytes.facts
        assert mapped.imports() == from_bytes.imports()
        assert mapped.exports() == from_bytes.exports()


@pytest.mark.parametrize("rel", [r for r in GOOD if "nosections" not in r and "stripped" not in r])
def test_symbols_agree_with_pyelftools(rel):
    """pyelftools reads .dynsym through the section headers: a differential check."""
    path = bin_path(rel)
    with open(path, "rb") as f:
        elf = ELFFile(f)
        dynsym = elf.get_section_by_name(".dynsym")
        theirs_undef = sorted(s.name for s in dynsym.iter_symbols() if s.name and s["st_shndx"] == "SHN_UNDEF")
        theirs_defined = sorted(
            s.name for s in dynsym.iter_symbols()
            if s.name and s["st_shndx"] != "SHN_UNDEF" and s["st_info"]["bind"] in ("STB_GLOBAL", "STB_WEAK"))
        count = dynsym.num_symbols()
    with open_elf(path) as reader:
        assert reader.symbol_count == count
        assert sorted(s.name for s in reader.imports()) == theirs_undef
        assert sorted(s.name for s in reader.exports()) == theirs_defined


def test_stripped_and_sectionless_twins_read_the_same():
    with open_elf(bin_path("x86_64/newglibc.so")) as full:
        want = (full.facts, full.imports())
    for twin in ("x86_64/newglibc.stripped.so", "x86_64/newglibc.nosections.so"):
        with open_elf(bin_path(twin)) as reader:
            assert (reader.facts, reader.imports()) == want


def test_selective_import_decodes_only_the_requested_versions():
    with open_elf(bin_path("x86_64/newglibc.so")) as reader:
        index = {n.versym for n in reader.facts.version_needs if n.version == "GLIBC_2.34"}
        names = sorted(s.display for s in reader.imports(index))
    assert names == ["dlopen@GLIBC_2.34", "pthread_create@GLIBC_2.34", "pthread_join@GLIBC_2.34"]


def test_weak_version_need_is_flagged():
    facts = read_facts(bin_path("x86_64/weakref.so"))
    weak = {(n.version, n.weak) for n in facts.version_needs}
    assert ("GLIBC_2.36", True) in weak and ("GLIBC_2.2.5", False) in weak


@pytest.mark.parametrize(("rel", "words"), [
    ("bad/empty.so", "empty file"),
    ("bad/linker-script.so", "linker script"),
    ("bad/not-elf.so", "not an ELF file"),
    ("bad/truncated-header.so", "past the end"),
    ("bad/truncated-tables.so", "past the end"),
    ("bad/garbage.so", "ELF"),
])
def test_bad_files_raise_one_line_elf_errors(rel, words):
    with pytest.raises(ElfError) as info:
        read_facts(bin_path(rel))
    text = str(info.value)
    assert words in text and "\n" not in text and text.startswith(bin_path(rel))


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="No such file"):
        read_facts(tmp_path / "nope.so")


# --- hostile structures, crafted from a real file --------------------------

def _verneed_offset() -> int:
    from abicheck.binary.elf import DT_VERNEED

    with open_elf(bin_path("x86_64/newglibc.so")) as reader:
        return reader._offset_of(reader._dyn[DT_VERNEED], "DT_VERNEED")


def _copy(tmp_path, data: bytes) -> str:
    path = tmp_path / "crafted.so"
    path.write_bytes(data)
    return str(path)


def test_self_referencing_version_need_does_not_loop(tmp_path):
    """vn_next = 0 would point an entry at itself; with a huge vn_cnt and
    DT_VERNEEDNUM it must still end, after reading each entry once."""
    data = bytearray(open(bin_path("x86_64/newglibc.so"), "rb").read())
    at = _verneed_offset()
    struct.pack_into("<I", data, at + 12, 0)  # vn_next
    struct.pack_into("<H", data, at + 2, 0xFFFF)  # vn_cnt
    facts = read_facts(_copy(tmp_path, bytes(data)))
    assert 0 < len(facts.version_needs) < 10


def test_huge_version_need_count_is_bounded(tmp_path):
    data = bytearray(open(bin_path("x86_64/newglibc.so"), "rb").read())
    at = _verneed_offset()
    # Point vn_next far past the end of the file: an error, not a hang.
    struct.pack_into("<I", data, at + 12, 0x7FFFFFF0)
    with pytest.raises(ElfError, match="past the end"):
        read_facts(_copy(tmp_path, bytes(data)))


def test_symbol_count_past_the_end_is_an_error(tmp_path):
    data = bytearray(open(bin_path("x86_64/newglibc.so"), "rb").read())
    with open_elf(bin_path("x86_64/newglibc.so")) as reader:
        from abicheck.binary.elf import DT_GNU_HASH

        base = reader._offset_of(reader._dyn[DT_GNU_HASH], "DT_GNU_HASH")
    struct.pack_into("<I", data, base, 0x40000000)  # nbuckets: a billion
    with open_elf(_copy(tmp_path, bytes(data))) as reader:
        with pytest.raises(ElfError, match="GNU hash"):
            reader.imports()


def test_phnum_overflow_is_an_error(tmp_path):
    data = bytearray(open(bin_path("x86_64/newglibc.so"), "rb").read())
    struct.pack_into("<H", data, 0x38, 0xFFFE)
    with pytest.raises(ElfError, match="program headers"):
        read_facts(_copy(tmp_path, bytes(data)))


HOST_LIBRARIES = ["/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"]


@pytest.mark.parametrize("path", [*(bin_path(r) for r in GOOD), *HOST_LIBRARIES])
def test_whole_table_reads_match_entry_by_entry_reads(path):
    """exports()/imports() read .dynsym in one block; each entry must equal the one-at-a-time read."""
    assert os.path.exists(path), "the Debian 12 host libraries are required"
    with open_elf(path) as reader:
        if reader.symbol_count == 0:
            return
        symtab = reader._offset_of(reader._dyn[DT_SYMTAB], "DT_SYMTAB")
        versym = reader._versym()
        block = list(reader._symbol_block(range(1, reader.symbol_count), symtab, versym))
        one_by_one = [reader._symbol(i, symtab, versym) for i in range(1, reader.symbol_count)]
    assert block == one_by_one


ALL_OBJECTS = sorted({*GOOD, "x86_64/weak-optional.so", "x86_64/zlib-internal.so", "i686/portable-glibc228.so",
                      "s390x/portable-glibc228.so", "mips/portable-glibc228.so"})


@pytest.mark.parametrize("path", [*(bin_path(r) for r in ALL_OBJECTS), *HOST_LIBRARIES])
def test_undefined_entries_found_without_decoding_match_a_full_decode(path):
    """undefined_indices() finds imports from raw bytes; it must agree with decoding every entry."""
    with open_elf(path) as reader:
        count = reader.symbol_count
        if count == 0:
            return
        symtab = reader._offset_of(reader._dyn[DT_SYMTAB], "DT_SYMTAB")
        versym = reader._versym()
        decoded = [reader._symbol(i, symtab, versym) for i in range(1, count)]
        undefined = [i for i, s in enumerate(decoded, start=1) if not s.defined]
        strong = [i for i in undefined if decoded[i - 1].binding != "weak"]
        assert reader.undefined_indices() == undefined
        assert reader.undefined_indices(strong_only=True) == strong
        names = frozenset(decoded[i - 1].name for i in undefined[:5])
        picked = reader.imports_named(names)
        assert {s.name for s in picked} == {decoded[i - 1].name for i in strong if decoded[i - 1].name in names}


def test_imports_named_leaves_weak_references_out():
    with open_elf(bin_path("x86_64/weak-optional.so")) as reader:
        assert [s.name for s in reader.imports() if s.binding == "weak"].count("__cxa_thread_atexit_impl") == 1
        assert reader.imports_named(frozenset({"__cxa_thread_atexit_impl"})) == []
        weak = reader.imports_named(frozenset({"__cxa_thread_atexit_impl"}), strong_only=False)
        assert [(s.name, s.binding, s.version) for s in weak] == [("__cxa_thread_atexit_impl", "weak", "GLIBC_2.18")]


@pytest.mark.parametrize("path", HOST_LIBRARIES)
def test_big_host_libraries_agree_with_pyelftools_entry_for_entry(path):
    """Name, binding, kind, size and version of every .dynsym entry of a real library with thousands."""
    with open(path, "rb") as f:
        elf = ELFFile(f)
        dynsym = elf.get_section_by_name(".dynsym")
        versions = elf.get_section_by_name(".gnu.version")
        names = _version_names(elf)
        bindings = {"STB_GLOBAL": "global", "STB_WEAK": "weak", "STB_LOCAL": "local",
                    "STB_GNU_UNIQUE": "gnu_unique", "STB_LOOS": "gnu_unique"}
        theirs = []
        for i, s in enumerate(dynsym.iter_symbols()):
            if i == 0 or not s.name:
                continue
            theirs.append((s.name, bindings[s["st_info"]["bind"]], s["st_size"], s["st_shndx"] == "SHN_UNDEF",
                           dynsym_version(versions, names, i)))
    with open_elf(path) as reader:
        ours = [(s.name, s.binding, s.size, not s.defined, s.version)
                for s in [*reader.exports(), *reader.imports()]]
    assert len(theirs) > 2000
    theirs_kept = [t for t in theirs if t[3] or t[1] in ("global", "weak", "gnu_unique")]
    assert sorted(ours, key=repr) == sorted(theirs_kept, key=repr)


def _version_names(elf) -> dict[int, str]:
    """Version index -> name, from pyelftools' reading of .gnu.version_d and .gnu.version_r."""
    names = {}
    verdef = elf.get_section_by_name(".gnu.version_d")
    if verdef is not None:
        for entry, auxiliaries in verdef.iter_versions():
            names[entry["vd_ndx"]] = next(iter(auxiliaries)).name
    verneed = elf.get_section_by_name(".gnu.version_r")
    if verneed is not None:
        for _entry, auxiliaries in verneed.iter_versions():
            for aux in auxiliaries:
                names[aux["vna_other"]] = aux.name
    return names


def dynsym_version(versions, names, index):
    """The version pyelftools' sections give entry `index` of .dynsym (None for local/global)."""
    ndx = versions.get_symbol(index).entry["ndx"]
    if ndx in ("VER_NDX_LOCAL", "VER_NDX_GLOBAL"):
        return None
    ndx = ndx & 0x7FFF
    return None if ndx <= 1 else names[ndx]
