"""Wheels assembled from the test binaries: same verdicts, nothing written to disk."""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import pytest
from conftest import bin_path, make_wheel, sha256

import abicheck
from abicheck.inputs.wheel import parse_wheel_name

GOOD = "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl"


def _key(report):
    return sorted((f.path.split("!")[-1].split("/")[-1], f.code, f.symbol, f.version) for f in report.findings
                  if f.code != "AB402")


def test_wheel_gives_the_same_verdicts_as_loose_files(tmp_path):
    wheel = make_wheel(tmp_path, GOOD, {
        "demo/newglibc.so": bin_path("x86_64/newglibc.so"),
        "demo/portable-glibc228.so": bin_path("x86_64/portable-glibc228.so"),
        "demo/__init__.py": b"",
    })
    from_wheel = abicheck.check([wheel])
    loose = abicheck.check([bin_path("x86_64/newglibc.so"), bin_path("x86_64/portable-glibc228.so")])
    assert _key(from_wheel) == _key(loose)
    assert from_wheel.exit_code == 1
    assert any(f.path == f"{wheel}!demo/newglibc.so" and f.symbol == "pthread_join" for f in from_wheel.findings)
    assert from_wheel.objects_checked == 2


def test_clean_wheel_passes(tmp_path):
    wheel = make_wheel(tmp_path, GOOD, {"demo/_ops.abi3.so": bin_path("x86_64/portable-glibc228.stripped.so")})
    assert abicheck.check([wheel]).exit_code == 0


def test_nothing_is_written_to_disk(tmp_path, monkeypatch):
    wheel = make_wheel(tmp_path, GOOD, {"demo/newglibc.so": bin_path("x86_64/newglibc.so")})
    before_hash = sha256(wheel)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    tempfile.tempdir = None
    try:
        abicheck.check([wheel])
    finally:
        tempfile.tempdir = None
    assert os.listdir(scratch) == []
    assert sorted(os.listdir(tmp_path)) == sorted([os.path.basename(wheel), "tmp"])
    assert sha256(wheel) == before_hash


def test_claimed_tag_sets_the_policy_and_ab402_names_the_honest_tag(tmp_path):
    name = "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    wheel = make_wheel(tmp_path, name, {"demo/x.so": bin_path("x86_64/portable-host.so")})
    report = abicheck.check([wheel])
    tag = [f for f in report.findings if f.code == "AB402"]
    assert len(tag) == 1
    assert tag[0].details["claimed"] == "manylinux_2_17_x86_64"
    assert tag[0].details["honest"] == "manylinux_2_34_x86_64"
    assert tag[0].path == wheel
    assert all(a.policy == "manylinux_2_17" for a in report.artifacts)
    # pthread_join@2.34 and exp@2.29 are both above 2.17
    assert {f.version for f in report.findings if f.code == "AB101"} == {"GLIBC_2.34", "GLIBC_2.29"}


def test_honest_tag_is_quiet(tmp_path):
    wheel = make_wheel(tmp_path, "demo-1.0-cp311-cp311-manylinux_2_34_x86_64.whl",
                       {"demo/x.so": bin_path("x86_64/portable-host.so")})
    assert abicheck.check([wheel]).exit_code == 0


def test_shipped_library_satisfies_its_needed_entry(tmp_path):
    """A NEEDED library the wheel ships is not judged against the system policy."""
    wheel = make_wheel(tmp_path, GOOD, {
        "demo/newcxx.so": bin_path("x86_64/newcxx.so"),
        "demo.libs/libstdc++.so.6": bin_path("x86_64/portable-glibc228.so"),
    })
    report = abicheck.check([wheel])
    assert not [f for f in report.findings if f.library == "libstdc++.so.6"]
    assert report.exit_code == 0


def test_wheel_tag_architecture_catches_a_foreign_member(tmp_path):
    wheel = make_wheel(tmp_path, GOOD, {"demo/arm.so": bin_path("aarch64/portable-glibc228.so")})
    report = abicheck.check([wheel])
    ab401 = [f for f in report.findings if f.code == "AB401"]
    assert len(ab401) == 1 and "aarch64" in ab401[0].message and "wheel tag" in ab401[0].message


def test_bad_member_is_reported_and_the_rest_checked(tmp_path):
    wheel = make_wheel(tmp_path, GOOD, {
        "demo/good.so": bin_path("x86_64/newglibc.so"),
        "demo/script.so": bin_path("bad/linker-script.so"),
        "demo/cut.so": bin_path("bad/truncated-tables.so"),
    })
    report = abicheck.check([wheel])
    assert report.objects_checked == 1 and report.exit_code == 1
    # The linker script is not ELF, so not a member to check; the cut ELF object is an error.
    assert {e.path.split("!")[1] for e in report.errors} == {"demo/cut.so"}


def test_platform_wheel_without_elf_is_an_input_error(tmp_path):
    wheel = make_wheel(tmp_path, "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", {"demo/__init__.py": b"x = 1\n"})
    report = abicheck.check([wheel])
    assert report.exit_code == 2 and "no ELF, Mach-O or PE objects found" in report.errors[0].message
    pure = make_wheel(tmp_path, "demo-1.0-py3-none-any.whl", {"demo/__init__.py": b"x = 1\n"})
    assert abicheck.check([pure]).exit_code == 0  # a pure-Python wheel: nothing to check (tests/test_wheels_in_folders)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 this is not really a zip", os.urandom(300)])
def test_corrupt_zip_is_one_input_error(tmp_path, content):
    wheel = tmp_path / GOOD
    wheel.write_bytes(content)
    report = abicheck.check([str(wheel)])
    assert report.exit_code == 2
    assert len(report.errors) == 1 and "not a readable wheel" in report.errors[0].message


def test_corrupt_member_data_is_reported(tmp_path):
    wheel = make_wheel(tmp_path, GOOD, {"demo/a.so": bin_path("x86_64/newglibc.so")})
    data = bytearray(open(wheel, "rb").read())
    with zipfile.ZipFile(wheel) as zf:
        info = zf.getinfo("demo/a.so")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + 10, start + 400):
        data[i] ^= 0x5A
    open(wheel, "wb").write(bytes(data))
    report = abicheck.check([wheel])
    assert report.exit_code == 2 and "demo/a.so" in report.errors[0].path


def test_wheel_name_parsing():
    tags = parse_wheel_name("torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl")
    assert tags.claims["x86_64"].name == "manylinux_2_28" and not tags.abi3
    multi = parse_wheel_name("k-1-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.manylinux_2_28_x86_64.whl")
    assert multi.claims["x86_64"].name == "manylinux_2_17" and multi.abi3
    assert parse_wheel_name("not a wheel.whl").claims == {}


def test_a_zip_version_python_cannot_read_is_an_input_error(tmp_path):
    wheel = make_wheel(tmp_path, GOOD, {"demo/good.so": bin_path("x86_64/portable-glibc228.so")})
    data = bytearray(Path(wheel).read_bytes())
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        data[at + 6:at + 8] = (64).to_bytes(2, "little")  # "version needed to extract": 6.4
        at = data.find(b"PK\x01\x02", at + 4)
    Path(wheel).write_bytes(bytes(data))
    report = abicheck.check([wheel])
    assert report.exit_code == 2 and report.errors[0].path == wheel
    assert "zip file version 6.4" in report.errors[0].message
