"""Hypothesis: mutated real ELF files and wheels only ever give InputError.

The reader and the whole pipeline must turn any corruption into the reader's
own error type (reported as an input error with exit 2), never crash with
another exception, never hang, and never modify the input.
"""

from __future__ import annotations

import io
import zipfile

from conftest import bin_path, make_wheel, sha256
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import abicheck
from abicheck.abi.commands import load_surfaces
from abicheck.binary.elf import ElfReader
from abicheck.errors import ElfError, InputError

SEEDS = [open(bin_path(rel), "rb").read() for rel in (
    "x86_64/newglibc.so", "x86_64/newcxx.stripped.so", "x86_64/newglibc.nosections.so",
    "i686/portable-glibc228.so", "s390x/portable-glibc228.so", "x86_64/tool-nix",
)]


@st.composite
def mutated_elf(draw):
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 12))):
        action = draw(st.sampled_from(["flip", "word", "truncate", "zero"]))
        if action == "truncate":
            del data[draw(st.integers(0, len(data))):]
            continue
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if action == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "zero":
            data[at:at + 8] = bytes(len(data[at:at + 8]))
        else:  # a structure field set to an extreme value
            value = draw(st.sampled_from([0, 1, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, len(data), len(data) * 2]))
            chunk = value.to_bytes(8, "little")[: len(data[at:at + 4])]
            data[at:at + len(chunk)] = chunk
    return bytes(data)


def _exercise(data: bytes) -> None:
    try:
        reader = ElfReader(data, "fuzz.so")
        reader.imports()
        reader.exports()
        reader.imports({n.versym for n in reader.facts.version_needs})
        reader.version_definitions()
    except ElfError as exc:  # the reader's own error type, and nothing else
        assert "\n" not in str(exc)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_elf())
def test_mutated_elf_bytes_only_raise_input_error(data):
    _exercise(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutated_elf())
