"""The `abicheck` command as users run it: real processes, exit codes, formats."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import ROOT, SCRIPTS, bin_path, make_wheel, run_cli, sha256

HOST = bin_path("x86_64/newglibc.so")
ZIG = bin_path("x86_64/portable-glibc228.so")


def _schema(name):
    return json.loads((ROOT / name).read_text())


def test_host_object_exits_1_and_names_each_symbol(manifest):
    done = run_cli("check", HOST)
    assert done.returncode == 1, done.stderr
    for sym in ("pthread_join@GLIBC_2.34", "pthread_create@GLIBC_2.34", "exp@GLIBC_2.29", "arc4random@GLIBC_2.36"):
        assert f"AB101 [symbol-version-too-new] {sym}" in done.stdout
    assert "hint:" in done.stdout and done.stderr == ""


def test_zig_object_exits_0():
    done = run_cli("check", ZIG)
    assert done.returncode == 0 and "no findings" in done.stdout


@pytest.mark.parametrize("rel", ["bad/linker-script.so", "bad/truncated-header.so", "bad/truncated-tables.so",
                                 "bad/garbage.so", "bad/not-elf.so", "bad/empty.so"])
def test_bad_input_is_one_clear_line_and_exit_2(rel):
    path = bin_path(rel)
    before = sha256(path)
    done = run_cli("check", path)
    assert done.returncode == 2
    errors = [line for line in done.stdout.splitlines() if ": error: " in line]
    assert len(errors) == 1 and errors[0].startswith(path)
    assert "Traceback" not in done.stdout + done.stderr
    assert sha256(path) == before


def test_missing_path_and_corrupt_zip(tmp_path):
    wheel = tmp_path / "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    wheel.write_bytes(b"PK\x03\x04garbage")
    done = run_cli("check", str(tmp_path / "missing.so"), str(wheel))
    assert done.returncode == 2
    assert f"{tmp_path / 'missing.so'}: error: no such file or directory" in done.stdout
    assert f"{wheel}: error: not a readable wheel" in done.stdout
    assert "Traceback" not in done.stderr


def test_findings_take_precedence_over_input_errors(tmp_path):
    done = run_cli("check", HOST, str(tmp_path / "missing.so"))
    assert done.returncode == 1


def test_usage_errors_exit_2_without_traceback():
    for args in (["check", HOST, "--policy", "manylinux_9_99"], ["check", HOST, "--target", "docker"],
                 ["check", HOST, "--arch", "sparc"], ["check", HOST, "--format", "xml"],
                 ["check", HOST, "--select", "AB9"], ["explain", "AB999"], ["check"], ["frobnicate"]):
        done = run_cli(*args)
        assert done.returncode == 2, args
        assert "Traceback" not in done.stderr, args


def test_json_output_validates_against_the_documented_schema(tmp_path):
    wheel = make_wheel(tmp_path, "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
                       {"demo/a.so": HOST, "demo/b.so": bin_path("bad/truncated-tables.so"),
                        "demo/c.so": bin_path("bad/linker-script.so")})
    done = run_cli("check", "--format", "json", wheel, bin_path("x86_64/runpath-usr.so"))
    data = json.loads(done.stdout)
    jsonschema.validate(data, _schema("docs/report-v1.schema.json"))
    assert data["schema_version"] == 1 and data["summary"]["exit_code"] == done.returncode == 1
    findings = [f for a in data["artifacts"] for f in a["findings"]]
    join = next(f for f in findings if f.get("symbol") == "pthread_join")
    assert join["version"] == "GLIBC_2.34" and join["library"] == "libc.so.6"
    assert {"code", "name", "message", "hint"} <= set(join)
    assert {f["code"] for f in findings} == {"AB101", "AB202", "AB402"}
    assert data["errors"][0]["path"].endswith("!demo/b.so")
    assert data["summary"]["skipped_non_elf"] >= 2  # demo/c.so and the wheel's metadata files
    host = next(a for a in data["artifacts"] if a["path"].endswith("!demo/a.so"))
    assert {"library": "libc.so.6", "how": "system", "where": "the C library"} in host["needed"]


def test_sarif_output_validates_against_sarif_2_1_0(tmp_path):
    done = run_cli("check", "--format", "sarif", HOST, bin_path("x86_64/tool-nix"), bin_path("bad/garbage.so"))
    sarif = json.loads(done.stdout)
    jsonschema.validate(sarif, _schema("tests/data/sarif-schema-2.1.0.json"))
    results = sarif["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"AB101", "AB201"}
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)
    assert sarif["runs"][0]["invocations"][0]["executionSuccessful"] is False


def test_github_annotations():
    done = run_cli("check", "--format", "github", HOST)
    lines = [line for line in done.stdout.splitlines() if line.startswith("::error ")]
    assert len(lines) == 7 and all(f"file={HOST}" in line for line in lines)
    assert any("title=AB101 symbol-version-too-new::pthread_join@GLIBC_2.34" in line for line in lines)


def test_output_file(tmp_path):
    out = tmp_path / "report.json"
    done = run_cli("check", HOST, "--format", "json", "--output", str(out))
    assert done.returncode == 1 and done.stdout == ""
    assert json.loads(out.read_text())["summary"]["findings"] == 7
    assert "Report written to" in done.stderr


def test_select_ignore_from_command_line():
    done = run_cli("check", bin_path("x86_64/runpath-usr.so"), bin_path("x86_64/tool-nix"), "--select", "AB201")
    assert done.returncode == 1 and "AB202" not in done.stdout and "AB201" in done.stdout
    done = run_cli("check", bin_path("x86_64/tool-nix"), "--ignore", "AB2,AB1")
    assert done.returncode == 0


def test_pyproject_configuration_is_read_from_the_nearest_file(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.abicheck]\npolicy = "manylinux_2_34"\nignore = ["AB202"]\n')
    sub = tmp_path / "sub"
    sub.mkdir()
    shutil.copy(HOST, sub / "k.so")
    shutil.copy(bin_path("x86_64/runpath-usr.so"), sub / "r.so")
    done = run_cli("check", "k.so", "r.so", cwd=sub)
    assert done.returncode == 1
    assert "arc4random@GLIBC_2.36" in done.stdout and "pthread_join" not in done.stdout and "AB202" not in done.stdout
    # The command line wins over the file.
    assert run_cli("check", "k.so", "--policy", "manylinux_2_36", cwd=sub).returncode == 0


def test_bad_pyproject_is_a_usage_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.abicheck]\nselect = 3\n')
    shutil.copy(HOST, tmp_path / "k.so")
    done = run_cli("check", "k.so", cwd=tmp_path)
    assert done.returncode == 2 and "[tool.abicheck] select" in done.stderr


def test_a_misspelt_pyproject_key_is_a_usage_error_naming_the_known_ones(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.abicheck]\nignroe = ["AB202"]\n')
    shutil.copy(HOST, tmp_path / "k.so")
    done = run_cli("check", "k.so", cwd=tmp_path)
    assert done.returncode == 2
    assert "unknown key 'ignroe' in [tool.abicheck]; known keys:" in done.stderr and "ignore" in done.stderr


def test_pyproject_is_read_from_the_checked_paths_project_not_the_working_directory(tmp_path):
    project = tmp_path / "kernel"
    (project / "build").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[tool.abicheck]\npolicy = "manylinux_2_36"\n')
    shutil.copy(HOST, project / "build" / "k.so")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert run_cli("check", str(project / "build" / "k.so"), cwd=elsewhere).returncode == 0  # 2.36 allows it
    assert run_cli("check", str(project / "build"), cwd=elsewhere).returncode == 0


def test_show_summarises_an_object():
    done = run_cli("show", HOST, bin_path("x86_64/tool-nix"), bin_path("x86_64/runpath-origin.so"))
    assert done.returncode == 0
    assert "GLIBC_2.36" in done.stdout and "manylinux_2_36_x86_64" in done.stdout
    assert "/nix/store/0c6q3ix6p7yqr0d8bhvzk6x9a9mr6b9l-glibc-2.28/lib/ld-linux-x86-64.so.2" in done.stdout
    assert "$ORIGIN/../lib:$ORIGIN" in done.stdout
    data = json.loads(run_cli("show", "--format", "json", bin_path("x86_64/newcxx.so")).stdout)
    obj = data["objects"][0]
    assert obj["highest_versions"]["GLIBCXX"] == "GLIBCXX_3.4.29"
    assert obj["most_compatible"] == "manylinux_2_34_x86_64"


def test_show_reports_bad_input_with_exit_2():
    done = run_cli("show", bin_path("bad/linker-script.so"))
    assert done.returncode == 2 and "linker script" in done.stdout


def test_policies_lists_maximum_versions():
    done = run_cli("policies", "--arch", "x86_64")
    assert done.returncode == 0
    block = done.stdout.split("manylinux_2_28\n")[1].splitlines()[0]
    assert "GLIBC 2.28" in block and "GLIBCXX 3.4.24" in block and "CXXABI 1.3.11" in block and "GCC 7.0.0" in block
    assert "manylinux_2_17 (alias manylinux2014)" in done.stdout and "musllinux_1_2" in done.stdout


def test_explain():
    done = run_cli("explain", "AB101")
    assert done.returncode == 0 and "symbol-version-too-new" in done.stdout and "Fix:" in done.stdout


def test_python_dash_m_and_version():
    done = subprocess.run([sys.executable, "-m", "abicheck", "check", ZIG], capture_output=True, text=True)
    assert done.returncode == 0
    assert run_cli("--version").stdout.startswith("abicheck ")


def test_help_lists_the_commands():
    done = run_cli("--help")
    assert done.returncode == 0
    for word in ("check", "show", "policies", "explain"):
        assert word in done.stdout


def test_no_absolute_machine_paths_leak_into_json_for_relative_input():
    done = run_cli("check", "--format", "json", os.path.relpath(HOST, ROOT), cwd=ROOT)
    data = json.loads(done.stdout)
    assert all(not a["path"].startswith("/") for a in data["artifacts"])


def test_the_readme_option_table_and_check_help_agree():
    """Every `check` option is in the README's table with the placeholder `--help` shows, and nothing more."""
    import re

    import typer.main

    from abicheck.cli.app import app

    command = typer.main.get_command(app).commands["check"]  # type: ignore[attr-defined]
    helped = {}
    for param in command.params:
        longs = [o for o in param.opts if o.startswith("--")]
        if longs and longs[0] != "--help":
            helped[longs[0]] = None if param.is_flag else param.metavar
    readme = (ROOT / "README.md").read_text()
    table = readme.split("`abicheck check` options:", 1)[1].split("\n\n", 2)[1]
    documented = {}
    for row in table.splitlines()[2:]:
        first = row.split(" | ", 1)[0]
        for name, metavar in re.findall(r"`(--[a-z-]+)(?: ([^`]+))?`", first):
            documented.setdefault(name, metavar.replace("\\|", "|") or None)
    documented.pop("--manylinux", None)  # named beside --policy, as an alias
    assert documented == helped


