"""The places users run checks: pre-commit, the GitHub Action, and the built distribution."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml
from conftest import ROOT, bin_path, make_wheel

HOST = bin_path("x86_64/newglibc.so")
GOOD = bin_path("x86_64/portable-glibc228.so")


def _steps() -> list[dict]:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    return action["runs"]["steps"]


def _run_step(step: dict, env: dict[str, str], cwd) -> subprocess.CompletedProcess:
    """Run one composite step's script as the runner would: bash, with its env (inputs resolved by us)."""
    return subprocess.run(["bash", "-e", "-c", step["run"]], env={**os.environ, **env}, cwd=cwd,
                          capture_output=True, text=True)


def test_the_action_writes_sarif_annotations_and_the_exit_code(tmp_path):
    check, verdict = _steps()[1], _steps()[2]
    out = tmp_path / "github_output"
    env = {"PATHS": f"{HOST} {GOOD}", "ARGS": "--ignore AB202", "SARIF": str(tmp_path / "r.sarif"),
           "ANNOTATIONS": "true", "GITHUB_OUTPUT": str(out)}
    done = _run_step(check, env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "exit-code=1" in out.read_text()
    sarif = json.loads((tmp_path / "r.sarif").read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"]
    assert re.search(r"^::error file=.*newglibc\.so,title=AB101", done.stdout, re.M)
    failed = _run_step(verdict, {"CODE": "1", "FAIL": "true"}, tmp_path)
    assert failed.returncode == 1 and "abicheck exited 1" in failed.stdout
    assert _run_step(verdict, {"CODE": "1", "FAIL": "false"}, tmp_path).returncode == 0
    assert _run_step(verdict, {"CODE": "0", "FAIL": "true"}, tmp_path).returncode == 0


def test_the_action_inputs_never_reach_the_shell_unquoted():
    for step in _steps():
        assert "${{" not in step["run"], step["name"]  # inputs come in through env, not the script text


def test_pre_commit_hooks_run_as_pre_commit_runs_them(tmp_path):
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    files = hooks["abicheck"]
    assert re.search(files["files"], "build/torch28-cxx11-cu128-x86_64-linux/relu/_relu_cuda_ab12.abi3.so")
    assert re.search(files["files"], "dist/demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl")
    assert not re.search(files["files"], "src/relu.cu")
    # pre-commit appends the staged file names to the entry.
    done = subprocess.run([*files["entry"].split(), HOST], capture_output=True, text=True)
    assert done.returncode == 1 and "AB101" in done.stdout
    # The build outputs are ignored by git, so the repo hook runs on every commit, over the whole repo
    # (monorepos included), and passes when nothing is built yet.
    tree = hooks["abicheck-build"]
    assert tree["pass_filenames"] is False and tree["always_run"] is True and "files" not in tree
    repo = tmp_path / "repo"
    (repo / "relu" / "src").mkdir(parents=True)
    (repo / ".gitignore").write_text("build\nresult\n*.so\n")
    assert subprocess.run(tree["entry"].split(), cwd=repo, capture_output=True, text=True).returncode == 0
    variant = repo / "relu" / "build" / "torch29-cxx11-cpu-x86_64-linux"
    variant.mkdir(parents=True)
    shutil.copy(HOST, variant / "_relu_cpu_ab12.abi3.so")
    done = subprocess.run(tree["entry"].split(), cwd=repo, capture_output=True, text=True)
    assert done.returncode == 1 and "torch29-cxx11-cpu-x86_64-linux" in done.stdout and "AB101" in done.stdout


def test_the_built_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    """python -m build, twine check, a fresh venv, and a check run from elsewhere."""
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], check=True,
                   capture_output=True)
    wheel = next(dist.glob("*.whl"))
    sdist = next(dist.glob("*.tar.gz"))
    subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)], check=True,
                   capture_output=True)
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    for data in ("providers.json", "glibc-symbols.json", "stable-abi.json", "backends.json", "paths.json",
                 "torch-exports.json", "torch-exports.bin", "runtime-exports.json", "runtime-exports.bin"):
        assert f"abicheck/policies/{data}" in names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(wheel)], check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(HOST, elsewhere / "host.so")
    done = subprocess.run([str(venv / "bin" / "abicheck"), "check", "host.so"], cwd=elsewhere,
                          capture_output=True, text=True)
    assert done.returncode == 1 and "pthread_join@GLIBC_2.34" in done.stdout
    version = subprocess.run([str(venv / "bin" / "abicheck"), "--version"], capture_output=True, text=True)
    assert version.stdout.strip() == "abicheck 0.1.0 (manylinux-abicheck)"
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import abicheck; print(abicheck.__file__)"],
                           capture_output=True, text=True, cwd=elsewhere)
    assert str(venv) in where.stdout
    # The README's git recipe (cibuildwheel's test-requires, pipx --spec), from this repository's own history
    if shutil.which("git") and (ROOT / ".git").exists():
        # (a file: URL with a host: the pip a venv brings refuses `name @ git+file:///...`)
        spec = f"manylinux-abicheck @ git+file://localhost{ROOT.as_posix()}"
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--force-reinstall", "--no-deps", spec],
                       check=True, capture_output=True)
        again = subprocess.run([str(venv / "bin" / "abicheck"), "check", "host.so"], cwd=elsewhere,
                               capture_output=True, text=True)
        assert again.returncode == 1 and "pthread_join@GLIBC_2.34" in again.stdout


