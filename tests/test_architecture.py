"""The pipeline's shape keeps its promises: one artifact type, frozen options, summaries that come from
the analysis and not from whichever rules ran."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
from conftest import bin_path, make_wheel, run_cli

import abicheck
from abicheck.errors import UsageError
from abicheck.options import CheckOptions

pytest_plugins = ["pytester"]

MACHO = bin_path("macos/ext-arm64-13.abi3.so")
PE = bin_path("windows/stable-x86_64.pyd")
ELF = bin_path("x86_64/needs-libbar.so")


def artifacts(result) -> list[dict]:
    return json.loads(result.stdout)["artifacts"]


@pytest.mark.parametrize("narrowing", [["--ignore", "AB312"], ["--select", "AB1"], ["--select", "AB401"]])
def test_the_json_summaries_are_the_same_whatever_rules_are_selected(narrowing):
    path = bin_path("x86_64/newcxx.so")
    everything = artifacts(run_cli("check", path, "--format", "json"))
    narrowed = artifacts(run_cli("check", path, "--format", "json", *narrowing))
    assert everything[0]["imports"]["checked"] > 0
    for key in ("imports", "needed", "arch", "policy", "variant"):
        assert narrowed[0].get(key) == everything[0].get(key), key


def test_a_kernels_torch_symbol_summary_is_there_without_ab308(tmp_path):
    torch = tmp_path / "site" / "torch"
    shutil.copytree(bin_path("x86_64/torch/v1/lib"), torch / "lib")
    (torch / "version.py").write_text("__version__ = '2.8.0+cpu'\n")
    kernel = bin_path("x86_64/kernels/torch-kernel.so")
    full = abicheck.check([kernel], torch=str(torch))
    narrow = abicheck.check([kernel], torch=str(torch), select=["AB1"])
    assert full.artifacts[0].symbols == narrow.artifacts[0].symbols == {"checked": 4, "missing": 0,
                                                                        "torch": "2.8.0+cpu"}


def test_abi_dump_of_a_wheel_with_macho_and_pe_members_dumps_every_object(tmp_path):
    wheel = make_wheel(tmp_path, "mixed-1.0-cp311-abi3-manylinux_2_28_x86_64.whl",
                       {"mixed/a.so": ELF, "mixed/b.pyd": PE, "mixed/c.abi3.so": MACHO})
    done = run_cli("abi", "dump", wheel, "--format", "json")
    assert done.returncode == 0, done.stderr
    objects = json.loads(done.stdout)["objects"]
    assert {name: s.get("format", "elf") for name, s in objects.items()} == {
        "mixed/a.so": "elf", "mixed/b.pyd": "pe", "mixed/c.abi3.so": "macho"}
    assert done.stderr == ""
    diff = run_cli("abi", "diff", wheel, wheel)
    assert diff.returncode == 0 and "identical" in diff.stdout


def test_abi_dump_of_a_wheel_with_no_shared_object_is_a_one_line_input_error(tmp_path):
    wheel = make_wheel(tmp_path, "tool-1.0-py3-none-manylinux_2_28_x86_64.whl",
                       {"tool/README": b"no objects here\n"})
    done = run_cli("abi", "dump", wheel)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and wheel in done.stderr and "no ELF, Mach-O or PE objects" in done.stderr


def test_one_artifact_type_for_every_format(tmp_path):
    folder = tmp_path / "objects"
    folder.mkdir()
    for source in (ELF, MACHO, PE):
        shutil.copy(source, folder)
    report = abicheck.check([str(folder)])
    assert sorted(a.kind for a in report.artifacts if a.kind != "wheel") == ["elf", "macho", "pe"]
    assert report.errors == []


def test_options_are_frozen_and_parsed_once():
    options = CheckOptions.parse(policy="manylinux_2_17", python_abi="3.10", macos="14")
    assert options.policy is not None and options.policy.name == "manylinux_2_17"
    assert options.python_abi == (3, 10) and options.macos == (14, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.target = "nix"  # type: ignore[misc]
    with pytest.raises(UsageError, match="unknown option 'polcy'"):
        CheckOptions.parse(polcy="manylinux_2_17")


@pytest.mark.parametrize(("config", "command", "has", "lacks"), [
    # the command line's ignore adds to the project's
    ({"ignore": ["AB202"]}, {"ignore": ["AB101"]}, [], ["AB101", "AB202"]),
    # the command line's select starts afresh: the project's ignore no longer applies
    ({"ignore": ["AB202"]}, {"select": ["AB2"]}, ["AB201", "AB202"], ["AB101"]),
    # extend-select adds to the project's select
    ({"select": ["AB1"]}, {"extend_select": ["AB401"]}, ["AB101", "AB102", "AB401"], ["AB202"]),
    # a later layer's ignore removes what an earlier one selected
    ({"select": ["AB1", "AB2"]}, {"ignore": ["AB102"]}, ["AB101", "AB201"], ["AB102", "AB401"]),
])
def test_rule_selections_combine_across_layers_as_ruffs_do(config, command, has, lacks):
    codes = CheckOptions.from_layers(config, command).codes
    assert set(has) <= codes and not set(lacks) & codes


def test_a_command_line_ignore_adds_to_tool_abicheck_ignore(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.abicheck]\nignore = ["AB202"]\n')
    shutil.copy(bin_path("x86_64/rpath-absolute.so"), project)
    shutil.copy(bin_path("x86_64/newglibc.so"), project)
    base = [f["code"] for a in artifacts(run_cli("check", str(project), "--format", "json")) for f in a["findings"]]
    assert "AB101" in base and "AB202" not in base
    both = run_cli("check", str(project), "--format", "json", "--ignore", "AB101")
    codes = [f["code"] for a in artifacts(both) for f in a["findings"]]
    assert "AB101" not in codes and "AB202" not in codes


def test_abicheck_paths_given_twice_checks_both(pytester):
    for folder, source in (("one", bin_path("x86_64/newglibc.so")), ("two", bin_path("x86_64/newcxx.so"))):
        (pytester.path / folder).mkdir()
        shutil.copy(source, pytester.path / folder)
    result = pytester.runpytest("--abicheck", "--abicheck-paths", "one", "--abicheck-paths", "two",
                                "-p", "no:cacheprovider")
    assert result.parseoutcomes()["failed"] == 2
    result.stdout.fnmatch_lines(["FAILED abicheck::one/newglibc.so*", "FAILED abicheck::two/newcxx.so*"])
