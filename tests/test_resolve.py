"""The resolution stage: every NEEDED library found the way the loader and pip would find it."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from conftest import bin_path, make_wheel, run_cli

import abicheck
from abicheck.analysis.resolver import search_path, suggested_runpath
from abicheck.binary.elf import read_facts

WHEEL = "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl"
OPENCL = bin_path("x86_64/needs-opencl.so")


def needed(report, suffix):
    artifact = next(a for a in report.artifacts if a.path.endswith(suffix))
    return {n["library"]: n for n in artifact.needed}


def codes(report):
    return sorted((f.code, f.library) for f in report.findings)


def test_a_library_nobody_provides_is_a_finding_naming_who_would(tmp_path):
    # As `patchelf --add-needed libOpenCL.so.1` leaves a conformant object: it checked clean before.
    wheel = make_wheel(tmp_path, WHEEL, {"demo/_ext.so": OPENCL})
    report = abicheck.check([wheel])
    assert codes(report) == [("AB301", "libOpenCL.so.1")]
    finding = report.findings[0]
    assert "not shipped in the wheel" in finding.message and "not a manylinux_2_28 system library" in finding.message
    assert "nvidia-cuda-opencl-cu12" in finding.hint and "intel-opencl-rt" in finding.hint
    assert needed(report, "_ext.so")["libOpenCL.so.1"]["how"] == "missing"
    assert needed(report, "_ext.so")["libm.so.6"] == {"library": "libm.so.6", "how": "system",
                                                       "where": "the C library"}


def test_a_declared_dependency_provides_it(tmp_path):
    wheel = make_wheel(tmp_path, WHEEL, {"demo/_ext.so": OPENCL},
                       metadata="Requires-Dist: nvidia-cuda-opencl-cu12>=12\n")
    report = abicheck.check([wheel])
    assert report.exit_code == 0
    assert needed(report, "_ext.so")["libOpenCL.so.1"] == {"library": "libOpenCL.so.1", "how": "dependency",
                                                            "where": "nvidia-cuda-opencl-cu12"}


def test_markers_are_evaluated_for_the_wheel_platform(tmp_path):
    wrong = "Requires-Dist: nvidia-cuda-opencl-cu12; platform_machine == 'aarch64'\n"
    wheel = make_wheel(tmp_path, WHEEL, {"demo/_ext.so": OPENCL}, metadata=wrong)
    assert codes(abicheck.check([wheel])) == [("AB301", "libOpenCL.so.1")]
    old_python = "Requires-Dist: nvidia-cuda-opencl-cu12; python_version < '3.10'\n"
    wheel = make_wheel(tmp_path, WHEEL, {"demo/_ext.so": OPENCL}, metadata=old_python)
    assert codes(abicheck.check([wheel])) == [("AB301", "libOpenCL.so.1")]  # a cp311 wheel


def test_a_library_only_an_extra_installs_is_its_own_finding(tmp_path):
    extra = "Provides-Extra: gpu\nRequires-Dist: nvidia-cuda-opencl-cu12; extra == 'gpu'\n"
    wheel = make_wheel(tmp_path, WHEEL, {"demo/_ext.so": OPENCL}, metadata=extra)
    report = abicheck.check([wheel])
    assert codes(report) == [("AB307", "libOpenCL.so.1")]
    assert "nvidia-cuda-opencl-cu12[gpu]" in report.findings[0].message
    assert needed(report, "_ext.so")["libOpenCL.so.1"]["how"] == "extra"


def test_a_shipped_library_out_of_the_loaders_reach_says_which_runpath_reaches_it(tmp_path):
    libbar = bin_path("x86_64/runtimes/libbar.so.1")
    wheel = make_wheel(tmp_path, WHEEL, {"demo/sub/_ext.so": bin_path("x86_64/needs-libbar.so"),
                                         "demo.libs/libbar.so.1": libbar})
    report = abicheck.check([wheel])
    assert codes(report) == [("AB306", "libbar.so.1")]
    assert "$ORIGIN/../../demo.libs" in report.findings[0].hint
    # With the RUNPATH auditwheel repair would set, the loader finds it.
    wheel = make_wheel(tmp_path, WHEEL, {"demo/_ext.so": bin_path("x86_64/needs-libbar-origin.so"),
                                         "pkg.libs/libbar.so.1": libbar})
    report = abicheck.check([wheel])
    assert report.exit_code == 0
    assert needed(report, "_ext.so")["libbar.so.1"] == {"library": "libbar.so.1", "how": "shipped",
                                                         "where": "pkg.libs/libbar.so.1"}


def test_a_library_its_loader_loads_first_is_found_without_a_runpath(tmp_path):
    members = {"demo/_ext.so": bin_path("x86_64/needs-two.so"),
               "pkg.libs/libneedsbar.so": bin_path("x86_64/needs-libbar.so"),
               "pkg.libs/libbar.so.1": bin_path("x86_64/runtimes/libbar.so.1")}
    report = abicheck.check([make_wheel(tmp_path, WHEEL, members)])
    assert report.exit_code == 0
    assert needed(report, "libneedsbar.so")["libbar.so.1"] == {
        "library": "libbar.so.1", "how": "shipped", "where": "pkg.libs/libbar.so.1",
        "detail": "loaded first by demo/_ext.so"}
    # With nothing in the wheel loading libneedsbar.so, whatever dlopens it may or may not have loaded
    # libbar.so.1 first: not verified (counted, and failed by --strict), never found nor a finding.
    members["demo/_ext.so"] = bin_path("x86_64/needs-libbar-origin.so")
    report = abicheck.check([make_wheel(tmp_path, WHEEL, members)])
    assert report.findings == [] and report.unverified == 1
    assert needed(report, "libneedsbar.so")["libbar.so.1"]["how"] == "unverified"
    # A Python extension, though, is imported by its own path: there the sibling is unreachable (AB306).
    members = {"demo/_ext.so": bin_path("x86_64/needs-libbar-origin.so"),
               "pkg.libs/_needsbar.so": bin_path("x86_64/needs-libbar.so"),
               "pkg.libs/libbar.so.1": bin_path("x86_64/runtimes/libbar.so.1")}
    report = abicheck.check([make_wheel(tmp_path, WHEEL, members)])
    assert [(f.code, f.library, f.path.split("!")[1]) for f in report.findings] == [
        ("AB306", "libbar.so.1", "pkg.libs/_needsbar.so")]


def test_a_runpath_into_a_dependency_wheel_folder_resolves_to_it(tmp_path):
    # torch/lib/libtorch_cuda.so reaches site-packages/nvidia/cuda_runtime/lib the same way.
    members = {"demo/lib/libdemo_cuda.so": bin_path("x86_64/needs-cudart-runpath.so")}
    wheel = make_wheel(tmp_path, WHEEL, members, metadata="Requires-Dist: nvidia-cuda-runtime-cu12\n")
    report = abicheck.check([wheel])
    assert report.exit_code == 0
    entry = needed(report, "libdemo_cuda.so")["libcudart.so.12"]
    assert entry["how"] == "dependency" and entry["where"] == "nvidia-cuda-runtime-cu12"
    assert "$ORIGIN/../../nvidia/cuda_runtime/lib" in entry["detail"]


def test_a_directory_tree_resolves_through_runpath_and_symlinks(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg.libs").mkdir()
    shutil.copy(bin_path("x86_64/needs-libbar-origin.so"), tmp_path / "pkg" / "_ext.so")
    shutil.copy(bin_path("x86_64/runtimes/libbar.so.1"), tmp_path / "pkg.libs" / "libbar.so.1.2.3")
    os.symlink("libbar.so.1.2.3", tmp_path / "pkg.libs" / "libbar.so.1")
    report = abicheck.check([str(tmp_path)])
    assert report.exit_code == 0
    assert needed(report, "_ext.so")["libbar.so.1"]["where"] == "pkg.libs/libbar.so.1"
    os.remove(tmp_path / "pkg.libs" / "libbar.so.1")  # now only its SONAME matches: out of reach
    report = abicheck.check([str(tmp_path)])
    assert codes(report) == [("AB306", "libbar.so.1")]


def test_a_loose_file_looks_beside_itself_on_disk(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "pkg.libs").mkdir()
    shutil.copy(bin_path("x86_64/needs-libbar-origin.so"), tmp_path / "lib" / "_ext.so")
    report = abicheck.check([str(tmp_path / "lib" / "_ext.so")])
    assert codes(report) == [("AB301", "libbar.so.1")]
    shutil.copy(bin_path("x86_64/runtimes/libbar.so.1"), tmp_path / "pkg.libs" / "libbar.so.1")
    assert abicheck.check([str(tmp_path / "lib" / "_ext.so")]).exit_code == 0


def test_glibc_libraries_never_count_as_shipped_and_libpython_gets_its_own_hint(tmp_path):
    report = abicheck.check([bin_path("x86_64/kernels/pyapi-limited.abi3.so")])
    libs = {n["library"]: n["how"] for a in report.artifacts for n in a.needed}
    assert all(how == "system" for lib, how in libs.items() if lib.startswith("libc."))


def test_musl_objects_are_judged_as_musl():
    loose = abicheck.check([bin_path("x86_64/musl.so")])
    assert loose.exit_code == 0 and loose.artifacts[0].policy == "musllinux_1_2"
    done = run_cli("show", bin_path("x86_64/musl.so"))
    assert "most compatible:        musllinux_1_1_x86_64" in done.stdout
    assert "manylinux" not in done.stdout
    strict = abicheck.check([bin_path("x86_64/musl.so")], policy="manylinux_2_28")
    assert codes(strict) == [("AB403", None)]


def test_a_musl_object_in_a_manylinux_wheel_is_a_finding(tmp_path):
    wheel = make_wheel(tmp_path, WHEEL, {"demo/_musl.so": bin_path("x86_64/musl.so")})
    report = abicheck.check([wheel])
    assert [f.code for f in report.findings] == ["AB403"]
    assert "musl object" in report.findings[0].message


def test_a_pure_python_tagged_wheel_with_objects_is_a_finding(tmp_path):
    wheel = make_wheel(tmp_path, "demo-1.0-py3-none-any.whl",
                       {"demo/_a.so": bin_path("x86_64/portable-glibc228.so"),
                        "demo/_b.so": bin_path("x86_64/portable-glibc228.so")})
    report = abicheck.check([wheel])
    assert [f.code for f in report.findings] == ["AB404"]
    assert "2 compiled objects" in report.findings[0].message
    assert abicheck.check([wheel], ignore=["AB404"]).exit_code == 0


def test_weak_references_to_blacklisted_symbols_are_fine():
    # lld left its GLIBC_2.18 need non-weak (AB101's business); the weak symbol itself is not AB102's.
    weak = abicheck.check([bin_path("x86_64/weak-optional.so")], policy="manylinux_2_17", select=["AB102"])
    assert weak.exit_code == 0, weak.findings
    assert "libc.so.6" in read_facts(bin_path("x86_64/weak-optional.so")).needed
    strong = abicheck.check([bin_path("x86_64/zlib-internal.so")], policy="manylinux_2_17", select=["AB102"])
    assert {f.code for f in strong.findings} == {"AB102"}
    assert all("bundle libz.so.1" in f.hint for f in strong.findings)


def test_gdb_scripts_beside_libraries_are_not_members_to_check(tmp_path):
    wheel = make_wheel(tmp_path, WHEEL, {"demo/lib/libsycl.so.9.0.0-gdb.py": b"import gdb\n",
                                         "demo/_ext.so": bin_path("x86_64/portable-glibc228.so")})
    report = abicheck.check([wheel])
    assert report.errors == [] and report.exit_code == 0 and report.skipped == 3  # + METADATA, WHEEL


def test_kernels_may_use_what_torch_installs_for_their_cuda_major(tmp_path):
    good = bin_path("x86_64/kernels/cuda-good.abi3.so")
    report = abicheck.check([good], variant="torch29-cxx11-cu128-x86_64-linux")
    assert report.exit_code == 0
    libs = needed(report, "cuda-good.abi3.so")
    assert libs["libcudart.so.12"] == {"library": "libcudart.so.12", "how": "dependency",
                                       "where": "nvidia-cuda-runtime-cu12"}
    assert libs["libtorch_cuda.so"]["where"] == "torch"
    cu13 = abicheck.check([good], variant="torch212-cxx11-cu130-x86_64-linux")
    assert codes(cu13) == [("AB303", "libcudart.so.12")]


def test_backends_without_data_are_reported_as_not_verified_never_as_clean():
    report = abicheck.check([bin_path("x86_64/kernels/rocm-good.abi3.so")],
                            variant="torch29-cxx11-rocm64-x86_64-linux")
    assert report.exit_code == 0
    libs = needed(report, "rocm-good.abi3.so")
    assert libs["libamdhip64.so.6"]["how"] == "unverified"
    assert libs["libc10.so"]["how"] == "dependency"  # in every torch build the data knows
    assert report.to_dict()["summary"]["libraries_not_verified"] == 3
    done = run_cli("check", "--format", "json", "--variant", "torch29-cxx11-rocm64-x86_64-linux",
                   bin_path("x86_64/kernels/rocm-good.abi3.so"))
    assert json.loads(done.stdout)["summary"]["libraries_not_verified"] == 3


def test_show_prints_where_each_needed_library_comes_from(tmp_path):
    wheel = make_wheel(tmp_path, WHEEL, {"demo/_ext.so": bin_path("x86_64/needs-libbar-origin.so"),
                                         "pkg.libs/libbar.so.1": bin_path("x86_64/runtimes/libbar.so.1"),
                                         "demo/_cl.so": OPENCL})
    done = run_cli("show", wheel)
    assert "libbar.so.1: shipped (pkg.libs/libbar.so.1)" in done.stdout
    assert "libOpenCL.so.1: NOT FOUND" in done.stdout
    assert "libm.so.6: system (the C library)" in done.stdout
    data = json.loads(run_cli("show", "--format", "json", wheel).stdout)
    ext = next(o for o in data["objects"] if o["path"].endswith("_ext.so"))
    assert ext["resolved"] == [{"library": "libbar.so.1", "how": "shipped", "where": "pkg.libs/libbar.so.1"}]
    assert data["skipped_non_elf"] == 2


@pytest.mark.parametrize(("runpath", "relpath", "expected"), [
    ("$ORIGIN", "pkg/_ext.so", "pkg"),
    ("${ORIGIN}/../pkg.libs", "pkg/_ext.so", "pkg.libs"),
    ("$ORIGIN/../../nvidia/cublas/lib", "torch/lib/libtorch_cuda.so", "nvidia/cublas/lib"),
    ("$ORIGIN/..", "_ext.so", ".."),
    ("/opt/lib", "_ext.so", "/opt/lib"),
    ("$LIB/x", "_ext.so", None),
    ("lib", "_ext.so", None),
])
def test_search_path_expansion(runpath, relpath, expected):
    facts = read_facts(bin_path("x86_64/needs-libbar-origin.so"))
    facts = facts._replace(runpath=(runpath,))
    assert search_path(facts, relpath).entries == [(runpath, expected)]


def test_suggested_runpath():
    assert suggested_runpath("demo/sub/_ext.so", "demo.libs/libbar.so.1") == "$ORIGIN/../../demo.libs"
    assert suggested_runpath("demo/_ext.so", "demo/libbar.so.1") == "$ORIGIN"


def test_metadata_headers_are_read_up_to_the_description():
    from abicheck.analysis.requirements import dependencies, headers

    text = ("Metadata-Version: 2.1\nName: demo\nrequires-dist: tbb>=2021;\n  platform_machine == 'x86_64'\n"
            "Provides-Extra: gpu\nRequires-Dist: nvidia-cublas-cu12; extra == 'gpu'\n"
            "Requires-Dist: numpy\n\nRequires-Dist: not-a-header\n")
    assert headers(text, ("Requires-Dist",))["Requires-Dist"] == [
        "tbb>=2021; platform_machine == 'x86_64'", "nvidia-cublas-cu12; extra == 'gpu'", "numpy"]
    deps = dependencies(text, "x86_64", "3.11")
    assert deps.default == ["tbb", "numpy"] and deps.extras == {"nvidia-cublas-cu12": ["gpu"]}
    assert dependencies(text, "aarch64", "3.11").default == ["numpy"]


def test_a_version_the_shipped_library_does_not_define_is_named(tmp_path):
    (tmp_path / "pkg").mkdir()
    shutil.copy(bin_path("x86_64/needs-libver2.so"), tmp_path / "pkg" / "_ext.so")
    shutil.copy(bin_path("x86_64/runtimes/libver-1.0.so.1"), tmp_path / "pkg" / "libver.so.1")
    report = abicheck.check([str(tmp_path)])
    assert [(f.code, f.version, f.library) for f in report.findings] == [("AB311", "LIBVER_2.0", "libver.so.1")]
    assert "defines LIBVER_1.0" in report.findings[0].message
    # The release it was built against defines it.
    shutil.copy(bin_path("x86_64/abi/libver.so"), tmp_path / "pkg" / "libver.so.1")
    assert abicheck.check([str(tmp_path)]).exit_code == 0
