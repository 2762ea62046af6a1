"""A kernel's imports from torch, against the torch it will meet (AB308) and its C++ ABI (AB309)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import BIN, bin_path, make_wheel, run_cli

import abicheck
from abicheck.errors import UsageError

KERNEL = bin_path("x86_64/kernels/torch-kernel.so")
CXX98 = bin_path("x86_64/kernels/torch-kernel-cxx98.so")
RELEASES = {1: "2.8.0", 2: "2.9.0"}  # testdata's torch/v1 and torch/v2 stand-ins


def installed_torch(where: Path, release: int) -> str:
    """An installed torch folder (torch/lib and torch/version.py) made of the stand-in libraries."""
    folder = where / "site" / "torch"
    shutil.copytree(BIN / "x86_64" / "torch" / f"v{release}" / "lib", folder / "lib")
    (folder / "version.py").write_text(f"__version__ = '{RELEASES[release]}+cpu'\n")
    return str(folder)


def codes(report):
    return sorted((f.code, f.symbol) for f in report.findings if f.code in ("AB308", "AB309"))


def test_built_against_the_same_torch_every_import_is_found(tmp_path):
    report = abicheck.check([KERNEL], torch=installed_torch(tmp_path, 1))
    assert codes(report) == []
    assert report.artifacts[0].symbols == {"checked": 4, "missing": 0, "torch": "2.8.0+cpu"}


def test_a_symbol_the_next_torch_dropped_is_named(tmp_path):
    report = abicheck.check([KERNEL], torch=installed_torch(tmp_path, 2))
    assert codes(report) == [("AB308", "_ZN3c1017RegisterOperatorsD1Ev")]
    finding = next(f for f in report.findings if f.code == "AB308")
    assert finding.demangled == "c10::RegisterOperators::~RegisterOperators()"
    assert "not defined by torch 2.9.0+cpu from --torch (libc10.so, libtorch_cpu.so)" in finding.message
    assert "built against another torch than 2.9" in finding.hint


def test_the_other_cxx_abi_is_named_as_the_cause(tmp_path):
    report = abicheck.check([CXX98], torch=installed_torch(tmp_path, 1))
    assert ("AB308", "_ZN3c104warnERKSs") in codes(report)
    finding = next(f for f in report.findings if f.symbol == "_ZN3c104warnERKSs" and f.code == "AB308")
    assert "cxx98 C++ ABI" in finding.hint and "-D_GLIBCXX_USE_CXX11_ABI=1" in finding.hint
    # Without a variant, the ABI torch was built with is the one expected.
    assert ("AB309", "_ZN3c104warnERKSs") in codes(report)


def test_the_cxx_abi_rule_needs_no_torch():
    # (The stand-in kernels import symbols no real torch has: AB308 against the index is left out here.)
    cxx11_variant = abicheck.check([CXX98], variant="torch28-cxx11-cpu-x86_64-linux", ignore=["AB308"])
    assert codes(cxx11_variant) == [("AB309", "_ZN3c104warnERKSs")]
    (finding,) = [f for f in cxx11_variant.findings if f.code == "AB309"]
    assert finding.message == ("c10::warn(std::string const&) uses the cxx98 C++ ABI, but the variant "
                               "torch28-cxx11-cpu-x86_64-linux is cxx11")
    cxx98_variant = abicheck.check([KERNEL], variant="torch27-cxx98-cpu-x86_64-linux", ignore=["AB308"])
    cxx11_warn = "_ZN3c104warnERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE"
    assert codes(cxx98_variant) == [("AB309", cxx11_warn)]
    assert codes(abicheck.check([KERNEL], variant="torch28-cxx11-cpu-x86_64-linux", ignore=["AB308"])) == []


def test_a_torch_wheel_works_like_an_installed_torch(tmp_path):
    lib = BIN / "x86_64" / "torch" / "v2" / "lib"
    wheel = make_wheel(tmp_path, "torch-2.9.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                       {f"torch/lib/{p.name}": str(p) for p in lib.iterdir()})
    assert codes(abicheck.check([KERNEL], torch=wheel)) == [("AB308", "_ZN3c1017RegisterOperatorsD1Ev")]


def test_a_saved_abi_dump_of_a_torch_wheel_works_too(tmp_path):
    lib = BIN / "x86_64" / "torch" / "v2" / "lib"
    wheel = make_wheel(tmp_path, "torch-2.9.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                       {f"torch/lib/{p.name}": str(p) for p in lib.iterdir()})
    dump = tmp_path / "torch.json"
    assert run_cli("abi", "dump", "--format", "json", wheel, "-o", str(dump)).returncode == 0
    report = abicheck.check([KERNEL], torch=str(dump))
    assert codes(report) == [("AB308", "_ZN3c1017RegisterOperatorsD1Ev")]
    assert report.artifacts[0].symbols["torch"] == "2.9.0"
    so_dump = tmp_path / "one.json"  # a dump of one library says nothing of torch's release
    assert run_cli("abi", "dump", "--format", "json", str(lib / "libc10.so"), "-o", str(so_dump)).returncode == 0
    with pytest.raises(UsageError, match="not an ABI dump of a torch wheel"):
        abicheck.check([KERNEL], torch=str(so_dump))


def test_a_torch_of_another_release_than_an_unindexed_variant_is_a_usage_error_unless_asked(tmp_path):
    torch = installed_torch(tmp_path, 2)
    old = "torch26-cxx11-cpu-x86_64-linux"  # torch 2.6: not in abicheck's index
    with pytest.raises(UsageError, match=r"variant torch26-cxx11-cpu-x86_64-linux is for torch 2\.6, which abicheck"):
        abicheck.check([KERNEL], variant=old, torch=torch)
    skipped = abicheck.check([KERNEL], variant=old, torch=torch, torch_mismatch="skip")
    assert skipped.artifacts[0].symbols == {
        "checked": 0, "not_checked": "torch 2.6 is not in abicheck's torch index (2.7 to 2.15) and no --torch of "
                                     "that release was given"}
    assert skipped.to_dict()["summary"]["symbols_not_checked"] == 1
    anyway = abicheck.check([KERNEL], variant=old, torch=torch, torch_mismatch="check")
    assert codes(anyway) == [("AB308", "_ZN3c1017RegisterOperatorsD1Ev")]


def test_a_variant_of_an_indexed_release_is_checked_against_the_index_whatever_torch_is_given(tmp_path):
    torch = installed_torch(tmp_path, 2)  # a stand-in torch 2.9: not the variant's release
    report = abicheck.check([KERNEL], variant="torch28-cxx11-cpu-x86_64-linux", torch=torch)
    assert report.artifacts[0].symbols["torch"] == "2.8.0"
    finding = next(f for f in report.findings if f.code == "AB308")
    assert "torch 2.8.0 (CUDA 12.8 build, x86_64) from abicheck's torch index" in finding.message
    assert finding.details["torch_source"] == "the release of the variant torch28-cxx11-cpu-x86_64-linux"
    # The given torch wins for the variants of its own release.
    own = abicheck.check([KERNEL], variant="torch29-cxx11-cpu-x86_64-linux", torch=torch)
    assert own.artifacts[0].symbols["torch"] == "2.9.0+cpu"
    assert codes(own) == [("AB308", "_ZN3c1017RegisterOperatorsD1Ev")]


def test_without_a_torch_the_report_says_the_symbols_were_not_checked():
    loose = abicheck.check([KERNEL])
    assert loose.artifacts[0].symbols == {
        "checked": 0, "not_checked": "no torch at hand: name its release (a variant folder, --variant, or --torch "
                                     "2.9) or give a torch (--torch PATH)"}
    unknown = abicheck.check([KERNEL], variant="torch26-cxx11-cpu-x86_64-linux")
    assert unknown.artifacts[0].symbols["not_checked"].startswith("torch 2.6 is not in abicheck's torch index")


def test_the_command_line(tmp_path):
    torch = installed_torch(tmp_path, 2)
    done = run_cli("check", "--torch", torch, "--select", "AB308", KERNEL)
    assert done.returncode == 1
    assert "AB308 [undefined-torch-symbol] c10::RegisterOperators::~RegisterOperators() is not defined" in done.stdout
    data = json.loads(run_cli("check", "--torch", torch, "--format", "json", KERNEL).stdout)
    assert data["artifacts"][0]["symbols"]["missing"] == 1
    bad = run_cli("check", "--torch", str(tmp_path), KERNEL)
    assert bad.returncode == 2 and "not an installed torch" in bad.stderr
    assert run_cli("explain", "AB308").returncode == 0 and run_cli("explain", "cxx-abi-mismatch").returncode == 0


STABLE = "x86_64/kernels/stable-kernel.abi3.so"
STABLE_CXX = "x86_64/kernels/stable-kernel-cxx.abi3.so"


def test_a_stable_abi_kernel_using_only_the_c_shim_passes():
    report = abicheck.check([bin_path(STABLE)], variant="torch-stable-abi29-cpu-x86_64-linux", select=["AB310"])
    assert report.exit_code == 0


def test_a_stable_abi_kernel_that_slips_in_a_cxx_symbol_is_named():
    report = abicheck.check([bin_path(STABLE_CXX)], variant="torch-stable-abi29-cpu-x86_64-linux",
                            select=["AB310"])
    assert [(f.code, f.symbol) for f in report.findings] == [("AB310", "_ZN3c1017RegisterOperatorsC1Ev")]
    assert "c10::RegisterOperators::RegisterOperators() is torch's C++ API" in report.findings[0].message
    assert "the variant torch-stable-abi29-cpu-x86_64-linux" in report.findings[0].message


def test_stable_functions_newer_than_the_promise_are_named():
    from abicheck.policy.torch_stable_abi import stable_functions

    oldest = min(stable_functions().values())
    before = f"{oldest[0]}.{oldest[1] - 1}"
    report = abicheck.check([bin_path(STABLE)], torch_stable_abi=before, select=["AB310"])
    assert sorted(f.symbol for f in report.findings) == ["aoti_torch_delete_tensor_object",
                                                          "aoti_torch_get_data_ptr"]
    assert f"joined torch's stable ABI in {oldest[0]}.{oldest[1]}, after {before} (--torch-stable-abi)" in \
        report.findings[0].message
    with pytest.raises(UsageError, match="bad --torch-stable-abi"):
        abicheck.check([bin_path(STABLE)], torch_stable_abi="2.x")


@pytest.mark.parametrize("name", [
    # ref-qualified members, as torch 2.13.0's libtorch_cpu.so exports them (readelf --dyn-syms)
    "_ZNKR3c106IValue10toBoolListEv",  # c10::IValue::toBoolList() const &
    "_ZNO3c106IValue12toTensorListEv",  # c10::IValue::toTensorList() &&
    "_ZNKR2at6Tensor17expect_contiguousEN3c1012MemoryFormatE",  # at::Tensor::expect_contiguous(...) const &
    # torch::Library::_def(...) &, imported by every TORCH_LIBRARY kernel
    "_ZNR5torch7Library4_defEN3c1014FunctionSchemaEPNS_11CppFunctionENS_13_RegisterOrVerifyE",
])
def test_ref_qualified_torch_members_are_torch_symbols(name):
    from abicheck.analysis.torch import is_torch_symbol

    assert is_torch_symbol(name)


def test_a_ref_qualifier_does_not_make_other_namespaces_torchs():
    from abicheck.analysis.torch import is_torch_symbol

    assert not is_torch_symbol("_ZNKR3foo3barEv") and not is_torch_symbol("_ZNO2ao6sparse4packEv")


def test_without_the_optional_demangler_the_cxx_abi_is_still_read_from_the_mangling():
    """cpp-demangle has wheels for few platforms (not aarch64 or musl Linux): without it, names stay mangled,
    and AB309 reads the old std::string (`Ss`) from the mangled name itself."""
    import subprocess
    import sys

    code = ("import sys, json; sys.modules['cpp_demangle'] = None\n"
            "import abicheck\n"
            f"r = abicheck.check([{CXX98!r}], variant='torch28-cxx11-cpu-x86_64-linux', select=['AB309'])\n"
            "print(json.dumps([(f.code, f.symbol, f.demangled) for f in r.findings]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == [["AB309", "_ZN3c104warnERKSs", None]]
