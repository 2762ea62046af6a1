"""abicheck's index of torch's exports, against real export names, and kernel repos checked with no torch at hand.

tests/data/torch-exports-sample.txt holds real export names of torch's libraries
(the oldest and newest x86_64 builds of the index), written by
tools/gen_torch_exports.py from PyPI's wheels together with the index itself.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import BIN, bin_path, run_cli

import abicheck
from abicheck.analysis.torch import is_torch_symbol
from abicheck.binary.demangle import demangle
from abicheck.policy.export_index import name_key
from abicheck.policy.torch_exports import torch_index

SAMPLE = Path(__file__).parent / "data" / "torch-exports-sample.txt"
KERNEL = bin_path("x86_64/kernels/torch-kernel.so")
SPECIAL = ("typeinfo name for ", "typeinfo for ", "vtable for ", "VTT for ", "guard variable for ",
           "construction vtable for ", "non-virtual thunk to ", "virtual thunk to ")


def sample() -> list[tuple[str, str, str]]:
    lines = [line.split(" ", 2) for line in SAMPLE.read_text().splitlines() if not line.startswith("#")]
    return [(wheel, lib, name) for wheel, lib, name in lines]


def test_every_real_export_is_found_in_its_build_and_library():
    index = torch_index()
    builds = {b.file: b for b in index.builds}
    rows = sample()
    assert len({w for w, _l, _n in rows}) == 2 and len(rows) > 500
    for wheel, lib, name in rows:
        assert index.defines(builds[wheel], lib, name), (wheel, lib, name)


def test_names_no_torch_defines_are_not_found():
    index = torch_index()
    for name in ("_ZN3c1017RegisterOperatorsC1Ev", "_ZN5torch19no_such_function_abcEv", "cudaMalloc", "",
                 "_ZN2at6TensorC1Ev\u00e9"):
        assert index.lookup(name) == [], name


def test_every_real_export_in_torchs_namespaces_is_recognised_as_torchs():
    """What lives in c10::, at::, torch::, caffe2:: (by the demangler) or the C shim is torch's."""
    checked = 0
    for _wheel, _lib, name in sample():
        text = demangle(name) or name
        for prefix in SPECIAL:
            text = text.removeprefix(prefix)
        if text.startswith(("c10::", "at::", "torch::", "caffe2::", "aoti_torch_", "torch_")):
            checked += 1
            assert is_torch_symbol(name), (name, text)
    assert checked > 300


def test_the_index_says_what_it_holds():
    meta = json.loads((Path(abicheck.__file__).parent.parent / "policies" / "torch-exports.json").read_text())
    data = (Path(abicheck.__file__).parent.parent / "policies" / "torch-exports.bin").read_bytes()
    assert len(data) == 8 * meta["records"] and meta["collisions"] == 0
    assert {(b["version"], b["arch"]) for b in meta["builds"]} >= {("2.7.1", "x86_64"), ("2.15.0", "aarch64")}
    assert all(b["cxx_abi"] in ("cxx11", "cxx98") for b in meta["builds"])
    assert name_key("x") < 1 << 48


def kernel_tree(root: Path, variant: str, name: str = "_ops.abi3.so", source: str = KERNEL) -> Path:
    folder = root / "build" / variant / "k"
    folder.mkdir(parents=True)
    return Path(shutil.copy(source, folder / name))


def test_a_repo_of_several_releases_is_checked_whole_with_no_torch(tmp_path):
    for variant in ("torch27-cxx11-cu126-x86_64-linux", "torch29-cxx11-cpu-x86_64-linux",
                    "torch213-cxx11-cu130-x86_64-linux", "torch215-cxx11-cu130-aarch64-linux"):
        kernel_tree(tmp_path, variant)
    report = abicheck.check([str(tmp_path)], select=["AB308"])
    against = {a.variant["name"]: a.symbols["torch"] for a in report.artifacts}
    assert against == {"torch27-cxx11-cu126-x86_64-linux": "2.7.1", "torch29-cxx11-cpu-x86_64-linux": "2.9.1",
                       "torch213-cxx11-cu130-x86_64-linux": "2.13.0", "torch215-cxx11-cu130-aarch64-linux": "2.15.0"}
    # the stand-in kernel imports torch symbols no real torch has: every variant names them, with where they exist
    finding = report.findings[0]
    assert "it is defined in no torch release abicheck knows (2.7 to 2.15)" in finding.message


