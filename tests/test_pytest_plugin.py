"""The pytest plugin, run with pytester in temporary kernel repos."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import bin_path

pytest_plugins = ["pytester"]

VARIANT = "torch28-cxx11-cu128-x86_64-linux"
GOOD = f"build/{VARIANT}/relu/_relu_cuda_ab12.abi3.so"
BAD = f"build/{VARIANT}/relu/_glibc_cuda_ab12.abi3.so"


@pytest.fixture
def kernel_repo(pytester):
    """A kernel repo with one good and one bad object in a CUDA 12.8 variant."""
    folder = pytester.path / "build" / VARIANT / "relu"
    folder.mkdir(parents=True)
    (folder.parent / "metadata.json").write_text('{"backend": {"type": "cuda"}}')
    (folder.parent / "__init__.py").write_text("")
    shutil.copy(bin_path("x86_64/kernels/cuda-good.abi3.so"), pytester.path / GOOD)
    shutil.copy(bin_path("x86_64/newglibc.so"), pytester.path / BAD)
    pytester.makepyfile(test_ops="def test_ops():\n    assert True\n")
    return pytester


def test_one_passed_one_failed_with_symbol_and_hint(kernel_repo):
    result = kernel_repo.runpytest("--abicheck", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=1)  # test_ops, the good object, build/; the bad object
    result.stdout.fnmatch_lines([
        "*AB101 [[]symbol-version-too-new[]] pthread_join@GLIBC_2.34 from libc.so.6*",
        "*hint: rebuild against glibc 2.28*pthread_join@GLIBC_2.2.5 in libpthread.so.0*",
        f"FAILED abicheck::{BAD}*",  # under CI=1 pytest appends the message
    ])
    assert "Traceback" not in result.stdout.str() and "pytest_plugin.py" not in result.stdout.str()


def test_item_ids_are_readable(kernel_repo):
    result = kernel_repo.runpytest("--abicheck", "--collect-only", "-q")
    result.stdout.fnmatch_lines([f"abicheck::{BAD}", f"abicheck::{GOOD}"])


def test_junit_xml_records_both(kernel_repo):
    result = kernel_repo.runpytest("--abicheck", "--junitxml=report.xml")
    assert result.ret == 1
    cases = ET.parse(kernel_repo.path / "report.xml").getroot().iter("testcase")
    outcome = {c.get("name"): [child.tag for child in c] for c in cases}
    assert outcome[GOOD] == [] and outcome[BAD] == ["failure"]


def test_not_switched_on_collects_nothing(kernel_repo):
    result = kernel_repo.runpytest("--collect-only", "-q")
    assert "abicheck::" not in result.stdout.str()
    kernel_repo.runpytest().assert_outcomes(passed=1)


def test_ini_switch_and_options(kernel_repo):
    kernel_repo.makeini("[pytest]\nabicheck = true\nabicheck_policy = manylinux_2_36\n")
    kernel_repo.runpytest().assert_outcomes(passed=4)  # pthread_join@2.34 is fine for 2.36


def test_pyproject_switch(kernel_repo):
    kernel_repo.makepyprojecttoml('[tool.pytest.ini_options]\nabicheck = true\nabicheck_ignore = ["AB1"]\n')
    kernel_repo.runpytest().assert_outcomes(passed=4)


def test_selection_works_like_any_test(kernel_repo):
    kernel_repo.runpytest("--abicheck", "-k", "relu_cuda").assert_outcomes(passed=1)
    result = kernel_repo.runpytest("--abicheck", "-x", "-k", "abicheck")
    result.assert_outcomes(failed=1)  # stops at the first failure
    kernel_repo.runpytest("--abicheck")  # fills the last-failed cache
    kernel_repo.runpytest("--abicheck", "--lf").assert_outcomes(failed=1)


def test_no_build_outputs_skips_with_a_reason_or_fails_when_strict(pytester):
    pytester.makepyfile(test_ops="def test_ops():\n    assert True\n")
    result = pytester.runpytest("--abicheck", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*no build outputs under build/, result/: build the kernel first*"])
    strict = pytester.runpytest("--abicheck", "--abicheck-strict")
    strict.assert_outcomes(passed=1, failed=1)


def test_input_error_fails_its_item(kernel_repo):
    (kernel_repo.path / "build" / VARIANT / "relu" / "_cut_cuda_1.abi3.so").write_bytes(
        open(bin_path("bad/truncated-tables.so"), "rb").read())
    result = kernel_repo.runpytest("--abicheck")
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(["*error: truncated ELF*"])


def test_bad_option_is_a_usage_error(kernel_repo):
    result = kernel_repo.runpytest("--abicheck", "--abicheck-policy", "manylinux_9_9")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*abicheck: unknown policy 'manylinux_9_9'*"])


def test_fixture_for_hand_written_tests(kernel_repo):
    kernel_repo.makepyfile(test_manual=f"""
        def test_good(abicheck_check):
            abicheck_check("{GOOD}").assert_clean()

        def test_bad(abicheck_check):
            abicheck_check("{BAD}", policy="manylinux_2_28").assert_clean()
    """)
    result = kernel_repo.runpytest("test_manual.py")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: abicheck found problems:*", "*pthread_join@GLIBC_2.34*"])


def test_a_bad_variant_folder_fails_the_objects_in_it(pytester):
    """An error about the folder (here an unknown variant name) must not leave its objects passing."""
    folder = pytester.path / "build" / "torch28-cxx11-cu999x-x86_64-linux"
    folder.mkdir(parents=True)
    shutil.copy(bin_path("x86_64/kernels/cuda-good.abi3.so"), folder / "_relu_cuda_1.abi3.so")
    result = pytester.runpytest("--abicheck")
    result.assert_outcomes(passed=1, failed=1)  # the object; build/ has no error of its own
    result.stdout.fnmatch_lines(["*error: *torch28-cxx11-cu999x-x86_64-linux: unknown build variant name*"])


def _torch_repo(pytester, installed: str, libs: int, variant: str = "torch28-cxx11-cpu-x86_64-linux") -> None:
    """A cpu kernel of a torch release and, importable without being imported, an installed stand-in torch."""
    folder = pytester.path / "build" / variant / "relu"
    folder.mkdir(parents=True)
    (folder.parent / "metadata.json").write_text('{"backend": {"type": "cpu"}}')
    shutil.copy(bin_path("x86_64/kernels/torch-kernel.so"), folder / "_relu_cpu_ab12.abi3.so")
    torch = pytester.path / "site" / "torch"
    shutil.copytree(Path(bin_path(f"x86_64/torch/v{libs}/lib")), torch / "lib")
    (torch / "version.py").write_text(f"__version__ = '{installed}'\n")
    pytester.syspathinsert(pytester.path / "site")
    pytester.makepyfile(test_ops="def test_ops():\n    assert True\n")


def test_the_installed_torch_checks_its_variants_symbols(pytester):
    _torch_repo(pytester, "2.8.0", libs=2)  # release 2's libraries lack a symbol the kernel needs
    result = pytester.runpytest("--abicheck", "-p", "no:cacheprovider", "--abicheck-select", "AB308")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*AB308 [[]undefined-torch-symbol[]] c10::RegisterOperators::~RegisterOperators()*"])


def test_a_variant_of_a_release_nobody_has_is_skipped_never_passed(pytester):
    _torch_repo(pytester, "2.9.0", libs=1, variant="torch26-cxx11-cpu-x86_64-linux")  # 2.6: not in the index
    result = pytester.runpytest("--abicheck", "-p", "no:cacheprovider", "--abicheck-select", "AB308", "-rs")
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines([
        "abicheck: torch symbols not checked for 1 object: torch 2.6 is not in abicheck's torch index*",
        "SKIPPED*passed what was checked; not checked: torch symbols (torch 2.6 is not in abicheck's torch index "
        "(2.7 to 2.15) and no --abicheck-torch of that release was given)*"])
    assert "--torch " not in result.stdout.str()  # pytest's options, not the command line's
    strict = pytester.runpytest("--abicheck", "-p", "no:cacheprovider", "--abicheck-select", "AB308",
                                "--abicheck-strict")
    strict.assert_outcomes(passed=2, failed=1)


def test_a_variant_of_another_release_than_the_installed_torch_is_checked_against_the_index(pytester):
    _torch_repo(pytester, "2.9.0", libs=1)  # a torch28 variant; the installed stand-in is 2.9
    result = pytester.runpytest("--abicheck", "-p", "no:cacheprovider", "--abicheck-select", "AB308")
    result.assert_outcomes(passed=2, failed=1)  # the stand-in kernel's symbols are not in the real torch 2.8
    result.stdout.fnmatch_lines(["*not defined by torch 2.8.0 (CUDA 12.8 build, x86_64) from abicheck's torch index*"])


def test_choosing_tests_by_id_runs_no_abicheck_items(kernel_repo):
    result = kernel_repo.runpytest("--abicheck", "-p", "no:cacheprovider", "test_ops.py::test_ops")
    result.assert_outcomes(passed=1)
    whole = kernel_repo.runpytest("--abicheck", "-p", "no:cacheprovider", ".")
    whole.assert_outcomes(passed=3, failed=1)


def test_the_projects_tool_abicheck_settings_apply_as_on_the_command_line(kernel_repo):
    kernel_repo.makepyprojecttoml('[tool.abicheck]\nignore = ["AB1"]\n')
    result = kernel_repo.runpytest("--abicheck", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)  # the glibc findings are AB101, ignored by the project
    kernel_repo.makepyprojecttoml('[tool.abicheck]\nignroe = ["AB1"]\n')
    bad = kernel_repo.runpytest("--abicheck", "-p", "no:cacheprovider")
    assert bad.ret != 0 and "unknown key 'ignroe'" in bad.stderr.str()


def test_a_policy_file_option_like_the_command_lines(kernel_repo):
    extra = kernel_repo.path / "extra.json"  # inside the repo: a path outside would move pytest's rootdir
    extra.write_text('{"backends": {"cuda": {"allowed": ["libcudart.so.12"]}}}')
    good = kernel_repo.runpytest("--abicheck", "-p", "no:cacheprovider", "--abicheck-policy-file", str(extra))
    good.assert_outcomes(passed=3, failed=1)
    extra.write_text('{"backends": 5}')
    result = kernel_repo.runpytest("--abicheck", "-p", "no:cacheprovider", "--abicheck-policy-file", str(extra))
    assert result.ret != 0 and "backends must be an object" in result.stdout.str() + result.stderr.str()


def test_an_undefined_symbol_and_unchecked_imports_in_the_plugin(pytester):
    """AB312 fails the object's item; imports without export data are named at the end of the run."""
    folder = pytester.path / "dist" / "pkg"
    folder.mkdir(parents=True)
    shutil.copy(bin_path("x86_64/symbols/uses-shape.so"), folder / "_shape.so")
    shutil.copy(bin_path("x86_64/abi/libshape-v2-removed.so"), folder / "libshape.so.1")
    shutil.copy(bin_path("x86_64/zlib-internal.so"), folder / "_zlib.so")
    result = pytester.runpytest("--abicheck", "--abicheck-paths", "dist", "-p", "no:cacheprovider",
                                "--abicheck-ignore", "AB102,AB301")
    result.stdout.fnmatch_lines([
        "*AB312 [[]undefined-symbol[]] shape_scale is not defined by libshape.so.1*",
        "abicheck: 2 imports not checked: the exports of what provides them are unknown",
        "abicheck: libz.so.1: a system library abicheck has no export data for (1 object)",
        "FAILED abicheck::dist/pkg/_shape.so*",
    ])


