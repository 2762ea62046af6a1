"""Kernel build-variant names."""

from __future__ import annotations

import pytest

from abicheck.errors import InputError
from abicheck.inputs.variants import parse_variant


@pytest.mark.parametrize(("name", "backend", "version", "torch", "arch", "os"), [
    ("torch28-cxx11-cu128-x86_64-linux", "cuda", "12.8", "2.8", "x86_64", "linux"),
    ("torch28-cxx11-cu126-aarch64-linux", "cuda", "12.6", "2.8", "aarch64", "linux"),
    ("torch29-cxx11-cu129-x86_64-linux", "cuda", "12.9", "2.9", "x86_64", "linux"),
    ("torch210-cxx11-cu130-x86_64-linux", "cuda", "13.0", "2.10", "x86_64", "linux"),
    ("torch28-cxx11-rocm63-x86_64-linux", "rocm", "6.3", "2.8", "x86_64", "linux"),
    ("torch29-cxx11-rocm64-x86_64-linux", "rocm", "6.4", "2.9", "x86_64", "linux"),
    ("torch210-cxx11-rocm71-x86_64-linux", "rocm", "7.1", "2.10", "x86_64", "linux"),
    ("torch29-cxx11-xpu20252-x86_64-linux", "xpu", "2025.2", "2.9", "x86_64", "linux"),
    ("torch28-cxx11-cpu-aarch64-linux", "cpu", None, "2.8", "aarch64", "linux"),
    ("torch26-cxx98-cu124-x86_64-linux", "cuda", "12.4", "2.6", "x86_64", "linux"),
    ("torch28-metal-aarch64-darwin", "metal", None, "2.8", "aarch64", "darwin"),
    ("torch28-cpu-aarch64-darwin", "cpu", None, "2.8", "aarch64", "darwin"),
    ("torch-stable-abi29-cu128-x86_64-linux", "cuda", "12.8", "2.9", "x86_64", "linux"),
    ("torch-universal", None, None, None, None, None),
    ("torch-cuda", "cuda", None, None, None, None),
    ("torch-rocm", "rocm", None, None, None, None),
    ("torch-metal", "metal", None, None, None, None),
    ("torch-tpu", "tpu", None, None, None, None),
    ("torch-neuron", "neuron", None, None, None, None),
    ("torch210-cu128-x86_64-windows", "cuda", "12.8", "2.10", "x86_64", "windows"),
    ("torch212-cxx11-tpu-x86_64-linux", "tpu", None, "2.12", "x86_64", "linux"),
    ("torch212-cxx11-neuron-x86_64-linux", "neuron", None, "2.12", "x86_64", "linux"),
    ("torch212-cxx11-cann80-aarch64-linux", "cann", "8.0", "2.12", "aarch64", "linux"),
    ("torch212-cxx11-xpu20253-x86_64-linux", "xpu", "2025.3", "2.12", "x86_64", "linux"),
    ("tvm-ffi01-cu130-x86_64-linux", "cuda", "13.0", None, "x86_64", "linux"),
])
def test_variant_names(name, backend, version, torch, arch, os):
    v = parse_variant(name)
    assert (v.backend, v.backend_version, v.torch_version, v.arch, v.os) == (backend, version, torch, arch, os)
    assert v.stable_abi == name.startswith("torch-stable-abi")
    assert v.has_binaries == (arch is not None)


def test_cxx_abi_is_recorded():
    assert parse_variant("torch26-cxx98-cu124-x86_64-linux").cxx_abi == "cxx98"
    assert parse_variant("torch28-cxx11-cu128-x86_64-linux").compute_token == "cu128"


def test_frameworks_and_their_releases():
    tvm = parse_variant("tvm-ffi01-cu130-x86_64-linux")
    assert (tvm.framework, tvm.framework_version, tvm.torch_version, tvm.cxx_abi) == ("tvm-ffi", "0.1", None, None)
    stable = parse_variant("torch-stable-abi210-cpu-aarch64-darwin")
    assert (stable.framework, stable.torch_version, stable.stable_abi) == ("torch-stable-abi", "2.10", True)
    assert parse_variant("torch-universal").framework == "noarch"


def test_every_variant_kernel_builder_builds_today_parses():
    """The names in kernel-builder's build-variants.json, as recorded in the data."""
    import json

    from conftest import ROOT

    data = json.loads((ROOT / "policies" / "variants.json").read_text())
    assert len(data["built_today"]) >= 20
    for name in data["built_today"]:
        v = parse_variant(name)
        assert v.arch in ("x86_64", "aarch64") and v.os in ("linux", "darwin") and v.torch_version


@pytest.mark.parametrize("name", [
    "torch28-cxx11-cu128-sparc-linux", "torch28-cxx11-cu128-x86_64-beos", "torch28-cxx11-quantum-x86_64-linux",
    "torch28-cxx11-cuda-x86_64-linux", "torch28-cxx11-cu128-x86_64", "tvm-ffi-cu130-x86_64-linux",
    "torch-everything", "pytorch28",
])
def test_unknown_variants_explain_the_grammar(name):
    with pytest.raises(InputError) as info:
        parse_variant(name)
    text = str(info.value)
    assert name in text and "torch<major><minor>[-cxx11|-cxx98]-" in text
    assert "tvm-ffi<major><minor>" in text and "windows" in text and "cann<major><minor>" in text


def test_only_variant_like_names_claim_to_be_variants():
    from abicheck.inputs.variants import looks_like_variant

    assert looks_like_variant("torch28-cxx11-cu999x-x86_64-linux")  # claims, then fails to parse
    assert looks_like_variant("torch-universal") and looks_like_variant("torch-stable-abi29-cu128-x86_64-linux")
    assert looks_like_variant("tvm-ffi01-cu130-x86_64-linux") and looks_like_variant("torch-tpu")
    assert not looks_like_variant("torch-lib") and not looks_like_variant("torchvision")


def test_a_plain_folder_named_torch_something_is_scanned(tmp_path):
    import shutil

    from conftest import bin_path

    import abicheck

    (tmp_path / "torch-lib").mkdir()
    shutil.copy(bin_path("x86_64/newglibc.so"), tmp_path / "torch-lib" / "libx.so")
    report = abicheck.check([str(tmp_path / "torch-lib")])
    assert report.objects_checked == 1 and report.exit_code == 1
