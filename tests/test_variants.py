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
])
def test_variant_names(name, backend, version, torch, arch, os):
    v = parse_variant(name)
    assert (v.backend, v.backend_version, v.torch_version, v.arch, v.os) == (backend, version, torch, arch, os)
    assert v.stable_abi == name.startswith("torch-stable-abi")
    assert v.has_binaries == (arch is not None)


def test_cxx_abi_is_recorded():
    assert parse_variant("torch26-cxx98-cu124-x86_64-linux").cxx_abi == "cxx98"
    assert parse_variant("torch28-cxx11-cu128-x86_64-linux").compute_token == "cu128"


@pytest.mark.parametrize("name", [
    "torch28-cxx11-cu12-x86_64-linux", "torch28-cxx11-cu128-sparc-linux", "torch28-cxx11-cu128-x86_64-windows",
    "torch28-metal-x86_64-linux", "torch28-cxx11-cu128-aarch64-darwin", "torch-everything", "pytorch28",
])
def test_unknown_variants_explain_the_grammar(name):
    with pytest.raises(InputError) as info:
        parse_variant(name)
    assert name in str(info.value) and "torch{XY}-cxx11-" in str(info.value)


def test_only_variant_like_names_claim_to_be_variants():
    from abicheck.inputs.variants import looks_like_variant

    assert looks_like_variant("torch28-cxx11-cu999x-x86_64-linux")  # claims, then fails to parse
    assert looks_like_variant("torch-universal") and looks_like_variant("torch-stable-abi29-cu128-x86_64-linux")
    assert not looks_like_variant("torch-lib") and not looks_like_variant("torchvision")


def test_a_plain_folder_named_torch_something_is_scanned(tmp_path):
    import shutil

    from conftest import bin_path

    import abicheck

    (tmp_path / "torch-lib").mkdir()
    shutil.copy(bin_path("x86_64/newglibc.so"), tmp_path / "torch-lib" / "libx.so")
    report = abicheck.check([str(tmp_path / "torch-lib")])
    assert report.objects_checked == 1 and report.exit_code == 1
