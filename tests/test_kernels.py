"""Kernel trees with real variant names: linkage (AB30x) and the stable ABI (AB50x)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import bin_path, make_wheel, run_cli

import abicheck

CU128 = "torch28-cxx11-cu128-x86_64-linux"


def kernel_tree(root: Path, variant: str, objects: dict[str, str], metadata: object = None) -> Path:
    """build/<variant>/ as kernel builders lay it out, with testdata objects in it."""
    folder = root / "build" / variant
    (folder / "relu").mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text("from ._ops import ops\n")
    (folder / "_ops.py").write_text("import torch\nops = torch.ops._relu\n")
    if metadata is not None:
        (folder / "metadata.json").write_text(metadata if isinstance(metadata, str) else json.dumps(metadata))
    for name, rel in objects.items():
        shutil.copy(bin_path(f"x86_64/kernels/{rel}"), folder / "relu" / name)
    return folder


def findings(report, code=None):
    return [f for f in report.findings if code is None or f.code == code]


def test_good_cuda_kernel_passes(tmp_path):
    kernel_tree(tmp_path, CU128, {"_relu_cuda_ab12.abi3.so": "cuda-good.abi3.so"}, {"backend": {"type": "cuda"}})
    report = abicheck.check([str(tmp_path)])
    assert report.exit_code == 0 and report.objects_checked == 1


@pytest.mark.parametrize(("rel", "code", "library", "hint_words"), [
    ("cuda-cudart13.abi3.so", "AB303", "libcudart.so.13", "CUDA 12 toolkit"),
    ("cuda-hip.abi3.so", "AB302", "libamdhip64.so.6", "must not use rocm"),
    ("cuda-driver.abi3.so", "AB304", "libcuda.so.1", "cudaGetDriverEntryPoint"),
    ("cuda-stray.abi3.so", "AB301", "libfoo.so", "--policy-file"),
])
def test_bad_cuda_kernels(tmp_path, rel, code, library, hint_words):
    kernel_tree(tmp_path, CU128, {"_relu_cuda_ab12.abi3.so": rel})
    report = abicheck.check([str(tmp_path)])
    assert [(f.code, f.library) for f in report.findings] == [(code, library)]
    finding = report.findings[0]
    assert library in finding.message and CU128 in finding.message
    assert hint_words in finding.hint


def test_cli_text_and_json_show_the_linkage_findings(tmp_path):
    kernel_tree(tmp_path, CU128, {"_a_cuda_1.abi3.so": "cuda-cudart13.abi3.so",
                                  "_b_cuda_1.abi3.so": "cuda-driver.abi3.so"})
    done = run_cli("check", str(tmp_path / "build"))
    assert done.returncode == 1
    assert "AB303 [runtime-major-mismatch] links libcudart.so.13" in done.stdout
    assert "AB304 [driver-linked-directly]" in done.stdout
    data = json.loads(run_cli("check", "--format", "json", str(tmp_path)).stdout)
    got = {(f["code"], f["library"]) for a in data["artifacts"] for f in a["findings"]}
    assert got == {("AB303", "libcudart.so.13"), ("AB304", "libcuda.so.1")}


@pytest.mark.parametrize(("variant", "rel"), [
    ("torch29-cxx11-rocm64-x86_64-linux", "rocm-good.abi3.so"),
    ("torch29-cxx11-xpu20252-x86_64-linux", "xpu-good.abi3.so"),
    ("torch29-cxx11-cpu-x86_64-linux", "cpu-good.abi3.so"),
])
def test_other_backends_pass_with_their_own_runtime(tmp_path, variant, rel):
    backend = variant.split("-")[2].rstrip("0123456789")
    kernel_tree(tmp_path, variant, {f"_relu_{backend}_1.abi3.so": rel})
    assert abicheck.check([str(tmp_path)]).exit_code == 0


def test_rocm_runtime_major_follows_the_variant(tmp_path):
    kernel_tree(tmp_path, "torch210-cxx11-rocm71-x86_64-linux", {"_r_rocm_1.abi3.so": "rocm-good.abi3.so"})
    report = abicheck.check([str(tmp_path)])
    assert [(f.code, f.library) for f in report.findings] == [("AB303", "libamdhip64.so.6")]


def test_a_cuda_kernel_in_a_rocm_variant(tmp_path):
    kernel_tree(tmp_path, "torch29-cxx11-rocm64-x86_64-linux", {"_r_rocm_1.abi3.so": "cuda-good.abi3.so"})
    report = abicheck.check([str(tmp_path)])
    assert {f.code for f in report.findings} == {"AB302"}
    assert {f.library for f in report.findings} == {"libc10_cuda.so", "libtorch_cuda.so", "libcudart.so.12"}


def test_every_variant_of_a_repo_is_found(tmp_path):
    kernel_tree(tmp_path, CU128, {"_relu_cuda_1.abi3.so": "cuda-good.abi3.so"})
    kernel_tree(tmp_path, "torch28-cxx11-cu128-aarch64-linux", {"_relu_cuda_1.abi3.so": "cuda-good.abi3.so"})
    (tmp_path / "build" / "torch-universal").mkdir()
    (tmp_path / "build" / "torch-universal" / "__init__.py").write_text("")
    report = abicheck.check([str(tmp_path)])
    # The x86_64 object in the aarch64 variant is a machine mismatch (the variant names the arch).
    assert [(f.code, "aarch64" in f.message) for f in report.findings] == [("AB401", True)]
    assert report.objects_checked == 2


def test_one_variant_folder_and_a_result_folder(tmp_path):
    folder = kernel_tree(tmp_path, CU128, {"_relu_cuda_1.abi3.so": "cuda-hip.abi3.so"})
    assert {f.code for f in abicheck.check([str(folder)]).findings} == {"AB302"}
    (tmp_path / "build").rename(tmp_path / "result")
    assert {f.code for f in abicheck.check([str(tmp_path)]).findings} == {"AB302"}


def test_metadata_contradicting_the_variant_is_a_finding(tmp_path):
    kernel_tree(tmp_path, CU128, {"_relu_cuda_1.abi3.so": "cuda-good.abi3.so"}, {"backend": {"type": "rocm"}})
    report = abicheck.check([str(tmp_path)])
    assert [f.code for f in report.findings] == ["AB305"]
    assert report.findings[0].path.endswith("metadata.json") and "rocm" in report.findings[0].message


@pytest.mark.parametrize(("setup", "words"), [
    ("unknown", "unknown build variant name"),
    ("malformed", "malformed metadata.json"),
    ("empty", "holds no compiled objects"),
    ("nothing", "no build outputs under build/, result/"),
])
def test_bad_trees_give_a_clear_message_and_exit_2(tmp_path, setup, words):
    if setup == "unknown":
        kernel_tree(tmp_path, "torch28-cxx11-cu999x-x86_64-linux", {"_r_cuda_1.abi3.so": "cuda-good.abi3.so"})
    elif setup == "malformed":
        kernel_tree(tmp_path, CU128, {"_r_cuda_1.abi3.so": "cuda-good.abi3.so"}, "{not json")
    elif setup == "empty":
        kernel_tree(tmp_path, CU128, {})
    else:  # a kernel repo (kernel-builder's build.toml) with nothing built yet
        (tmp_path / "build").mkdir()
        (tmp_path / "build.toml").write_text('[general]\nname = "relu"\n')
    done = run_cli("check", str(tmp_path))
    assert done.returncode == 2
    lines = [line for line in done.stdout.splitlines() if ": error: " in line]
    assert len(lines) == 1 and words in lines[0]
    assert "Traceback" not in done.stderr


def test_an_ordinary_projects_build_folder_is_a_plain_folder(tmp_path):
    """setuptools' build/lib.linux-x86_64-cpython-311/ is not a kernel tree with nothing built."""
    lib = tmp_path / "build" / "lib.linux-x86_64-cpython-311" / "pkg"
    lib.mkdir(parents=True)
    shutil.copy(bin_path("x86_64/newglibc.so"), lib / "_ext.cpython-311-x86_64-linux-gnu.so")
    report = abicheck.check([str(tmp_path)])
    assert report.errors == [] and report.objects_checked == 1 and report.exit_code == 1


