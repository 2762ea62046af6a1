"""Files that are not what they seem: FIFOs, huge sparse files, links out of the tree, outputs among the inputs.

Every file abicheck reads whole goes through one helper that refuses non-regular
files and caps the size by kind; each case must end in a one-line error naming
the file, exit 2, quickly, and never change an input.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SCRIPTS, bin_path, pt_dynamic

import abicheck


def run_bounded(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The command line, which must finish within 60 s (a FIFO opened for reading would block forever)."""
    return subprocess.run([str(SCRIPTS / "abicheck"), *args], capture_output=True, text=True, timeout=60, cwd=cwd)


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.json"
    os.mkfifo(path)
    return path


def one_line_error(done: subprocess.CompletedProcess, name: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and name in done.stdout + done.stderr


def test_a_fifo_given_as_torch_or_policy_file_is_refused_not_read(fifo):
    one_line_error(run_bounded("check", "--torch", str(fifo), bin_path("x86_64/newglibc.so")), "pipe.json")
    one_line_error(run_bounded("check", "--policy-file", str(fifo), bin_path("x86_64/newglibc.so")), "pipe.json")
    one_line_error(run_bounded("abi", "diff", str(fifo), bin_path("x86_64/newglibc.so")), "pipe.json")


def test_a_fifo_metadata_json_in_a_variant_is_an_input_error(tmp_path):
    variant = tmp_path / "build" / "torch29-cxx11-cpu-x86_64-linux"
    variant.mkdir(parents=True)
    shutil.copy(bin_path("x86_64/portable-glibc228.so"), variant / "_k.so")
    os.mkfifo(variant / "metadata.json")
    done = run_bounded("check", str(tmp_path))
    one_line_error(done, "metadata.json")
    assert "not a regular file" in done.stdout + done.stderr


def test_a_huge_sparse_metadata_json_is_refused_by_its_size(tmp_path):
    variant = tmp_path / "build" / "torch29-cxx11-cpu-x86_64-linux"
    variant.mkdir(parents=True)
    shutil.copy(bin_path("x86_64/portable-glibc228.so"), variant / "_k.so")
    with open(variant / "metadata.json", "wb") as f:
        f.truncate(2 << 30)  # 2 GiB, sparse: reading it whole took 4 GB of memory
    done = run_bounded("check", str(tmp_path))
    one_line_error(done, "metadata.json")
    assert "over the 1 MiB abicheck reads" in done.stdout + done.stderr


def test_an_output_that_is_a_fifo_or_a_file_in_a_checked_folder_is_refused(tmp_path, fifo):
    one_line_error(run_bounded("check", "-o", str(fifo), bin_path("x86_64/newglibc.so")), "FIFO")
    folder = tmp_path / "objects"
    folder.mkdir()
    target = folder / "x.so"
    shutil.copy(bin_path("x86_64/newglibc.so"), target)
    before = target.read_bytes()
    one_line_error(run_bounded("check", str(folder), "-o", str(target)), "inside the checked folder")
    assert target.read_bytes() == before


def test_a_link_to_an_object_outside_the_tree_is_checked_under_its_path(tmp_path):
    """It was neither checked nor counted: exit 0 beside a clean neighbour, a pass in pytest."""
    outside = tmp_path / "elsewhere" / "real.so"
    outside.parent.mkdir()
    shutil.copy(bin_path("x86_64/newglibc.so"), outside)
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(bin_path("x86_64/portable-glibc228.so"), tree / "ok.so")
    (tree / "link.so").symlink_to(outside)
    report = abicheck.check([str(tree)])
    assert report.objects_checked == 2 and report.exit_code == 1
    assert {f.path for f in report.findings} == {str(tree / "link.so")}
    inside = tmp_path / "tree2"
    inside.mkdir()
    shutil.copy(bin_path("x86_64/newglibc.so"), inside / "real.so")
    (inside / "alias.so").symlink_to("real.so")  # inside the tree: checked once, where it lives
    assert abicheck.check([str(inside)]).objects_checked == 1


def test_objects_that_cannot_be_parsed_are_input_errors_never_skipped(tmp_path):
    """A .pyd whose PE header offset is past 1 MiB and a fat Mach-O of 20 slices were taken for non-objects:
    a Windows variant holding one said "1 object, clean"."""
    import struct

    variant = tmp_path / "build" / "torch28-cu128-x86_64-windows" / "relu"
    variant.mkdir(parents=True)
    pyd = bytearray(Path(bin_path("windows/stable-x86_64.pyd")).read_bytes())
    struct.pack_into("<I", pyd, 0x3C, 2 << 20)
    (variant / "far.pyd").write_bytes(bytes(pyd))
    (variant / "many.so").write_bytes(struct.pack(">II", 0xCAFEBABE, 20) + bytes(20 * 20))
    shutil.copy(bin_path("windows/stable-x86_64.pyd"), variant / "ok.pyd")
    report = abicheck.check([str(tmp_path)])
    assert sorted(Path(e.path).name for e in report.errors) == ["far.pyd", "many.so"]
    assert report.exit_code == 2
    assert any("20 architectures" in e.message for e in report.errors)


def _pe_with_imports(descriptors: int, thunks: int) -> bytes:
    """A PE32+ DLL whose `descriptors` import descriptors all share one lookup table of `thunks` named entries:
    an import-table bomb (descriptors x thunks lookups when each table is walked anew)."""
    import struct

    opt_size = 112 + 16 * 8
    section_at = 0x40 + 24 + opt_size
    raw, vaddr = 0x400, 0x1000
    table_rva = vaddr + 20 * (descriptors + 1)
    name_rva = table_rva + 8 * (thunks + 1)
    body = bytearray()
    for _ in range(descriptors):
        body += struct.pack("<IIIII", table_rva, 0, 0, name_rva, table_rva)
    body += bytes(20)
    body += struct.pack("<Q", name_rva + 16) * thunks + bytes(8)
    body += b"python3.dll\0\0\0\0\0" + b"\0\0PyLong_Check\0"  # the DLL's name, then a hint and a function name
    header = bytearray(raw)
    header[:2] = b"MZ"
    struct.pack_into("<I", header, 0x3C, 0x40)
    header[0x40:0x44] = b"PE\0\0"
    struct.pack_into("<HHIIIHH", header, 0x44, 0x8664, 1, 0, 0, 0, opt_size, 0x2022)
    opt = 0x40 + 24
    struct.pack_into("<H", header, opt, 0x20B)
    struct.pack_into("<I", header, opt + 108, 16)  # NumberOfRvaAndSizes
    struct.pack_into("<II", header, opt + 112 + 8, vaddr, len(body))  # the import directory
    struct.pack_into("<8sIIII", header, section_at, b".idata", len(body), vaddr, len(body), raw)
    return bytes(header + body)


def test_a_pe_import_table_bomb_is_refused_quickly(tmp_path):
    """4,096 descriptors sharing one 65,536-entry table: 268M lookups ran for minutes and grew past 800 MB."""
    import time

    bomb = tmp_path / "bomb.pyd"
    bomb.write_bytes(_pe_with_imports(4096, 1 << 16))
    start = time.monotonic()
    done = run_bounded("check", str(bomb))
    assert time.monotonic() - start < 30
    one_line_error(done, "imported functions")
    small = tmp_path / "small.pyd"
    small.write_bytes(_pe_with_imports(3, 4))  # the same layout, a sane size: read, shared table and all
    report = abicheck.check([str(small)])
    assert report.errors == [], report.errors


def test_a_report_lost_on_a_full_disk_is_exit_2_and_said(tmp_path):
    """Standard output on /dev/full exited 1 with no message: the report was lost silently."""
    with open("/dev/full", "w") as full:
        done = subprocess.run([str(SCRIPTS / "abicheck"), "check", bin_path("x86_64/newglibc.so")], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 2
    assert "cannot write the report to standard output: No space left on device" in done.stderr
    # a reader that goes away (| head) is not an error: the exit code is the one the results deserve
    piped = subprocess.run(f"'{SCRIPTS / 'abicheck'}' check '{bin_path('x86_64/newglibc.so')}' | head -c 0",
                           shell=True, capture_output=True, text=True, timeout=60)
    assert piped.stderr == ""


def test_a_huge_claimed_string_table_is_not_read_whole(tmp_path):
    """A 600 MB DT_STRSZ in a loose object took 1.8 GB in check, show and abi dump: only the part the names
    reach is read now."""
    import struct

    data = bytearray(Path(bin_path("x86_64/newglibc.so")).read_bytes())
    _header, offset = pt_dynamic(data)
    for k in range(64):
        tag, _value = struct.unpack_from("<qQ", data, offset + 16 * k)
        if tag == 10:  # DT_STRSZ
            struct.pack_into("<qQ", data, offset + 16 * k, 10, 650 << 20)
        if tag == 0:
            break
    path = tmp_path / "strsz.so"
    path.write_bytes(bytes(data))
    with open(path, "r+b") as f:
        f.truncate(700 << 20)  # sparse: the claimed table lies inside the file
    for command in (["check"], ["show"], ["abi", "dump"]):
        # the peak RSS of the command alone, measured by a fresh parent whose only child it is
        probe = ("import resource, subprocess, sys\n"
                 "done = subprocess.run(sys.argv[1:], capture_output=True)\n"
                 "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
        done = subprocess.run([sys.executable, "-c", probe, str(SCRIPTS / "abicheck"), *command, str(path)],
                              capture_output=True, text=True, timeout=120)
        code, peak_kib = (int(x) for x in done.stdout.split())
        assert code in (0, 1) and peak_kib < 300 << 10, (command, code, peak_kib)  # far below the 650 MB claimed
    report = abicheck.check([str(path)])
    assert {f.code for f in report.findings} == {"AB101"}  # its version needs read as before