@pytest.mark.parametrize("option, value, words", [
    ("--backend", "cu999", "newer than any release abicheck's data knows"),
    ("--torch-stable-abi", "9.9", "newer than any torch release"),
    ("--python-abi", "2.7", "begins with Python 3.2"),
    ("--format", "xml", "use one of text, concise, json, sarif, github"),
])
def test_values_outside_what_abicheck_knows_are_usage_errors(option, value, words):
    done = run_cli("check", bin_path("x86_64/portable-glibc228.so"), option, value)
    assert done.returncode == 2 and words in done.stderr and done.stderr.count("\n") == 1, done.stderr


def test_sarif_locations_are_repository_paths_with_a_region_and_wheel_members_as_logical_locations(tmp_path):
    """Code scanning shows only paths relative to the repository, anchored to a line."""
    dist = tmp_path / "repo" / "dist"
    dist.mkdir(parents=True)
    shutil.copy(HOST, dist / "host lib.so")
    wheel = make_wheel(dist, "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", {"demo/a.so": HOST})
    done = run_cli("check", "--format", "sarif", "dist", bin_path("x86_64/tool-nix"), cwd=tmp_path / "repo")
    sarif = json.loads(done.stdout)
    jsonschema.validate(sarif, _schema("tests/data/sarif-schema-2.1.0.json"))
    run = sarif["runs"][0]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == (tmp_path / "repo").as_uri() + "/"
    places = {}
    for result in run["results"]:
        (location,) = result["locations"]
        artifact = location["physicalLocation"]["artifactLocation"]
        assert location["physicalLocation"]["region"] == {"startLine": 1}
        member = [m["fullyQualifiedName"] for m in location.get("logicalLocations", [])]
        places[(artifact["uri"], artifact.get("uriBaseId"), *member)] = result["partialFingerprints"]
    assert set(places) == {("dist/host%20lib.so", "%SRCROOT%"),
                           (f"dist/{os.path.basename(wheel)}", "%SRCROOT%", "demo/a.so"),
                           (f"dist/{os.path.basename(wheel)}", "%SRCROOT%"),  # the wheel's own (its tag)
                           (Path(bin_path("x86_64/tool-nix")).as_uri(), None)}
    # fingerprints: one per finding, the same in another checkout of the repository
    again = tmp_path / "elsewhere"
    shutil.copytree(tmp_path / "repo", again)
    rerun = run_cli("check", "--format", "sarif", "dist", cwd=again)
    first = {r["partialFingerprints"]["abicheckFinding/v1"] for r in run["results"]
             if r["locations"][0]["physicalLocation"]["artifactLocation"].get("uriBaseId")}
    second = {r["partialFingerprints"]["abicheckFinding/v1"] for r in json.loads(rerun.stdout)["runs"][0]["results"]}
    assert first == second and len(first) == sum(1 for r in run["results"]
                                                 if r["locations"][0]["physicalLocation"]["artifactLocation"]
                                                 .get("uriBaseId"))


