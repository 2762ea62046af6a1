"""abicheck's torch-symbol verdicts against the real loader, on objects this test builds.

Two stand-in torch "releases" are compiled here: both export ref-qualified members of
`torch::Library` and `c10::IValue` (`_def(...) &`, `toList() const &`, `take() &&`), as
real torch does, and the second changed `_def`'s signature, as releases do. A kernel
built against the first is then loaded by glibc's loader (`ldd -r`, and `dlopen` with
RTLD_NOW in a child process, as CPython loads extensions) beside each release. What the
loader reports undefined is what abicheck must name (AB308), no more and no fewer.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import run_cli

pytestmark = pytest.mark.requires("g++", "ldd")

HEADER = """
namespace c10 { struct IValue { int v; int toList() const &; int take() &&; }; }
namespace torch { struct Library { int n; int _def(%s) &; }; }
"""
RELEASE = """
namespace c10 { int IValue::toList() const & { return v; } int IValue::take() && { return v + 1; } }
namespace torch { int Library::_def(%s x) & { return n + (int)x; } }
"""
KERNEL = """
#include <utility>
extern "C" int kernel_entry() {
    torch::Library lib{1};
    c10::IValue value{2};
    return lib._def(3) + value.toList() + std::move(value).take();
}
"""


def compile_shared(source: str, output: Path, *extra: str) -> None:
    c_file = output.with_suffix(".cpp")
    c_file.write_text(source)
    subprocess.run(["g++", "-shared", "-fPIC", "-o", str(output), str(c_file), *extra], check=True)


def torch_release(root: Path, version: str, argument: str) -> Path:
    """An installed torch folder whose lib/libtorch_cpu.so defines the members with `_def(argument)`."""
    folder = root / version / "torch"
    (folder / "lib").mkdir(parents=True)
    (folder / "version.py").write_text(f"__version__ = '{version}+cpu'\n")
    compile_shared(HEADER % argument + RELEASE % argument, folder / "lib" / "libtorch_cpu.so",
                   "-Wl,-soname,libtorch_cpu.so")
    return folder


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    root = tmp_path_factory.mktemp("loader-truth")
    old, new = torch_release(root, "2.8.0", "int"), torch_release(root, "2.9.0", "long")
    kernel = root / "kernel.so"
    compile_shared(HEADER % "int" + KERNEL, kernel, f"-L{old / 'lib'}", "-ltorch_cpu")
    return kernel, old, new


def loader_undefined(kernel: Path, torch: Path) -> set[str]:
    """The symbols glibc's loader cannot bind, from `ldd -r` with the release's lib/ on the search path."""
    env = {**os.environ, "LD_LIBRARY_PATH": str(torch / "lib")}
    out = subprocess.run(["ldd", "-r", str(kernel)], capture_output=True, text=True, env=env)
    return set(re.findall(r"undefined symbol: (\S+)", out.stdout + out.stderr))


def dlopen_now(kernel: Path, torch: Path) -> str | None:
    """None when dlopen(RTLD_NOW) in a child process succeeds; else the loader's message."""
    code = f"import ctypes, os; ctypes.CDLL({str(kernel)!r}, mode=os.RTLD_NOW)"
    env = {**os.environ, "LD_LIBRARY_PATH": str(torch / "lib")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    return None if done.returncode == 0 else done.stderr.strip().splitlines()[-1]


def abicheck_undefined(kernel: Path, torch: Path) -> set[str]:
    done = run_cli("check", str(kernel), "--torch", str(torch), "--format", "json", "--select", "AB308")
    report = json.loads(done.stdout)
    return {f["symbol"] for a in report["artifacts"] for f in a["findings"] if f["code"] == "AB308"}


def test_against_the_release_it_was_built_for_the_loader_and_abicheck_find_everything(releases):
    kernel, old, _new = releases
    assert dlopen_now(kernel, old) is None
    assert loader_undefined(kernel, old) == set()
    assert abicheck_undefined(kernel, old) == set()


def test_against_the_next_release_abicheck_names_what_the_loader_cannot_bind(releases):
    kernel, _old, new = releases
    refused = dlopen_now(kernel, new)
    assert refused is not None and "undefined symbol: _ZNR5torch7Library4_defEi" in refused
    truth = loader_undefined(kernel, new)
    assert truth == {"_ZNR5torch7Library4_defEi"}  # torch::Library::_def(int) &: a ref-qualified member
    assert abicheck_undefined(kernel, new) == truth


def test_the_ref_qualified_imports_are_torchs_in_the_summary(releases):
    kernel, old, _new = releases
    done = run_cli("check", str(kernel), "--torch", str(old), "--format", "json")
    (artifact,) = json.loads(done.stdout)["artifacts"]
    # _def(int) &, toList() const & and take() &&: all three checked against torch, none left to AB312
    assert artifact["symbols"] == {"checked": 3, "missing": 0, "torch": "2.8.0+cpu"}, textwrap.shorten(
        done.stdout, 400)


# A CUDA build of torch, installed the way pip installs it: torch/lib beside the runtime wheel's
# nvidia/cuda_runtime/lib, and `import torch` loading libtorch_global_deps.so (which needs libcudart)
# with RTLD_GLOBAL before a kernel, as torch/__init__.py's _load_global_deps does.
CUDART = 'extern "C" int cudaStandIn(int x) { return x + %d; }\n'
CALLS = 'extern "C" int %s(int); extern "C" int kernel_entry() { torch::Library lib{1}; return lib._def(2) + %s(1); }\n'
USES_RUNTIME = CALLS % ("cudaStandIn", "cudaStandIn")
USES_MISSING = CALLS % ("cudaNobodyHas", "cudaNobodyHas")


def absent_cuda_major() -> int:
    """A CUDA major whose runtime this machine's loader cannot find (a CUDA toolkit may provide one)."""
    known = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, text=True).stdout
    return next(m for m in (11, 10, 9, 8) if f"libcudart.so.{m} " not in known)