def test_the_action_expands_globs_and_reads_a_folder_of_wheels(tmp_path):
    """`paths: dist/*.whl` failed (no glob expansion), and `paths: dist/` was refused as a folder of wheels."""
    check = _steps()[1]
    dist = tmp_path / "dist"
    dist.mkdir()
    make_wheel(dist, "bad-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", {"bad/_b.so": HOST})
    make_wheel(dist, "good-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", {"good/_g.so": GOOD})
    for paths in ("dist/*.whl", "dist/"):
        out = tmp_path / f"output-{len(paths)}"
        env = {"PATHS": paths, "ARGS": "", "SARIF": str(tmp_path / "r.sarif"), "ANNOTATIONS": "true",
               "GITHUB_OUTPUT": str(out)}
        done = _run_step(check, env, tmp_path)
        assert done.returncode == 0, done.stderr
        assert "exit-code=1" in out.read_text(), (paths, done.stdout, done.stderr)
        assert re.search(r"^::error file=.*bad-1\.0.*title=AB101", done.stdout, re.M), paths


def test_every_publishing_recipe_gives_the_same_verdict_on_the_same_dist(tmp_path):
    """The README's publishing section end to end: a project's dist/ with a bad, a good and a pure wheel,
    checked by the command line, the pre-commit hook, the Action's script and each cibuildwheel command."""
    project = tmp_path / "project"
    dist = project / "dist"
    dist.mkdir(parents=True)
    bad = make_wheel(dist, "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", {"demo/_fast.so": HOST})
    good = make_wheel(dist, "demo_ok-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", {"demo_ok/_fast.so": GOOD})
    pure = make_wheel(dist, "demo_docs-1.0-py3-none-any.whl", {"demo_docs/__init__.py": b"\n"})
    script = str(Path(sys.executable).parent / "abicheck")

    def verdict(text: str) -> set[tuple[str, str]]:
        """(wheel, rule) of every finding a report names, whatever its format."""
        found = set()
        for wheel in (bad, good, pure):
            name = os.path.basename(wheel)
            for code in re.findall(rf"{re.escape(name)}[^\n]*?(AB\d{{3}})", text):
                found.add((name, code))
        return found

    command_line = subprocess.run([script, "check", "dist/"], cwd=project, capture_output=True, text=True)
    expected = verdict(command_line.stdout)
    assert command_line.returncode == 1 and expected and {w for w, _ in expected} == {os.path.basename(bad)}
    assert "nothing to check" in command_line.stdout + command_line.stderr  # the pure wheel, said so

    hook = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}["abicheck"]
    staged = [os.path.relpath(w, project) for w in (bad, good, pure) if re.search(hook["files"], w)]
    pre_commit = subprocess.run([*hook["entry"].split(), *staged], cwd=project, capture_output=True, text=True)
    assert pre_commit.returncode == 1 and verdict(pre_commit.stdout) == expected

    out = tmp_path / "github_output"
    action = _run_step(_steps()[1], {"PATHS": "dist/", "ARGS": "", "SARIF": str(tmp_path / "r.sarif"),
                                     "ANNOTATIONS": "true", "GITHUB_OUTPUT": str(out)}, project)
    assert action.returncode == 0 and "exit-code=1" in out.read_text()
    sarif = json.loads((tmp_path / "r.sarif").read_text())["runs"][0]["results"]
    located = {(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].rsplit("/", 1)[-1], r["ruleId"])
               for r in sarif}
    assert verdict(action.stdout) == expected == located

    # cibuildwheel: test-command on each wheel, and repair-wheel-command's check of the folder
    each = {w: subprocess.run([script, "check", w], capture_output=True, text=True) for w in (bad, good, pure)}
    assert [each[w].returncode for w in (bad, good, pure)] == [1, 0, 0]
    assert set().union(*(verdict(done.stdout) for done in each.values())) == expected
    folder = subprocess.run([script, "check", str(dist)], capture_output=True, text=True)
    assert folder.returncode == 1 and verdict(folder.stdout) == expected


def test_the_release_workflow_publishes_only_a_tag_equal_to_the_version_with_trusted_publishing(tmp_path):
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    assert workflow[True]["push"]["tags"] == ["v*"]  # YAML reads the key `on` as true
    publish = workflow["jobs"]["publish"]
    assert publish["permissions"] == {"id-token": "write"} and publish["environment"] == "pypi"
    assert not any("password" in step.get("with", {}) for step in publish["steps"])  # no stored token
    check = next(s for s in workflow["jobs"]["build"]["steps"] if s.get("name") == "the tag is the package's version")
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)[1]
    for tag, code in ((f"v{version}", 0), ("v99.0.0", 1)):
        done = subprocess.run(["bash", "-e", "-c", check["run"]], cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "TAG": tag})
        assert done.returncode == code, (tag, done.stdout, done.stderr)
    assert f"## Unreleased ({version})" in (ROOT / "CHANGELOG.md").read_text()