@pytest.mark.parametrize("path, width, shown", [
    ("build/torch212-cxx11-cu130-x86_64-linux/relu/_relu.abi3.so", 46, "…/relu/_relu.abi3.so"),
    ("dist/torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl!torch/lib/libtorch_cpu.so", 46,
     "…/torch/lib/libtorch_cpu.so"),
    ("short/x.so", 46, "short/x.so"),
    ("a/" + "n" * 60 + ".so", 20, "…" + ("n" * 60 + ".so")[-19:]),  # one name longer than the line
])
def test_the_progress_line_shortens_paths_at_folder_boundaries(path, width, shown):
    from abicheck.cli.check import shorten

    assert shorten(path, width) == shown and len(shown) <= width


def _readme_sessions() -> list[tuple[str, list[str], int | None]]:
    """The README's console examples that run on this repository's test data: (command, output lines, exit)."""
    import re
    import shlex

    sessions: list[tuple[str, list[str], int | None]] = []
    for block in re.findall(r"```console\n(.*?)```", (ROOT / "README.md").read_text(), re.S):
        for chunk in re.split(r"^(?=\$ )", block, flags=re.M):
            if not chunk.startswith("$ "):
                continue
            command, *shown = chunk.rstrip("\n").split("\n")
            if command == "$ echo $?":
                previous = sessions[-1]
                sessions[-1] = (previous[0], previous[1], int(shown[0]))
                continue
            words = shlex.split(command[2:])
            paths = [w for w in words[1:] if "/" in w or w == "."]
            if words[0] == "abicheck" and paths and all(w.startswith("testdata/") for w in paths):
                sessions.append((command[2:], shown, None))
    return sessions