def test_mutated_elf_files_through_the_pipeline(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "k.so"
    path.write_bytes(data)
    before = sha256(path)
    report = abicheck.check([str(path)])  # must not raise
    assert report.exit_code in (0, 1, 2)
    assert all("\n" not in e.message for e in report.errors)
    assert sha256(path) == before


def _two_object_wheel(folder) -> tuple[str, bytearray]:
    """A wheel of two real objects, and its bytes to mutate."""
    wheel = make_wheel(folder, "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                       {"demo/a.so": bin_path("x86_64/newglibc.so"), "demo/b.so": bin_path("x86_64/newcxx.so")})
    return wheel, bytearray(open(wheel, "rb").read())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_wheels_only_give_input_errors(tmp_path_factory, data):
    wheel, raw = _two_object_wheel(tmp_path_factory.mktemp("wheels"))
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        del raw[data.draw(st.integers(0, len(raw))):]
    open(wheel, "wb").write(bytes(raw))
    before = sha256(wheel)
    report = abicheck.check([wheel], jobs=data.draw(st.sampled_from([1, 2, 4])))  # inline and threaded inflating
    assert report.exit_code in (0, 1, 2)
    assert sha256(wheel) == before


def test_zip_bomb_member_is_refused_without_inflating(tmp_path):
    """A member declaring an absurd expansion is rejected from its header alone."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("demo/bomb.so", b"\x7fELF" + bytes(64 << 20))  # 64 MiB of zeros: ~64 KiB compressed
    path = tmp_path / "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    path.write_bytes(buf.getvalue())
    report = abicheck.check([str(path)])
    assert report.exit_code == 2
    assert "zip bomb" in report.errors[0].message


# Central directory fields (offset in the entry, width): the ones the zip-bomb and lying-header
# constructions set: version needed, flags, method, compressed and uncompressed sizes, name length,
# local header offset.
CENTRAL_FIELDS = [(6, 2), (8, 2), (10, 2), (20, 4), (24, 4), (28, 2), (42, 4)]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_wheels_with_lying_central_directories_only_give_input_errors(tmp_path_factory, data):
    """Overlapping entries, lying sizes, odd versions and empty names, built on purpose."""
    wheel, raw = _two_object_wheel(tmp_path_factory.mktemp("zips"))
    entries = [i for i in range(len(raw)) if raw[i:i + 4] == b"PK\x01\x02"]
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.sampled_from(entries))
        offset, width = data.draw(st.sampled_from(CENTRAL_FIELDS))
        local = [i for i in range(len(raw)) if raw[i:i + 4] == b"PK\x03\x04"]
        value = data.draw(st.sampled_from([0, 1, 0xFF, 64, 65, 0x7FFF, 0xFFFF, 0xFFFFFFFF, len(raw), *local]))
        raw[at + offset:at + offset + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
    open(wheel, "wb").write(bytes(raw))
    before = sha256(wheel)
    report = abicheck.check([wheel], jobs=data.draw(st.sampled_from([1, 2])))
    assert report.exit_code in (0, 1, 2)
    assert all("\n" not in e.message for e in report.errors)
    assert sha256(wheel) == before


def _extreme_fields(draw, source: str, tags: tuple[int, ...], changes: int, span: int, values: list[int],
                    widths: list[int]) -> bytes:
    """A real object with fields of the tables `tags` name (DT_ tags) set to extreme values."""
    data = bytearray(open(bin_path(source), "rb").read())
    reader = ElfReader(bytes(data))
    targets = [reader._offset_of(reader._dyn[tag], "t") for tag in tags if tag in reader._dyn]
    for _ in range(draw(st.integers(1, changes))):
        at = draw(st.sampled_from(targets)) + draw(st.integers(0, span - 1))
        value, width = draw(st.sampled_from(values)), draw(st.sampled_from(widths))
        if at + width <= len(data):
            data[at:at + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
    return bytes(data)


@st.composite
def mutated_tables(draw):
    """The version-need and GNU hash tables of a real object with fields set to extremes."""
    from abicheck.binary.elf_model import DT_GNU_HASH, DT_VERNEED

    return _extreme_fields(draw, "x86_64/newglibc.so", (DT_VERNEED, DT_GNU_HASH), 6, 64,
                           [0, 1, 2, 16, 0xFFFF, 0xFFFFFFFF], [2, 4])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_tables())
def test_version_needs_and_hash_chains_with_extreme_fields_only_raise_input_error(data):
    import time

    start = time.monotonic()
    _exercise(data)
    assert time.monotonic() - start < 5


FOREIGN = [bin_path("macos/ext-universal2.abi3.so"), bin_path("macos/nix-dylib.abi3.so"),
           bin_path("windows/python311-x86_64.pyd")]


@st.composite
def mutated_foreign(draw):
    """A real Mach-O (thin or fat) or PE object with bytes changed in its headers and load commands."""
    raw = bytearray(open(draw(st.sampled_from(FOREIGN)), "rb").read())
    for _ in range(draw(st.integers(1, 12))):
        at = draw(st.integers(0, min(len(raw), 1 << 14) - 1))  # the headers, load commands, PE sections
        raw[at] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        del raw[draw(st.integers(0, len(raw))):]
    return bytes(raw)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutated_foreign(), st.sampled_from(["k.abi3.so", "k.pyd"]))
def test_mutated_macho_and_pe_objects_give_findings_or_one_line_errors(tmp_path_factory, data, name):
    folder = tmp_path_factory.mktemp("foreign")
    path = folder / name
    path.write_bytes(data)
    before = sha256(path)
    for report in (abicheck.check([str(path)], macos="15.0"),
                   abicheck.check([make_wheel(folder, "k-1.0-cp39-abi3-macosx_11_0_universal2.whl",
                                              {f"k/{name}": str(path)})])):
        assert report.exit_code in (0, 1, 2)
        assert all("\n" not in e.message and e.path for e in report.errors)
    assert sha256(path) == before


EXPORTERS = [bin_path(rel) for rel in ("macos/libsurface.dylib", "windows/surface.dll", "macos/ext-universal2.abi3.so")]


@st.composite
def mutated_exporter(draw):
    """A real dylib or DLL with bytes changed anywhere: the export trie and export directory lie past the headers."""
    raw = bytearray(open(draw(st.sampled_from(EXPORTERS)), "rb").read())
    for _ in range(draw(st.integers(1, 16))):
        at = draw(st.integers(0, len(raw) - 1))
        if draw(st.booleans()):
            raw[at] = draw(st.integers(0, 255))
        else:  # a ULEB128, an offset or a count set to an extreme
            raw[at:at + 4] = draw(st.sampled_from([b"\xff\xff\xff\xff", b"\x80\x80\x80\x80", b"\0\0\0\0",
                                                   b"\xff\xff\xff\x7f"]))[:len(raw) - at]
    return bytes(raw)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutated_exporter())
def test_mutated_macho_and_pe_surfaces_give_a_surface_or_one_input_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("exporter") / "lib.so"
    path.write_bytes(data)
    try:
        surfaces = load_surfaces(str(path))
    except InputError as exc:
        assert "\n" not in str(exc) and exc.path
    else:
        assert all(s.format in ("macho", "pe", "elf") for s in surfaces.values())


@st.composite
def mutated_library_tables(draw):
    """libshape v1's hash table, .dynsym and version sections with fields set to extremes."""
    from abicheck.binary.elf_model import DT_GNU_HASH, DT_HASH, DT_SYMTAB, DT_VERSYM

    return _extreme_fields(draw, "x86_64/abi/libshape-v1.so", (DT_GNU_HASH, DT_HASH, DT_SYMTAB, DT_VERSYM), 8,
                           128, [0, 1, 2, 16, 0x7FFF, 0xFFFF, 0xFFFFFFFF], [1, 2, 4])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutated_library_tables())
def test_a_mutated_shipped_library_gives_findings_or_one_line_errors_never_a_crash(tmp_path_factory, data):
    """The symbol resolution stage looks imports up in this library's hash table: it must survive any table."""
    folder = tmp_path_factory.mktemp("lib")
    (folder / "pkg").mkdir()
    (folder / "pkg" / "_ext.so").write_bytes(open(bin_path("x86_64/symbols/uses-shape.so"), "rb").read())
    (folder / "pkg" / "libshape.so.1").write_bytes(data)
    report = abicheck.check([str(folder)])
    assert report.exit_code in (0, 1, 2)
    assert all("\n" not in e.message for e in report.errors)


# --- hostile kernel trees -------------------------------------------------------------------

TREE_NAMES = ["build", "torch29-cxx11-cu128-x86_64-linux", "torch-stable-abi211-cpu-aarch64-linux",
              "torch212-metal-aarch64-darwin", "relu", "lib", "x.so", "_ops.abi3.so", "k.pyd", "metadata.json",
              "build.toml", "a b", "é", "\udcff", "..so", "-j"]
TREE_FILES = [bin_path("x86_64/newglibc.so"), bin_path("x86_64/portable-glibc228.so"),
              bin_path("x86_64/kernels/cuda-driver.abi3.so"), bin_path("macos/ext-arm64-13.abi3.so"),
              bin_path("windows/stable-x86_64.pyd"), bin_path("bad/truncated-header.so")]


@st.composite
def hostile_tree(draw):
    """A list of (path parts, kind, detail): folders, objects, garbage, JSON, links of every kind, FIFOs."""
    entries = []
    for _ in range(draw(st.integers(1, 14))):
        parts = draw(st.lists(st.sampled_from(TREE_NAMES), min_size=1, max_size=5))
        kind = draw(st.sampled_from(["dir", "object", "garbage", "json", "link", "fifo", "empty"]))
        detail = draw(st.one_of(st.sampled_from(TREE_FILES), st.binary(max_size=64),
                                st.sampled_from(["..", ".", "/", "/nonexistent", "loop", "../../..", "x.so"])))
        entries.append((parts, kind, detail))
    return entries


def _make_tree(root, entries) -> None:
    import os
    import shutil

    for parts, kind, detail in entries:
        path = root.joinpath(*parts)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists() or path.is_symlink():
                continue
            if kind == "dir":
                path.mkdir()
            elif kind == "object" and isinstance(detail, str) and detail.startswith("/"):
                shutil.copy(detail if os.path.exists(detail) else TREE_FILES[0], path)
            elif kind in ("garbage", "empty"):
                path.write_bytes(detail if isinstance(detail, bytes) and kind == "garbage" else b"")
            elif kind == "json":
                path.write_bytes(b'{"general": {"backends": ' + (detail if isinstance(detail, bytes) else b"[")
                                 + b"}")
            elif kind == "link":
                os.symlink(path.name if detail == "loop" else (detail if isinstance(detail, str) else "x"), path)
            elif kind == "fifo":
                os.mkfifo(path)
        except (OSError, UnicodeEncodeError):
            pass  # a name this file system refuses: the tree goes without it


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hostile_tree())
def test_hostile_kernel_trees_give_findings_or_one_line_errors_and_are_left_as_they_were(tmp_path_factory, entries):
    """Links (to themselves, out of the tree, dangling), FIFOs, garbage, odd names and broken metadata in a
    kernel repo: a report with exit 0, 1 or 2, every error one line naming its file, nothing changed."""
    import os

    root = tmp_path_factory.mktemp("tree")
    _make_tree(root, entries)

    def snapshot() -> dict:
        return {str(p): (os.lstat(p).st_mode, os.lstat(p).st_size, os.lstat(p).st_mtime_ns)
                for p in root.rglob("*")}

    before = snapshot()
    report = abicheck.check([str(root)], allow_empty=True)
    assert report.exit_code in (0, 1, 2)
    assert all("\n" not in e.message and e.path for e in report.errors)
    assert snapshot() == before