def test_a_tree_of_pure_python_variants_is_not_told_to_build(pytester):
    for name in ("torch-cuda", "torch-cpu"):
        (pytester.path / "build" / name).mkdir(parents=True)
        (pytester.path / "build" / name / "ops.py").write_text("def relu(x):\n    return x\n")
    pytester.makepyfile(test_ops="def test_ops():\n    assert True\n")
    result = pytester.runpytest("--abicheck", "-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*only pure-Python variants under build/, result/ (torch-cpu, torch-cuda): "
                                 "no compiled objects to check*"])
    assert "build the kernel first" not in result.stdout.str()


def test_folder_errors_without_objects_fail_an_item_of_their_own(pytester):
    """The command line exits 2 on an unknown variant name even when the folder holds nothing: so does pytest."""
    good = pytester.path / "build" / "torch212-cxx11-cu130-x86_64-linux"
    good.mkdir(parents=True)
    shutil.copy(bin_path("x86_64/portable-glibc228.so"), good / "_k.so")
    (good / "metadata.json").write_text("{bad")
    (pytester.path / "build" / "torch999-weird-x86_64-linux").mkdir()
    pytester.makepyfile(test_ops="def test_ops():\n    assert True\n")
    result = pytester.runpytest("--abicheck", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "*error: */torch212-cxx11-cu130-x86_64-linux/metadata.json: malformed metadata.json*",
        "*error: */build/torch999-weird-x86_64-linux: unknown build variant name*",
        "FAILED abicheck::build/torch212-cxx11-cu130-x86_64-linux/_k.so*",
        "FAILED abicheck::build/*",
    ])