def test_loose_files_with_backend_and_variant_options():
    good = bin_path("x86_64/kernels/cuda-good.abi3.so")
    assert abicheck.check([good], backend="cuda").exit_code == 0  # no version: any cudart major
    assert [f.code for f in abicheck.check([good], backend="cu130").findings] == ["AB303"]
    report = abicheck.check([bin_path("x86_64/kernels/rocm-good.abi3.so")], variant=CU128)
    assert {f.code for f in report.findings} == {"AB302"}
    # Without a backend it is an ordinary object: nothing installs torch's or CUDA's libraries for it.
    plain = abicheck.check([bin_path("x86_64/kernels/cuda-stray.abi3.so")])
    assert {(f.code, f.library) for f in plain.findings} >= {("AB301", "libfoo.so"), ("AB301", "libc10.so")}


def test_policy_file_extends_what_is_allowed(tmp_path):
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"backends": {"cuda": {"allowed": ["libfoo.so"]}}}))
    stray = bin_path("x86_64/kernels/cuda-stray.abi3.so")
    assert abicheck.check([stray], backend="cu128").exit_code == 1
    assert abicheck.check([stray], backend="cu128", policy_files=[str(extra)]).exit_code == 0


@pytest.mark.parametrize(("content", "words"), [
    ("{oops", "not valid JSON"), ('{"backends": {"quantum": {}}}', "unknown backend"),
    ('{"bogus": 1}', "unknown keys"), ('{"allowed": "libfoo.so"}', "list of strings"),
])
def test_bad_policy_file_is_a_usage_error(tmp_path, content, words):
    extra = tmp_path / "extra.json"
    extra.write_text(content)
    good = bin_path("x86_64/kernels/cuda-good.abi3.so")
    done = run_cli("check", "--backend", "cuda", "--policy-file", str(extra), good)
    assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr


