"""Streaming wheel members: kept ranges, the fallback, isal vs zlib, 1 vs N jobs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile

import pytest
from conftest import bin_path, make_wheel, run_cli

import abicheck
from abicheck.binary.elf import ElfReader
from abicheck.errors import InputError, MissingBytes
from abicheck.inputs.stream import MemberStream, SparseBuffer


def _wheel_with_everything(tmp_path):
    members = {f"demo/{i}-{rel.replace('/', '-')}": bin_path(rel) for i, rel in enumerate([
        "x86_64/newglibc.so", "x86_64/newcxx.so", "x86_64/runpath-nix.so", "x86_64/kernels/pyapi-py312.abi3.so",
        "x86_64/tool-nix", "x86_64/portable-glibc228.so", "aarch64/newglibc.so", "bad/linker-script.so",
    ])}
    members["demo/big.dat"] = os.urandom(2 << 20)
    return make_wheel(tmp_path, "demo-1.0-cp39-abi3-manylinux_2_17_x86_64.whl", members)


def test_sparse_buffer_serves_kept_ranges_only():
    buf = SparseBuffer(100, {0: b"0123456789", 50: bytearray(b"abc\0def")})
    assert buf[2:5] == b"234" and buf[50:53] == b"abc" and len(buf) == 100
    assert buf.find(b"\0", 50, 57) == 53
    with pytest.raises(MissingBytes):
        buf[8:12]
    with pytest.raises(MissingBytes):
        buf.find(b"x", 20, 30)


def test_streamed_member_reads_like_the_file(tmp_path):
    wheel = make_wheel(tmp_path, "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                       {"demo/a.so": bin_path("x86_64/newglibc.so")})
    info = zipfile.ZipFile(wheel).getinfo("demo/a.so")
    sparse = MemberStream(wheel, info, "a").read_sparse()
    whole = open(bin_path("x86_64/newglibc.so"), "rb").read()
    assert isinstance(sparse, SparseBuffer)
    assert ElfReader(sparse).facts == ElfReader(whole).facts


def test_tables_outside_the_kept_head_are_streamed_again_and_kept(tmp_path, monkeypatch):
    """With a tiny head, the dynamic tables are not kept: the member is streamed again, keeping them."""
    wheel = make_wheel(tmp_path, "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                       {"demo/a.so": bin_path("x86_64/newglibc.so")})
    expected = [(f.code, f.symbol, f.version) for f in abicheck.check([bin_path("x86_64/newglibc.so")]).findings]
    info = zipfile.ZipFile(wheel).getinfo("demo/a.so")
    with pytest.raises(MissingBytes):
        ElfReader(MemberStream(wheel, info, "a").read_sparse(head_bytes=256))
    monkeypatch.setattr(MemberStream.read_sparse, "__defaults__", (256, (), False))
    got = [(f.code, f.symbol, f.version) for f in abicheck.check([wheel]).findings if f.code != "AB402"]
    assert got == expected


def test_stored_members_are_read_too(tmp_path):
    wheel = make_wheel(tmp_path, "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                       {"demo/a.so": bin_path("x86_64/newglibc.so")}, compression=zipfile.ZIP_STORED)
    assert {f.symbol for f in abicheck.check([wheel]).findings} >= {"pthread_join", "arc4random"}


def _json(wheel, *extra, env=None):
    done = subprocess.run(["abicheck", "check", "--format", "json", wheel, *extra], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, check=False)
    return done.returncode, json.loads(done.stdout)


def test_isal_and_zlib_and_any_number_of_jobs_give_identical_json(tmp_path):
    import isal  # noqa: F401 - the comparison needs both inflaters

    wheel = _wheel_with_everything(tmp_path)
    baseline = _json(wheel, "--jobs", "1")
    assert baseline[0] == 1 and baseline[1]["summary"]["findings"] > 10
    assert _json(wheel, "--jobs", "4") == baseline
    assert _json(wheel, "--jobs", "1", env={"ABICHECK_NO_ISAL": "1"}) == baseline
    assert _json(wheel, "--jobs", "3", env={"ABICHECK_NO_ISAL": "1"}) == baseline


def test_inflater_choice_is_reported():
    code = "from abicheck.inputs.stream import inflater_name; print(inflater_name())"
    def run(env):
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout.strip()

    assert run({**os.environ, "ABICHECK_NO_ISAL": "1"}) == "zlib"
    assert run(dict(os.environ)) == "isal"


def test_bad_jobs_value_is_a_usage_error():
    done = run_cli("check", "--jobs", "0", bin_path("x86_64/tool"))
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_progress_appears_only_when_enabled_and_slow(monkeypatch):
    from abicheck.cli.check import _Progress

    quiet = _Progress(enabled=False)
    quiet("a.so")
    assert quiet.bar is None and quiet.count == 1
    loud = _Progress(enabled=True)
    loud("a.so")
    assert loud.bar is None  # not before the delay
    monkeypatch.setattr(loud, "clock", lambda: loud.started + 10)
    loud("b.so")
    assert loud.bar is not None
    loud.close()


def test_a_member_that_inflates_past_its_declared_size_is_refused(tmp_path):
    """A lying local/central header must not buy unbounded memory in the whole-member read."""
    wheel = make_wheel(tmp_path, "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                       {"demo/a.so": bin_path("x86_64/newglibc.so")})
    info = zipfile.ZipFile(wheel).getinfo("demo/a.so")
    info.file_size = 1024  # claim far less than the data holds
    with pytest.raises(InputError) as caught:
        MemberStream(wheel, info, "a").read_all(1 << 30)
    assert "inflates past its declared size" in str(caught.value)


def _check_with_stderr_on_a_terminal(monkeypatch, tmp_path, fmt, terminal=True, paths=None):
    """Run `check` in-process with stderr on a pseudo-terminal (or a pipe); return (exit, stdout, stderr bytes)."""
    import pty
    import shutil

    from abicheck.cli.check import _Progress, run_check

    folder = tmp_path / "a-build-folder-with-a-name-long-enough-to-overflow-an-80-column-line"
    folder.mkdir()
    for rel in ("x86_64/newglibc.so", "x86_64/portable-glibc228.so", "x86_64/tool"):
        shutil.copy(bin_path(rel), folder / rel.replace("/", "-"))
    master, slave = pty.openpty() if terminal else os.pipe()
    terminal = os.fdopen(slave, "w")
    monkeypatch.setattr(_Progress, "DELAY", 0.0)  # the bar waits 2 s; these objects take milliseconds
    monkeypatch.setattr(sys, "stderr", terminal)
    stdout = []
    monkeypatch.setattr(sys, "stdout", type("Out", (), {"write": stdout.append, "flush": lambda: None})())
    code = run_check(paths or [str(tmp_path)], output_format=fmt)
    terminal.flush()
    os.set_blocking(master, False)
    shown = b""
    try:
        while chunk := os.read(master, 65536):
            shown += chunk
    except (BlockingIOError, OSError):
        pass
    terminal.close()
    os.close(master)
    return code, "".join(stdout), shown


def test_progress_bar_is_drawn_on_a_terminal_for_text_output(monkeypatch, tmp_path):
    code, out, shown = _check_with_stderr_on_a_terminal(monkeypatch, tmp_path, "text")
    assert code == 1 and "pthread_join@GLIBC_2.34" in out
    assert b"checked 3 objects" in shown
    # at 80 columns (a pseudo-terminal's width when it gives none) the timer stays, and the path is cut at a folder
    drawn = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", shown).decode()
    assert "0:00:0" in drawn and "…/x86_64-" in drawn and "a-build-folder" not in drawn
    assert all(len(line) <= 80 for line in re.split(r"[\r\n]", drawn))
    assert "\x1b" not in out and "\r" not in out  # the report itself carries no terminal drawing


def test_progress_bar_counts_towards_the_objects_the_wheels_hold(monkeypatch, tmp_path):
    wheel = make_wheel(tmp_path, "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                       {f"demo/m{i}.so": bin_path("x86_64/portable-glibc228.so") for i in range(3)})
    code, _out, shown = _check_with_stderr_on_a_terminal(monkeypatch, tmp_path, "text", paths=[wheel])
    assert code in (0, 1) and b"checked 3 of 3 objects" in shown
    # a folder's count is found as the walk goes: no total is claimed
    (tmp_path / "folder").mkdir()
    _code, _out, shown = _check_with_stderr_on_a_terminal(monkeypatch, tmp_path / "folder", "text")
    assert b"checked 3 objects" in shown and b" of " not in shown.split(b"checked 3")[1][:4]


def test_progress_bar_is_never_drawn_for_json(monkeypatch, tmp_path):
    code, out, shown = _check_with_stderr_on_a_terminal(monkeypatch, tmp_path, "json")
    assert code == 1 and json.loads(out)["summary"]["objects"] == 3
    assert b"checked" not in shown and shown.strip() == b""


def test_progress_bar_is_never_drawn_when_stderr_is_not_a_terminal(monkeypatch, tmp_path):
    code, out, shown = _check_with_stderr_on_a_terminal(monkeypatch, tmp_path, "text", terminal=False)
    assert code == 1 and "pthread_join@GLIBC_2.34" in out
    assert shown == b""


def test_an_artifact_streams_a_member_again_when_its_symbols_were_not_kept():
    """check, show and abi dump share Artifact.read: tables outside the kept bytes mean one whole read."""
    from elftools.elf.elffile import ELFFile

    from abicheck.inputs.artifact import Origin, elf_artifact

    path = bin_path("x86_64/newglibc.so")
    whole = open(path, "rb").read()
    with open(path, "rb") as f:
        dynsym = ELFFile(f).get_section_by_name(".dynsym")
        hole = (dynsym["sh_offset"], dynsym["sh_offset"] + dynsym["sh_size"])
    holed = SparseBuffer(len(whole), {0: whole[:hole[0]], hole[1]: whole[hole[1]:]})  # all but .dynsym
    expected = [s.name for s in ElfReader(whole).imports()]
    reloads = []

    def reload(extra):
        reloads.append(extra)
        kept = {0: whole[:hole[0]], hole[1]: whole[hole[1]:]}
        kept.update({start: whole[start:stop] for start, stop in extra})  # what a second pass keeps
        return ElfReader(SparseBuffer(len(whole), kept), "demo.whl!a.so")

    item = elf_artifact(Origin("demo.whl!a.so"), ElfReader(holed, "demo.whl!a.so"), reload)
    assert [s.name for s in item.read(lambda reader: reader.imports())] == expected
    assert len(reloads) == 1 and hole[0] <= reloads[0][0][0] < hole[1]
    assert item.read(lambda reader: len(reader.imports())) == len(expected)
    assert len(reloads) == 1  # the re-read reader, with .dynsym kept, serves later uses
    without = elf_artifact(Origin("a.so"), ElfReader(holed, "a.so"))
    with pytest.raises(MissingBytes):
        without.read(lambda reader: reader.imports())