@pytest.fixture(scope="module")
def cuda_site(tmp_path_factory):
    site = tmp_path_factory.mktemp("cuda-site")
    torch = site / "torch"
    lib = torch / "lib"
    lib.mkdir(parents=True)
    (torch / "version.py").write_text("__version__ = '2.8.0+cu128'\n")
    runtime = site / "nvidia" / "cuda_runtime" / "lib"
    runtime.mkdir(parents=True)
    compile_shared(CUDART % 12, runtime / "libcudart.so.12", "-Wl,-soname,libcudart.so.12")
    major = absent_cuda_major()  # the runtime the third kernel was linked against: not installed
    other = site / "elsewhere"
    other.mkdir()
    compile_shared(CUDART % major, other / f"libcudart.so.{major}", f"-Wl,-soname,libcudart.so.{major}")
    compile_shared(HEADER % "int" + RELEASE % "int", lib / "libtorch_cpu.so", "-Wl,-soname,libtorch_cpu.so")
    compile_shared("int c10_cuda_marker() { return 0; }\n", lib / "libc10_cuda.so", "-Wl,-soname,libc10_cuda.so")
    compile_shared("int global_deps_marker() { return 0; }\n", lib / "libtorch_global_deps.so",
                   "-Wl,-soname,libtorch_global_deps.so", f"-L{runtime}", "-Wl,--no-as-needed", "-l:libcudart.so.12",
                   "-Wl,-rpath,$ORIGIN/../../nvidia/cuda_runtime/lib")
    kernels = {}
    for name, source, runtime_lib in (("uses-runtime", USES_RUNTIME, "libcudart.so.12"),
                                      ("uses-missing", USES_MISSING, None),
                                      ("other-major", USES_RUNTIME, f"libcudart.so.{major}")):
        link = [f"-L{lib}", "-ltorch_cpu"]
        if runtime_lib is not None:
            where = runtime if runtime_lib.endswith("12") else other
            link += [f"-L{where}", f"-l:{runtime_lib}"]
        kernels[name] = site / f"{name}.so"
        compile_shared(HEADER % "int" + source, kernels[name], *link)
    return torch, runtime, kernels, major


