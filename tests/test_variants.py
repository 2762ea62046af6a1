"""Kernel build-variant names."""

from __future__ import annotations

import pytest

from abicheck.errors import InputError
from abicheck.variants import parse_variant


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
