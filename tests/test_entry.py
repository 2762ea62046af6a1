"""The fast `abicheck check` entry path and the typer app agree."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer.main
from conftest import bin_path, run_cli

from abicheck.cli.app import app
from abicheck.cli.entry import CHECK_OPTIONS, parse_check


def test_fast_parser_knows_exactly_the_check_options_typer_defines():
    command = typer.main.get_command(app).commands["check"]
    typer_options = {name for param in command.params for name in param.opts if name.startswith("-")}
    assert set(CHECK_OPTIONS) == typer_options - {"--help", "-h"}


@pytest.mark.parametrize("argv", [
    ["check", "--help"], ["check"], ["show", "x"], ["check", "--bogus", "x"], ["check", "--jobs", "0", "x"],
    ["check", "--policy"], ["check", "--", "x"],
])
def test_anything_unusual_goes_to_typer(argv):
    assert parse_check(argv) is None


def test_fast_parser_reads_values_forms_and_repeats():
    kwargs = parse_check(["check", "a.so", "--select=AB1", "--select", "AB2", "-j", "3", "-o", "r.json", "b.whl"])
    assert kwargs == {"paths": ["a.so", "b.whl"], "select": ["AB1", "AB2"], "jobs": 3, "output": "r.json"}


def _typer_path(*args: str) -> subprocess.CompletedProcess:
    code = "import sys; from abicheck.cli.app import app; sys.argv = ['abicheck', *sys.argv[1:]]; app()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("args", [
    ["check", bin_path("x86_64/newglibc.so")],
    ["check", "--format", "json", "--select", "AB1", bin_path("x86_64/newcxx.so")],
    ["check", "--target=nix", bin_path("x86_64/tool"), bin_path("bad/linker-script.so")],
    ["check", "--policy", "manylinux_9_9", bin_path("x86_64/tool")],
])
def test_both_paths_print_the_same_and_exit_the_same(args):
    fast, slow = run_cli(*args), _typer_path(*args)
    assert (fast.returncode, fast.stdout, fast.stderr) == (slow.returncode, slow.stdout, slow.stderr)