def test_a_torch_given_on_the_command_line_covers_only_its_release(tmp_path):
    torch = tmp_path / "site" / "torch"
    shutil.copytree(BIN / "x86_64" / "torch" / "v1" / "lib", torch / "lib")
    (torch / "version.py").write_text("__version__ = '2.8.0+cpu'\n")
    kernel_tree(tmp_path / "repo", "torch28-cxx11-cpu-x86_64-linux")
    kernel_tree(tmp_path / "repo", "torch29-cxx11-cpu-x86_64-linux")
    done = run_cli("check", "--torch", str(torch), "--format", "json", str(tmp_path / "repo"))
    data = json.loads(done.stdout)
    against = {a["variant"]["name"]: a["symbols"]["torch"] for a in data["artifacts"]}
    assert against == {"torch28-cxx11-cpu-x86_64-linux": "2.8.0+cpu", "torch29-cxx11-cpu-x86_64-linux": "2.9.1"}


def test_a_stable_abi_variant_may_meet_any_later_torch(tmp_path):
    torch = tmp_path / "site" / "torch"
    shutil.copytree(BIN / "x86_64" / "torch" / "v2" / "lib", torch / "lib")
    (torch / "version.py").write_text("__version__ = '2.11.0+cpu'\n")
    path = kernel_tree(tmp_path, "torch-stable-abi29-cpu-x86_64-linux")
    later = abicheck.check([str(path)], torch=str(torch), select=["AB308"])
    assert later.artifacts[0].symbols["torch"] == "2.11.0+cpu"
    alone = abicheck.check([str(path)], select=["AB308"])
    assert alone.artifacts[0].symbols["torch"] == "2.9.1"


def test_a_release_of_the_index_is_a_torch_for_loose_objects():
    report = abicheck.check([KERNEL], torch="2.12", select=["AB308"])
    assert report.artifacts[0].symbols["torch"] == "2.12.1"
    assert "--torch 2.12" == report.findings[0].details["torch_source"]
    done = run_cli("check", "--torch", "2.5", KERNEL)
    assert done.returncode == 2 and "abicheck's torch index has no torch 2.5" in done.stderr


def test_strict_fails_what_was_not_checked(tmp_path):
    path = kernel_tree(tmp_path, "torch26-cxx11-cpu-x86_64-linux")  # not in the index
    plain = run_cli("check", "--select", "AB308", str(path))
    assert plain.returncode == 0
    assert "torch symbols not checked: torch 2.6 is not in abicheck's torch index" in plain.stdout
    assert plain.stdout.rstrip().endswith("no findings in what was checked; 1 part not checked (above), which "
                                          "--strict fails.")
    strict = run_cli("check", "--strict", "--select", "AB308", str(path))
    assert strict.returncode == 1 and "exit 1 (--strict)" in strict.stdout
    (tmp_path / "pyproject.toml").write_text("[tool.abicheck]\nstrict = true\n")
    assert run_cli("check", "--select", "AB308", str(path)).returncode == 1
    (tmp_path / "pyproject.toml").write_text("[tool.abicheck]\nstrict = 'yes'\n")
    bad = run_cli("check", str(path))
    assert bad.returncode == 2 and "strict must be a boolean" in bad.stderr


def test_kernels_of_a_monorepo_keep_their_variants(tmp_path):
    kernel_tree(tmp_path / "relu", "torch29-cxx11-cpu-x86_64-linux")
    kernel_tree(tmp_path / "gelu", "torch29-cxx11-cpu-x86_64-linux")
    kernel_tree(tmp_path / "group" / "silu", "torch213-cxx11-cpu-x86_64-linux")
    loose = tmp_path / "tools" / "helper.so"
    loose.parent.mkdir()
    shutil.copy(bin_path("x86_64/kernels/cpu-good.abi3.so"), loose)
    report = abicheck.check([str(tmp_path)], select=["AB308"])
    variants = sorted((Path(a.path).relative_to(tmp_path).parts[0], (a.variant or {}).get("name"))
                      for a in report.artifacts)
    assert variants == [("gelu", "torch29-cxx11-cpu-x86_64-linux"), ("group", "torch213-cxx11-cpu-x86_64-linux"),
                        ("relu", "torch29-cxx11-cpu-x86_64-linux"), ("tools", None)]
    text = run_cli("check", "--select", "AB308", str(tmp_path)).stdout
    assert f"{tmp_path}/gelu/build/torch29-cxx11-cpu-x86_64-linux: 1 object" in text  # two kernels, one variant
    shown = run_cli("show", str(tmp_path / "group")).stdout
    assert "variant:                 torch213-cxx11-cpu-x86_64-linux" in shown
    assert ("torch symbols:           4 checked against torch 2.13.0 (CPU build, x86_64) from abicheck's torch "
            "index") in shown


@pytest.mark.parametrize("variant", ["torch29-cxx11-rocm64-x86_64-linux"])
def test_a_backend_the_index_lacks_is_not_checked_rather_than_missing(tmp_path, variant):
    """A ROCm kernel importing from libtorch_hip.so: PyPI has no ROCm torch, so those imports are not judged."""
    path = kernel_tree(tmp_path, variant, source=bin_path("x86_64/kernels/rocm-good.abi3.so"))
    report = abicheck.check([str(path)], select=["AB308"])
    assert report.findings == []
