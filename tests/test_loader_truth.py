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
