"""policies/providers.json: generated from real wheels, and consistent with them."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, bin_path

DATA = json.loads((ROOT / "policies" / "providers.json").read_text())
# The torch CPU wheel this machine kind keeps on disk (see the README's Test data section).
LOCAL_TORCH = Path(os.environ.get("ABICHECK_TORCH_WHEEL",
                                  "/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"))


def _tool():
    spec = importlib.util.spec_from_file_location("gen_providers", ROOT / "tools" / "gen_providers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_data_says_when_and_from_what_it_was_made():
    assert DATA["generated"] and "tools/gen_providers.py" in DATA["about"]
    for build in DATA["torch"]:
        assert build["file"].startswith("torch-") and len(build["sha256"]) == 64, build["file"]
        assert {"libc10.so", "libtorch.so", "libtorch_cpu.so"} <= set(build["libraries"])
        assert all(path.startswith("torch/lib/") for path in build["libraries"].values())
    for name, arches in DATA["distributions"].items():
        for arch, versions in arches.items():
            for version, entry in versions.items():
                assert len(entry["sha256"]) == 64 and f"-{version}-" in entry["file"], (name, arch, version)


def test_every_install_of_a_torch_build_is_in_the_data():
    for build in DATA["torch"]:
        for pinned in build["installs"]:
            name, version = pinned.split("==")
            assert version in DATA["distributions"][name][build["arch"]], (build["file"], pinned)


def test_cuda_builds_install_the_runtime_of_their_cuda_major():
    for build in DATA["torch"]:
        if build["backend"] != "cuda":
            continue
        major = build["backend_version"].split(".")[0]
        libs = {lib for pinned in build["installs"]
                for lib in DATA["distributions"][pinned.split("==")[0]][build["arch"]][pinned.split("==")[1]]
                ["libraries"]}
        assert f"libcudart.so.{major}" in libs, build["file"]


def test_the_tool_reads_a_wheel_as_the_data_records_it(tmp_path):
    """The generator's own reading, on a wheel assembled here: libraries by ELF magic, Requires-Dist."""
    tool = _tool()
    path = tmp_path / "torch-9.9.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.write(bin_path("x86_64/runtimes/libc10.so"), "torch/lib/libc10.so")
        zf.writestr("torch/lib/libfake.so.1", b"not ELF")
        zf.writestr("torch/lib/libsycl.so.9.0.0-gdb.py", b"import gdb\n")
        zf.writestr("torch-9.9.0.dist-info/METADATA",
                    "Metadata-Version: 2.1\nName: torch\nVersion: 9.9.0\n"
                    "Requires-Dist: nvidia-cuda-runtime-cu12==12.8.90; platform_system == \"Linux\"\n"
                    "Requires-Dist: opt-einsum>=3.3; extra == \"opt-einsum\"\n")
    with zipfile.ZipFile(path) as zf:
        libraries, requires = tool.read_wheel(zf)
    assert libraries == {"libc10.so": "torch/lib/libc10.so"}
    deps = tool.runtime_deps(requires, "x86_64")
    assert [str(d.name) for d in deps] == ["nvidia-cuda-runtime-cu12"]
    assert [str(d.name) for d in tool.runtime_deps(requires, "x86_64", frozenset({"opt-einsum"}))] == [
        "nvidia-cuda-runtime-cu12", "opt-einsum"]
    assert tool._fits(path.name, "x86_64") == 3 and tool._fits(path.name, "aarch64") == 0


def test_a_sample_against_the_real_wheel_it_was_read_from():
    if not LOCAL_TORCH.is_file():
        message = (f"{LOCAL_TORCH} is not here (pip download --no-deps torch==2.13.0 --index-url "
                   "https://download.pytorch.org/whl/cpu, then set ABICHECK_TORCH_WHEEL)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    tool = _tool()
    (build,) = [b for b in DATA["torch"] if b["file"] == LOCAL_TORCH.name]
    with open(LOCAL_TORCH, "rb") as f:
        assert hashlib.file_digest(f, "sha256").hexdigest() == build["sha256"]
    with zipfile.ZipFile(LOCAL_TORCH) as zf:
        libraries, requires = tool.read_wheel(zf)
        members = {info.filename for info in zf.infolist()}
    assert build["libraries"] == {n: p for n, p in libraries.items() if p.startswith("torch/lib/")}
    assert all(path in members for path in build["libraries"].values())
    assert build["requires"] == sorted(str(r) for r in tool.runtime_deps(requires, "x86_64"))


def test_the_stable_abi_table_matches_the_local_torch_wheel():
    """Every stable C function the local torch 2.13 wheel exports is in the table, added by 2.13."""
    if not LOCAL_TORCH.is_file():
        message = f"{LOCAL_TORCH} is not here (see test_a_sample_against_the_real_wheel_it_was_read_from)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    spec = importlib.util.spec_from_file_location("gen_torch_stable_abi", ROOT / "tools" / "gen_torch_stable_abi.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    table = json.loads((ROOT / "policies" / "torch-stable-abi.json").read_text())
    assert table["generated"] and len(table["wheels"]) >= 9
    with zipfile.ZipFile(LOCAL_TORCH) as zf:
        local = tool.stable_functions(zf.read("torch/lib/libtorch_cpu.so"), LOCAL_TORCH.name)
    assert len(local) > 200
    assert local <= set(table["functions"])
    assert all(tuple(map(int, table["functions"][name].split("."))) <= (2, 13) for name in local)
