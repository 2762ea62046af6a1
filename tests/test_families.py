"""Every variant family kernel-builder produces, checked the same way from every entry point.

A kernel repo whose build/ holds one variant of each family (torch, torch's
stable ABI, tvm-ffi; Linux, macOS, Windows; CUDA, ROCm, XPU, CPU, Metal, TPU,
Neuron, CANN; a noarch one), each with an object that fails a check and one
that passes. `abicheck check` on the tree, `abicheck check` on each file, and
`pytest --abicheck` must report the same findings.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import BIN, run_cli

pytest_plugins = ["pytester"]

# variant -> (its metadata backend, the failing object, what it fails, the passing object)
FAMILIES = {
    "torch212-cxx11-cu130-x86_64-linux": ("cuda", "x86_64/newglibc.so", "AB101", "x86_64/portable-glibc228.so"),
    "torch212-cxx11-rocm71-x86_64-linux": ("rocm", "x86_64/newcxx.so", "AB101", "x86_64/portable-glibc228.so"),
    "torch212-cxx11-xpu20253-x86_64-linux": ("xpu", "x86_64/rpath-absolute.so", "AB202",
                                             "x86_64/portable-glibc228.so"),
    "torch212-cxx11-cpu-aarch64-linux": ("cpu", "aarch64/newglibc.so", "AB101", "aarch64/portable-glibc228.so"),
    "torch212-cxx11-tpu-x86_64-linux": ("tpu", "aarch64/portable-glibc228.so", "AB401",
                                        "x86_64/portable-glibc228.so"),
    "torch212-cxx11-neuron-x86_64-linux": ("neuron", "x86_64/newglibc.so", "AB101", "x86_64/portable-glibc228.so"),
    "torch212-cxx11-cann80-aarch64-linux": ("cann", "aarch64/newglibc.so", "AB101", "aarch64/portable-glibc228.so"),
    "torch-stable-abi210-cu130-x86_64-linux": ("cuda", "x86_64/newglibc.so", "AB101",
                                               "x86_64/portable-glibc228.so"),
    "tvm-ffi01-cu130-x86_64-linux": ("cuda", "x86_64/newglibc.so", "AB101", "x86_64/portable-glibc228.so"),
    "torch212-metal-aarch64-darwin": ("metal", "macos/private-api.abi3.so", "AB501", "macos/ext-arm64-26.abi3.so"),
    "torch212-cpu-aarch64-darwin": ("cpu", "macos/ext-arm64-26.abi3.so", "AB601", "macos/ext-arm64-13.abi3.so"),
    "torch210-cu128-x86_64-windows": ("cuda", "windows/python311-x86_64.pyd", "AB501",
                                      "windows/stable-x86_64.pyd"),
}
NOARCH = "torch-cuda"


def _suffix(source: str) -> str:
    return ".pyd" if source.endswith(".pyd") else (".abi3.so" if source.endswith(".abi3.so") else ".so")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    for variant, (backend, bad, _code, good) in FAMILIES.items():
        folder = tmp_path / "build" / variant
        folder.mkdir(parents=True)
        (folder / "metadata.json").write_text(json.dumps({"backend": {"type": backend}}))
        shutil.copy(BIN / bad, folder / f"_fail{_suffix(bad)}")
        shutil.copy(BIN / good, folder / f"_pass{_suffix(good)}")
    noarch = tmp_path / "build" / NOARCH
    noarch.mkdir()
    (noarch / "metadata.json").write_text(json.dumps({"backend": {"type": "cuda"}}))
    (noarch / "ops.py").write_text("def relu(x):\n    return x\n")
    return tmp_path


def _findings(data: dict, root: Path, failing_only: bool = False) -> set[tuple[str, str]]:
    out = set()
    for artifact in data["artifacts"]:
        for finding in artifact["findings"]:
            if failing_only and finding["severity"] != "error":
                continue  # a warning is shown in pytest's warnings summary, and fails nothing by default
            out.add((str(Path(artifact["path"]).resolve().relative_to(root.resolve())), finding["code"]))
    return out


def test_the_tree_fails_each_family_once_and_passes_the_rest(repo):
    done = run_cli("check", "--format", "json", str(repo))
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert data["errors"] == []
    expected = {(f"build/{v}/_fail{_suffix(bad)}", code) for v, (_b, bad, code, _g) in FAMILIES.items()}
    assert {(path, code) for path, code in _findings(data, repo) if path.endswith(tuple(
        f"_fail{s}" for s in (".so", ".abi3.so", ".pyd")))} >= expected
    assert not any("_pass" in path for path, _code in _findings(data, repo))
    checked = {a["variant"]["name"] for a in data["artifacts"] if a.get("variant")}
    assert checked == set(FAMILIES)
    assert data["summary"]["pure_python_variants"] == [NOARCH]
    text = run_cli("check", str(repo)).stdout
    for variant in FAMILIES:
        assert f"\n{variant}: 2 objects, " in text
    assert f"\n{NOARCH}: no compiled objects (pure Python): nothing to check\n" in text


def test_each_file_alone_gets_the_findings_of_its_folder(repo):
    tree = _findings(json.loads(run_cli("check", "--format", "json", str(repo)).stdout), repo)
    alone = set()
    for path in sorted((repo / "build").rglob("_*")):
        data = json.loads(run_cli("check", "--format", "json", str(path)).stdout)
        assert data["errors"] == [], path
        alone |= _findings(data, repo)
    assert alone == tree


def test_pytest_fails_the_same_objects_with_the_same_codes(repo, pytester):
    shutil.copytree(repo / "build", pytester.path / "build")
    pytester.makepyfile(test_ops="def test_ops():\n    assert True\n")
    tree = _findings(json.loads(run_cli("check", "--format", "json", str(pytester.path)).stdout), pytester.path,
                     failing_only=True)
    result = pytester.runpytest("--abicheck", "-p", "no:cacheprovider", "--junitxml=out.xml")
    failed: set[tuple[str, str]] = set()
    passed: set[str] = set()
    for case in ET.parse(pytester.path / "out.xml").getroot().iter("testcase"):
        name = case.get("name", "")
        failure = case.find("failure")
        if failure is None:
            passed.add(name)
            continue
        text = (failure.get("message") or "") + (failure.text or "")
        failed |= {(name, code) for code in {line.split()[0] for line in text.splitlines()
                                             if line.startswith("AB")}}
    assert failed == tree
    assert {f"build/{v}/_pass{_suffix(g)}" for v, (_b, _bad, _c, g) in FAMILIES.items()} <= passed
    assert result.ret == 1
