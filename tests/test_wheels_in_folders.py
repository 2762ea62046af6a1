"""A folder of wheels (dist/, a wheelhouse) is checked wheel by wheel; a pure-Python wheel has nothing to check."""

from __future__ import annotations

import json

from conftest import bin_path, make_wheel, run_cli

import abicheck


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