def test_gpu_wheel_backend_comes_from_the_kernel_file_name(tmp_path):
    wheel = make_wheel(tmp_path, "relu-0.1-cp39-abi3-manylinux_2_28_x86_64.whl", {
        "relu/_relu_cuda_ab12.abi3.so": bin_path("x86_64/kernels/cuda-driver.abi3.so"),
        "relu/_ops.py": b"",
    })
    report = abicheck.check([wheel])
    assert [(f.code, f.library) for f in report.findings] == [("AB304", "libcuda.so.1")]


# --- the Python stable ABI -------------------------------------------------------

def test_py312_api_under_a_cp39_abi3_claim(tmp_path):
    wheel = make_wheel(tmp_path, "demo-1.0-cp39-abi3-manylinux_2_28_x86_64.whl",
                       {"demo/_demo.abi3.so": bin_path("x86_64/kernels/pyapi-py312.abi3.so")})
    report = abicheck.check([wheel])
    assert [(f.code, f.symbol) for f in report.findings] == [("AB502", "PyType_FromMetaclass")]
    assert "3.12" in report.findings[0].message and "cp39-abi3" in report.findings[0].message
    honest = make_wheel(tmp_path, "demo-1.0-cp312-abi3-manylinux_2_28_x86_64.whl",
                        {"demo/_demo.abi3.so": bin_path("x86_64/kernels/pyapi-py312.abi3.so")})
    assert abicheck.check([honest]).exit_code == 0


def test_stable_abi_on_loose_abi3_files():
    private = bin_path("x86_64/kernels/pyapi-private.abi3.so")
    assert [(f.code, f.symbol) for f in abicheck.check([private]).findings] == [("AB501", "_PyLong_AsByteArray")]
    assert abicheck.check([bin_path("x86_64/kernels/pyapi-limited.abi3.so")]).exit_code == 0
    py312 = bin_path("x86_64/kernels/pyapi-py312.abi3.so")
    assert abicheck.check([py312], python_abi="3.12").exit_code == 0
    assert abicheck.check([py312]).findings[0].code == "AB502"  # default minimum: 3.9


def test_stable_abi_rules_skip_objects_that_are_not_abi3(tmp_path):
    plain = tmp_path / "_demo.cpython-311-x86_64-linux-gnu.so"
    shutil.copy(bin_path("x86_64/kernels/pyapi-private.abi3.so"), plain)
    assert abicheck.check([str(plain)]).exit_code == 0