def test_a_monorepo_of_kernels_is_collected_from_its_root(pytester):
    """kernels-community's layout: <kernel>/build/<variant>/, no build/ at the root."""
    for kernel, source in (("relu", "x86_64/portable-glibc228.so"), ("gelu", "x86_64/newglibc.so")):
        folder = pytester.path / kernel / "build" / "torch29-cxx11-cpu-x86_64-linux"
        folder.mkdir(parents=True)
        shutil.copy(bin_path(source), folder / f"_{kernel}_cpu_ab12.abi3.so")
    result = pytester.runpytest("--abicheck", "-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=3, failed=1)  # two objects, two output folders; gelu's needs glibc 2.34
    result.stdout.fnmatch_lines(["*abicheck::gelu/build/torch29-cxx11-cpu-x86_64-linux/_gelu_cpu_ab12.abi3.so FAILED*",
                                 "*abicheck::relu/build/torch29-cxx11-cpu-x86_64-linux/_relu_cpu_ab12.abi3.so PASSED*"])


def test_collect_only_counts_the_abicheck_items(pytester):
    folder = pytester.path / "build" / "torch29-cxx11-cpu-x86_64-linux"
    folder.mkdir(parents=True)
    shutil.copy(bin_path("x86_64/portable-glibc228.so"), folder / "_k_cpu_ab12.abi3.so")
    pytester.makepyfile(test_ops="def test_ops():\n    assert True\n")
    result = pytester.runpytest("--abicheck", "--co", "-q", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["abicheck::build/torch29-cxx11-cpu-x86_64-linux/_k_cpu_ab12.abi3.so",
                                 "3 tests collected*"])  # it said "no tests collected" after listing them
    empty = pytester.mkdir("empty")
    result = pytester.runpytest("--abicheck", "--co", "-q", "-p", "no:cacheprovider", "--abicheck-paths", str(empty))
    result.stdout.fnmatch_lines(["*tests collected*"])
