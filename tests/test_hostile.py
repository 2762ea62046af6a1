"""Odd and hostile surroundings: outputs that are inputs, closed or broken streams, odd names, caps."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time

import pytest
from conftest import bin_path, run_cli

import abicheck
from abicheck.binary import elf as elf_module
from abicheck.binary.elf import open_elf
from abicheck.errors import ElfError, UsageError

HOST = bin_path("x86_64/newglibc.so")
GOOD = bin_path("x86_64/portable-glibc228.so")


def test_an_output_that_is_an_input_is_refused_and_the_input_kept(tmp_path):
    victim = tmp_path / "v.so"
    shutil.copy(HOST, victim)
    before = victim.read_bytes()
    for args in (["check", str(victim), "-o", str(victim)],
                 ["abi", "dump", str(victim), "-o", str(victim)],
                 ["abi", "stub", str(victim), "-o", str(victim)]):
        done = run_cli(*args)
        assert done.returncode == 2 and "is one of the inputs" in done.stderr, args
        assert victim.read_bytes() == before, args
    link = tmp_path / "link.so"
    os.symlink(victim, link)  # the same file under another name
    assert run_cli("check", str(victim), "-o", str(link)).returncode == 2
    assert victim.read_bytes() == before


def test_outputs_are_written_whole_and_stubs_chmod_only_their_own_file(tmp_path):
    report = tmp_path / "report.json"
    assert run_cli("check", HOST, "--format", "json", "-o", str(report)).returncode == 1
    assert json.loads(report.read_text())["summary"]["findings"] > 0
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left behind
    stub = tmp_path / "libshape.so"
    assert run_cli("abi", "stub", bin_path("x86_64/abi/libshape-v1.so"), "-o", str(stub)).returncode == 0
    assert stat.S_IMODE(stub.stat().st_mode) & 0o111
    before = os.stat("/dev/null")
    assert run_cli("abi", "stub", bin_path("x86_64/abi/libshape-v1.so"), "-o", "/dev/null").returncode == 0
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_mode == before.st_mode


def test_empty_values_are_usage_errors_not_ignored():
    for args in (["check", GOOD, "-o", ""], ["check", GOOD, "--policy", ""], ["check", GOOD, "--torch", ""]):
        done = run_cli(*args)
        assert done.returncode == 2 and done.stderr.startswith("abicheck: error:"), args


def _shell(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True)


def test_broken_and_closed_streams_give_the_results_exit_code():
    for path, code in ((HOST, 1), (GOOD, 0)):
        piped = _shell(f"abicheck check {path} | head -c 0; exit ${{PIPESTATUS[0]}}")
        assert piped.returncode == code and "Traceback" not in piped.stderr and "error" not in piped.stderr
        closed = _shell(f"abicheck check {path} >&- 2>&-")
        assert closed.returncode == code
    same = _shell(f"abicheck abi diff {GOOD} {GOOD} | head -c 0; exit ${{PIPESTATUS[0]}}")
    assert same.returncode == 0  # not 1, which would mean "breaking"


def test_sigint_exits_130_as_shells_expect(tmp_path):
    script = tmp_path / "slow.py"
    script.write_text("import time, abicheck.cli.entry as e\n"
                      "e.guarded(lambda: time.sleep(30))\n")
    child = subprocess.Popen([sys.executable, str(script)], stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    child.send_signal(signal.SIGINT)
    _out, err = child.communicate(timeout=20)
    assert child.returncode == 130 and "interrupted" in err


def test_names_that_are_not_utf8_are_escaped_in_every_format(tmp_path):
    folder = tmp_path / "objects"
    folder.mkdir()
    shutil.copy(HOST, os.fsencode(folder) + b"/\xff\xfe.so")
    for fmt in ("text", "json", "sarif", "github"):
        out = tmp_path / f"report.{fmt}"
        done = run_cli("check", str(folder), "--format", fmt, "-o", str(out))
        assert done.returncode == 1, (fmt, done.stderr)
        text = out.read_text(encoding="utf-8")
        assert "AB101" in text
        if fmt == "sarif":
            assert "%FF%FE.so" in text
        elif fmt == "json":
            assert json.loads(text)["summary"]["findings"] > 0
        else:
            assert "\\udcff\\udcfe.so" in text


def test_a_newline_in_a_name_does_not_split_the_line(tmp_path):
    odd = tmp_path / "a\nAB999 fake.so"
    shutil.copy(HOST, odd)
    done = run_cli("check", str(odd))
    assert done.returncode == 1
    assert all(line.startswith((str(tmp_path), "  hint:", "Checked")) or not line
               for line in done.stdout.splitlines())
    assert "a\\nAB999 fake.so" in done.stdout


def test_absurd_job_counts_are_usage_errors():
    with pytest.raises(UsageError, match="more than 256"):
        abicheck.check([GOOD], jobs=30000)
    done = run_cli("check", GOOD, "-j", "99999999999999999999")
    assert done.returncode == 2 and "more than 256" in done.stderr


def test_the_version_need_cap_covers_all_levels_together(monkeypatch):
    with open_elf(HOST) as reader:
        total = len(reader.facts.version_needs)
        per_library = max(sum(1 for n in reader.facts.version_needs if n.library == lib)
                           for lib in {n.library for n in reader.facts.version_needs})
    assert total > per_library  # needs from more than one library: a per-level cap would not see the total
    monkeypatch.setattr(elf_module, "MAX_VERSION_ENTRIES", total - 1)
    with pytest.raises(ElfError, match=f"exceed {total - 1} entries"), open_elf(HOST):
        pass


def test_malformed_config_and_data_files_are_one_line_errors(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool]\nabicheck = "not a table"\n')
    done = run_cli("check", GOOD, cwd=tmp_path)
    assert done.returncode == 2 and "[tool.abicheck] must be a table" in done.stderr
    (tmp_path / "pyproject.toml").write_text("[tool.abicheck]\npolicy = " + "[" * 100_000 + "\n")
    done = run_cli("check", GOOD, cwd=tmp_path)
    assert done.returncode == 2 and "cannot read [tool.abicheck]" in done.stderr and "Traceback" not in done.stderr
    os.remove(tmp_path / "pyproject.toml")
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    done = run_cli("check", GOOD, "--policy-file", str(deep))
    assert done.returncode == 2 and "not valid JSON" in done.stderr
    done = run_cli("abi", "diff", str(deep), GOOD)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    shape = tmp_path / "shape.json"
    shape.write_text('{"soname": 5, "symbols": "x"}')
    done = run_cli("abi", "diff", str(shape), GOOD)
    assert done.returncode == 2 and "Traceback" not in done.stderr
