"""A folder of wheels (dist/, a wheelhouse) is checked wheel by wheel; a pure-Python wheel has nothing to check."""

from __future__ import annotations

import json

from conftest import bin_path, make_wheel, run_cli

import abicheck
from abicheck.rules import all_rules


def dist(tmp_path, *, bad: bool = True, pure: bool = True, loose: bool = False):
    folder = tmp_path / "dist"
    folder.mkdir()
    make_wheel(folder, "good-1.0-cp311-cp311-manylinux_2_28_x86_64.whl",
               {"good/_g.so": bin_path("x86_64/portable-glibc228.so")})
    if bad:
        make_wheel(folder, "bad-1.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                   {"bad/_b.so": bin_path("x86_64/newglibc.so")})
    if pure:
        make_wheel(folder, "purepkg-1.0-py3-none-any.whl", {"purepkg/__init__.py": b"x = 1\n"})
    if loose:
        (folder / "clean.so").write_bytes(open(bin_path("x86_64/portable-glibc228.so"), "rb").read())
    return folder


def test_a_folder_of_wheels_is_checked_wheel_by_wheel(tmp_path):
    folder = dist(tmp_path, loose=True)
    done = run_cli("check", str(folder))
    assert done.returncode == 1  # the bad wheel's findings: before, the folder passed with only clean.so checked
    assert "bad-1.0-cp311-cp311-manylinux_2_28_x86_64.whl!bad/_b.so: AB101" in done.stdout
    assert "purepkg-1.0-py3-none-any.whl: no compiled objects (pure Python): nothing to check" in done.stdout
    data = json.loads(run_cli("check", "--format", "json", str(folder)).stdout)
    checked = sorted(a["path"].split("dist/", 1)[-1] for a in data["artifacts"] if a["kind"] == "elf")
    assert checked == ["bad-1.0-cp311-cp311-manylinux_2_28_x86_64.whl!bad/_b.so", "clean.so",
                       "good-1.0-cp311-cp311-manylinux_2_28_x86_64.whl!good/_g.so"]


def test_a_folder_of_good_wheels_passes_and_only_wheels_is_no_error(tmp_path):
    report = abicheck.check([str(dist(tmp_path, bad=False))])
    assert report.exit_code == 0 and report.errors == [] and report.objects_checked == 1


def test_a_pure_python_wheel_named_directly_is_nothing_to_check(tmp_path):
    wheel = make_wheel(tmp_path, "purepkg-1.0-py3-none-any.whl", {"purepkg/__init__.py": b"x = 1\n"})
    done = run_cli("check", wheel)
    assert done.returncode == 0 and "nothing to check" in done.stdout
    binary = make_wheel(tmp_path, "empty-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", {"empty/x.py": b""})
    assert run_cli("check", binary).returncode == 2  # a platform wheel without objects is still an error


def test_an_absolute_runpath_is_a_warning_that_fails_only_when_asked(tmp_path):
    """PyPI's torch CPU wheel: 207 of 210 findings were AB202 for /lib/intel64 entries the loader just skips."""
    wheel = make_wheel(tmp_path, "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                       {"demo/_x.so": bin_path("x86_64/rpath-absolute.so")})
    done = run_cli("check", wheel)
    assert done.returncode == 0
    assert "AB202 [rpath-outside-package] warning: RPATH entry /opt/vendor/lib" in done.stdout
    assert "1 finding in 1 artifact (1 warning, which --fail-on warning fails)." in done.stdout
    assert run_cli("check", "--fail-on", "warning", wheel).returncode == 1
    data = json.loads(run_cli("check", "--format", "json", wheel).stdout)
    assert [f["severity"] for a in data["artifacts"] for f in a["findings"]] == ["warning"]
    nix = abicheck.check([bin_path("x86_64/rpath-absolute.so")], target="nix")
    assert [f.severity for f in nix.findings if f.code == "AB202"] == ["error"]  # in a Nix output: an impurity
    assert run_cli("check", "--fail-on", "never", wheel).returncode == 2


def test_concise_output_and_statistics(tmp_path):
    """sgl_kernel: 504 AB101 findings from 63 (object, version) pairs drowned the report."""
    so = bin_path("x86_64/newglibc.so")
    concise = run_cli("check", "--format", "concise", so)
    lines = [line for line in concise.stdout.splitlines() if ": AB101 " in line]
    assert len(lines) == 1 and "AB101 [symbol-version-too-new] 7 findings: " in lines[0]
    assert "hint:" not in concise.stdout and concise.returncode == 1
    stats = run_cli("check", "--statistics", so)
    assert stats.stdout.splitlines()[0].split() == ["7", "AB101", "[symbol-version-too-new]"]
    assert run_cli("check", "--statistics", "--format", "json", so).returncode == 2


def test_explain_without_a_code_lists_every_rule():
    done = run_cli("explain")
    assert done.returncode == 0
    codes = [line.split()[0] for line in done.stdout.splitlines() if line.startswith("AB")]
    assert codes == [rule.code for rule in all_rules()] and "AB405" in codes