def import_torch_then_load(kernel: Path, torch: Path, runtime: Path) -> str | None:
    """`import torch` (its global deps loaded with RTLD_GLOBAL), then the kernel with RTLD_NOW, in a child."""
    code = (f"import ctypes, os; ctypes.CDLL({str(torch / 'lib' / 'libtorch_global_deps.so')!r}, "
            f"mode=os.RTLD_GLOBAL | os.RTLD_NOW); ctypes.CDLL({str(kernel)!r}, mode=os.RTLD_NOW)")
    env = {**os.environ, "LD_LIBRARY_PATH": f"{torch / 'lib'}:{runtime}"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    return None if done.returncode == 0 else done.stderr.strip().splitlines()[-1]


def abicheck_report(kernel: Path, torch: Path) -> dict:
    done = run_cli("check", str(kernel), "--torch", str(torch), "--format", "json")
    (artifact,) = json.loads(done.stdout)["artifacts"]
    return artifact


def test_a_symbol_only_the_installed_runtime_defines_is_checked_and_found(cuda_site):
    torch, runtime, kernels, _major = cuda_site
    assert import_torch_then_load(kernels["uses-runtime"], torch, runtime) is None
    artifact = abicheck_report(kernels["uses-runtime"], torch)
    assert artifact["findings"] == [] and artifact["imports"]["not_checked"] == 0


def test_a_symbol_neither_torch_nor_its_runtime_defines_is_what_the_loader_refuses(cuda_site):
    torch, runtime, kernels, _major = cuda_site
    refused = import_torch_then_load(kernels["uses-missing"], torch, runtime)
    assert refused is not None and "undefined symbol: cudaNobodyHas" in refused
    artifact = abicheck_report(kernels["uses-missing"], torch)
    assert [(f["code"], f["symbol"]) for f in artifact["findings"]] == [("AB312", "cudaNobodyHas")]
    assert "libcudart.so.12" in artifact["findings"][0]["message"]  # the runtime was searched, not skipped


def test_a_runtime_of_the_other_cuda_major_is_what_the_loader_cannot_find(cuda_site):
    torch, runtime, kernels, major = cuda_site
    refused = import_torch_then_load(kernels["other-major"], torch, runtime)
    assert refused is not None and f"libcudart.so.{major}: cannot open shared object file" in refused
    artifact = abicheck_report(kernels["other-major"], torch)
    (finding,) = [f for f in artifact["findings"] if f["library"] == f"libcudart.so.{major}"]
    assert finding["code"] == "AB303"
    assert (f"needs libcudart.so.{major}, but torch 2.8.0+cu128 from --torch installs libcudart.so.12"
            in finding["message"])


# The cxx98/cxx11 split, and a stable-ABI op, against the same two stand-in releases.
WARN_RELEASE = '#include <string>\nnamespace c10 { int warn(const std::string& s) { return (int)s.size(); } }\n'
WARN_KERNEL = ('#include <string>\nnamespace c10 { int warn(const std::string& s); }\n'
               'extern "C" int kernel_entry() { return c10::warn("x"); }\n')
SHIM_RELEASE = 'extern "C" int aoti_torch_stand_in(int x) { return x; }\n'
SHIM_ADDED = 'extern "C" int aoti_torch_added_later(int x) { return x + 1; }\n'
SHIM_KERNEL = 'extern "C" int %s(int); extern "C" int kernel_entry() { return %s(1); }\n'


@pytest.fixture(scope="module")
def abi_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("abi-split")
    releases = {}
    for version, extra in (("2.8.0", ""), ("2.9.0", SHIM_ADDED)):
        folder = root / version / "torch"
        (folder / "lib").mkdir(parents=True)
        (folder / "version.py").write_text(f"__version__ = '{version}+cpu'\n")
        compile_shared(WARN_RELEASE + SHIM_RELEASE + extra, folder / "lib" / "libtorch_cpu.so",
                       "-Wl,-soname,libtorch_cpu.so", "-D_GLIBCXX_USE_CXX11_ABI=1")
        releases[version] = folder
    link = [f"-L{releases['2.9.0'] / 'lib'}", "-Wl,--no-as-needed", "-ltorch_cpu"]
    kernels = {}
    for name, source, flags in (("cxx11", WARN_KERNEL, ["-D_GLIBCXX_USE_CXX11_ABI=1"]),
                                ("cxx98", WARN_KERNEL, ["-D_GLIBCXX_USE_CXX11_ABI=0"]),
                                ("stable", SHIM_KERNEL % (("aoti_torch_stand_in",) * 2), []),
                                ("stable-new", SHIM_KERNEL % (("aoti_torch_added_later",) * 2), [])):
        kernels[name] = root / f"{name}.so"
        compile_shared(source, kernels[name], *flags, *link)
    return releases, kernels


def abicheck_torch_findings(kernel: Path, torch: Path, *options: str) -> set[str]:
    done = run_cli("check", str(kernel), "--torch", str(torch), "--format", "json", "--select", "AB308", *options)
    return {f["symbol"] for a in json.loads(done.stdout)["artifacts"] for f in a["findings"]}


@pytest.mark.parametrize("abi", ["cxx11", "cxx98"])
def test_the_cxx_abi_split_is_what_the_loader_says(abi_site, abi):
    releases, kernels = abi_site
    torch = releases["2.8.0"]
    truth = loader_undefined(kernels[abi], torch)
    assert (dlopen_now(kernels[abi], torch) is None) == (truth == set())
    assert truth == (set() if abi == "cxx11" else {"_ZN3c104warnERKSs"})  # std::string, the old ABI
    assert abicheck_torch_findings(kernels[abi], torch) == truth


def test_a_stable_abi_op_loads_in_its_release_and_every_later_one(abi_site, tmp_path):
    releases, kernels = abi_site
    variant = tmp_path / "build" / "torch-stable-abi28-cpu-x86_64-linux"
    variant.mkdir(parents=True)
    for name in ("stable", "stable-new"):
        (variant / f"{name}.so").write_bytes(kernels[name].read_bytes())
    for version, torch in releases.items():
        for name in ("stable", "stable-new"):
            truth = loader_undefined(kernels[name], torch)
            assert (dlopen_now(kernels[name], torch) is None) == (truth == set())
            # a later torch is no mismatch for a stable-ABI variant: checked against it, as given
            assert abicheck_torch_findings(variant / f"{name}.so", torch) == truth, (version, name)
    # the function added in 2.9 is missing from 2.8, the release the variant promises
    assert loader_undefined(kernels["stable-new"], releases["2.8.0"]) == {"aoti_torch_added_later"}
