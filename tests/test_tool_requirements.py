"""Tests that need a system tool skip without it, naming it, and fail without it under CI."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT


def _run_without_tools(tmp_path, ci: bool) -> subprocess.CompletedProcess:
    bare = tmp_path / "bin"  # a PATH with the interpreter and nothing else
    bare.mkdir(exist_ok=True)
    if not (bare / "python").exists():
        os.symlink(sys.executable, bare / "python")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PATH"] = str(bare)
    if ci:
        env["CI"] = "true"
    test = "tests/test_manifest_oracle.py::test_manifest_matches_readelf[bin/x86_64/newglibc.so-]"
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", test],
                          cwd=ROOT, env=env, capture_output=True, text=True)


def test_a_missing_tool_is_a_named_skip(tmp_path):
    done = _run_without_tools(tmp_path, ci=False)
    assert done.returncode == 0, done.stdout
    assert "1 skipped" in done.stdout and "needs readelf (apt-get install binutils)" in done.stdout


def test_a_missing_tool_fails_under_ci(tmp_path):
    done = _run_without_tools(tmp_path, ci=True)
    assert done.returncode == 1, done.stdout
    assert "missing system tool under CI: readelf (apt-get install binutils)" in done.stdout