def test_loose_files_in_a_variant_folder_get_the_folders_context(tmp_path, monkeypatch):
    """pre-commit and xargs pass file names: each must be checked as checking its folder would."""
    variant = "torch28-cxx11-cu128-aarch64-linux"
    root = kernel_tree(tmp_path, variant, {"_relu_cuda_ab12.abi3.so": "cuda-cudart13.abi3.so",
                                           "_good_cuda_cd34.abi3.so": "cuda-good.abi3.so"},
                       metadata={"backend": {"type": "rocm"}})

    def key(report):
        return sorted((f.code, os.path.basename(f.path), f.library) for f in report.findings)

    folder = abicheck.check([str(tmp_path)])
    assert {"AB303", "AB401", "AB305"} <= {f.code for f in folder.findings}
    files = sorted(str(p) for p in root.rglob("*.so"))
    assert key(abicheck.check(files)) == key(folder)
    monkeypatch.chdir(tmp_path)  # relative names, as pre-commit passes them from the repository root
    assert key(abicheck.check([os.path.relpath(f, tmp_path) for f in files])) == key(folder)


def test_a_dirty_build_name_is_still_a_kernel_name(tmp_path):
    from abicheck.inputs.paths import backend_from_filename

    assert backend_from_filename("_name_cuda_7645816_dirty.abi3.so") == "cuda"
    assert backend_from_filename("_relu_rocm_ab12cd3.abi3.so") == "rocm"
    assert backend_from_filename("libfoo_cuda.so") is None
    # not kernels: a plugin and one of torch's own libraries (jax's and torch's wheels hold them)
    assert backend_from_filename("xla_rocm_plugin.so") is None
    assert backend_from_filename("libtorch_cuda_linalg.so") is None
    assert backend_from_filename("_relu_cuda_ab12.so") == "cuda"
    assert backend_from_filename("_relu_cuda_ab12.so", in_wheel=True) is None  # a wheel's kernels are abi3


def test_kernel_hints_fit_kernel_builder(tmp_path):
    root = kernel_tree(tmp_path, "torch28-cxx11-cu128-aarch64-linux", {"_good_cuda_ab12.abi3.so": "cuda-good.abi3.so"})
    report = abicheck.check([str(tmp_path)])
    (machine,) = [f for f in report.findings if f.code == "AB401"]
    assert "belongs in the x86_64 variant folder" in machine.hint and "target x86_64 instead" not in machine.hint
    shutil.copy(bin_path("x86_64/runpath-usr.so"), root / "relu" / "_path_cuda_cd34.abi3.so")
    rpath = [f for f in abicheck.check([str(tmp_path)]).findings if f.code == "AB202"]
    assert rpath and all("patchelf --remove-rpath, as kernel-builder does" in f.hint for f in rpath)


def test_the_summary_and_json_speak_per_variant(tmp_path):
    kernel_tree(tmp_path, CU128, {"_good_cuda_ab12.abi3.so": "cuda-good.abi3.so",
                                  "_bad_cuda_cd34.abi3.so": "cuda-cudart13.abi3.so"})
    kernel_tree(tmp_path, "torch29-cxx11-rocm64-x86_64-linux", {"_r_rocm_ef56.abi3.so": "rocm-good.abi3.so"})
    done = run_cli("check", str(tmp_path))
    assert done.returncode == 1
    # Each variant's torch symbols are checked against its release in abicheck's index: nothing "not checked".
    assert f"{CU128}: 2 objects, 1 finding\n" in done.stdout
    assert "torch29-cxx11-rocm64-x86_64-linux: 1 object, clean; 3 libraries not verified" in done.stdout
    assert done.stdout.rstrip().splitlines()[-1].startswith("Checked 3 objects")
    data = json.loads(run_cli("check", "--format", "json", str(tmp_path)).stdout)
    variants = {a["variant"]["name"]: a["variant"] for a in data["artifacts"] if "variant" in a}
    assert variants[CU128] == {"name": CU128, "framework": "torch", "backend": "cuda", "backend_version": "12.8",
                               "torch": "2.8", "cxx_abi": "cxx11", "arch": "x86_64", "os": "linux"}
    shown = run_cli("show", str(tmp_path))
    assert f"variant:                 {CU128} (cuda 12.8, torch 2.8, cxx11)" in shown.stdout