def _matches(shown: list[str], got: list[str]) -> bool:
    """`got` is `shown`, where a line `...` in `shown` stands for any lines."""
    if not shown:
        return not got
    if shown[0] == "...":
        return any(_matches(shown[1:], got[i:]) for i in range(len(got) + 1))
    return bool(got) and got[0] == shown[0] and _matches(shown[1:], got[1:])


def test_the_readme_console_examples_on_the_test_data_print_what_they_show():
    import shlex

    sessions = _readme_sessions()
    assert len(sessions) >= 4  # the quick start's check, abi dump, --hash and diff
    for command, shown, code in sessions:
        done = run_cli(*shlex.split(command)[1:], cwd=ROOT)
        got = (done.stdout + done.stderr).rstrip("\n").split("\n")
        assert _matches(shown, got), f"{command}\n--- README\n" + "\n".join(shown) + "\n--- got\n" + "\n".join(got)
        if code is not None:
            assert done.returncode == code, command


def test_shell_completion_names_commands_and_the_values_of_closed_options():
    def complete(words: str, index: int) -> list[str]:
        script = SCRIPTS / "abicheck"
        done = subprocess.run([str(script)], capture_output=True, text=True, check=False,
                              env={**os.environ, "_ABICHECK_COMPLETE": "complete_bash", "COMP_WORDS": words,
                                   "COMP_CWORD": str(index)})
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert complete("abicheck ch", 1) == ["check"]
    assert complete("abicheck check --format s", 3) == ["sarif"]
    assert complete("abicheck check --fail-on ", 3) == ["error", "warning"]
    shown = run_cli("--show-completion", "bash")
    assert shown.returncode == 0 and "_ABICHECK_COMPLETE=complete_bash" in shown.stdout


@pytest.mark.parametrize("args, words", [
    (["check", "-j", "0", "x.so"], "abicheck: error: Invalid value for '--jobs' / '-j': 0 is not in the range x>=1; "
                                   "see 'abicheck check -h'"),
    (["frobnicate"], "abicheck: error: No such command 'frobnicate'; see 'abicheck -h'"),
    (["check"], "abicheck: error: Missing argument 'PATH...'; see 'abicheck check -h'"),
    (["abi", "dump"], "abicheck: error: Missing argument 'path'; see 'abicheck abi dump -h'"),
])
def test_usage_errors_from_the_command_parser_are_one_line_in_our_style(args, words):
    done = run_cli(*args)
    assert done.returncode == 2 and done.stderr == words + "\n" and done.stdout == ""
