"""AB312: every non-weak import resolved against the libraries the object will load."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import BIN, bin_path, make_wheel, run_cli
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

import abicheck

SYMBOLS = BIN / "x86_64" / "symbols"


def ab312(report):
    return sorted((f.symbol, f.version, f.library) for f in report.findings if f.code == "AB312")


def pyelftools_imports(path: str | Path) -> set[tuple[str, str | None]]:
    """An independent count: undefined, non-weak dynamic symbols (name, version) as pyelftools reads them."""
    out = set()
    with open(path, "rb") as f:
        elf = ELFFile(f)
        dynsym = elf.get_section_by_name(".dynsym")
        versym = elf.get_section_by_name(".gnu.version")
        verneed = elf.get_section_by_name(".gnu.version_r")
        names = {}
        if verneed is not None:
            for _need, auxes in verneed.iter_versions():
                for aux in auxes:
                    names[aux["vna_other"]] = aux.name
        assert isinstance(dynsym, SymbolTableSection)
        for index, sym in enumerate(dynsym.iter_symbols()):
            if index == 0 or sym["st_shndx"] != "SHN_UNDEF" or sym["st_info"]["bind"] == "STB_WEAK" or not sym.name:
                continue
            ndx = versym.get_symbol(index)["ndx"] if versym is not None else 1
            ndx = ndx if isinstance(ndx, int) else 1
            out.add((sym.name, names.get(ndx & 0x7FFF)))
    return out


def tree(tmp_path: Path, members: dict[str, str]) -> str:
    for rel, source in members.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, tmp_path / rel)
    return str(tmp_path)


def test_a_symbol_the_shipped_library_no_longer_has_is_named(tmp_path):
    root = tree(tmp_path, {"pkg/_ext.so": SYMBOLS / "uses-shape.so",
                           "pkg/libshape.so.1": bin_path("x86_64/abi/libshape-v2-removed.so")})
    report = abicheck.check([root])
    assert ab312(report) == [("shape_scale", None, None)]
    (finding,) = [f for f in report.findings if f.code == "AB312"]
    assert finding.path.endswith("pkg/_ext.so")
    assert "shape_scale is not defined by libshape.so.1 (shipped: pkg/libshape.so.1) or the C library" \
        in finding.message
    assert "the shipped libshape.so.1 is not the build the object was linked against" in finding.hint
    assert report.exit_code == 1


@pytest.mark.parametrize("build", ["libshape-v1.so", "libshape-v1-body.so", "libshape-v3-added.so"])
def test_the_build_it_was_linked_against_or_a_compatible_one_passes(tmp_path, build):
    root = tree(tmp_path, {"pkg/_ext.so": SYMBOLS / "uses-shape.so",
                           "pkg/libshape.so.1": bin_path(f"x86_64/abi/{build}")})
    report = abicheck.check([root])
    assert report.findings == []
    ext = next(a for a in report.artifacts if a.path.endswith("_ext.so"))
    # every import pyelftools sees was looked up, and found
    assert ext.imports == {"checked": len(pyelftools_imports(SYMBOLS / "uses-shape.so")), "missing": 0,
                           "not_checked": 0}


def test_a_versioned_reference_the_library_no_longer_defines_at_that_version(tmp_path):
    root = tree(tmp_path, {"pkg/_ext.so": bin_path("x86_64/needs-libver2.so"),
                           "pkg/libver.so.1": bin_path("x86_64/runtimes/libver-2.0-partial.so.1")})
    report = abicheck.check([root])
    assert ab312(report) == [("ver_add", "LIBVER_2.0", "libver.so.1")]
    (finding,) = [f for f in report.findings if f.code == "AB312"]
    assert finding.message.startswith("ver_add@LIBVER_2.0 is not defined by libver.so.1 (shipped: pkg/libver.so.1)")


def test_a_library_without_the_whole_version_is_left_to_ab311(tmp_path):
    root = tree(tmp_path, {"pkg/_ext.so": bin_path("x86_64/needs-libver2.so"),
                           "pkg/libver.so.1": bin_path("x86_64/runtimes/libver-1.0.so.1")})
    report = abicheck.check([root])
    assert [f.code for f in report.findings] == ["AB311"]


def test_an_object_linked_without_its_library_fails_in_a_wheel_too(tmp_path):
    wheel = make_wheel(tmp_path, "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                       {"demo/_ext.so": str(SYMBOLS / "forgot-lib.so")})
    for report in (abicheck.check([str(SYMBOLS / "forgot-lib.so")]), abicheck.check([wheel])):
        assert ab312(report) == [("fast_checksum", None, None)]
        (finding,) = [f for f in report.findings if f.code == "AB312"]
        assert "fast_checksum is not defined by the C library" in finding.message
        assert "-Wl,--no-undefined" in finding.hint


@pytest.mark.parametrize("name", ["x86_64/newcxx.so", "x86_64/newglibc.so", "x86_64/shared-counter.so",
                                  "x86_64/portable-glibc228.so", "aarch64/portable-glibc228.so", "aarch64/newglibc.so"])
def test_glibc_and_cxx_runtime_imports_resolve_through_the_data(name):
    path = bin_path(name)
    report = abicheck.check([path], select=["AB312"])
    (artifact,) = report.artifacts
    assert artifact.imports == {"checked": len(pyelftools_imports(path)), "missing": 0, "not_checked": 0}
    assert artifact.imports["checked"] > 0


def test_imports_whose_library_has_no_export_data_are_not_checked_never_passed(tmp_path):
    path = bin_path("x86_64/zlib-internal.so")
    report = abicheck.check([path], select=["AB312"])
    (artifact,) = report.artifacts
    zlib = {name for name, _version in pyelftools_imports(path)}
    assert artifact.imports == {"checked": 0, "missing": 0, "not_checked": len(zlib),
                                "unknown_libraries": {"libz.so.1": "a system library abicheck has no export data for"}}
    done = run_cli("check", path, "--select", "AB312")
    assert done.returncode == 0
    assert f"{len(zlib)} imports not checked" in done.stdout
    assert "libz.so.1: a system library abicheck has no export data for (1 object)" in done.stdout
    data = json.loads(run_cli("check", path, "--format", "json").stdout)
    assert data["summary"]["imports_not_checked"] == len(zlib)
    shown = run_cli("show", path).stdout
    assert f"0 resolved, {len(zlib)} not checked (libz.so.1: a system library" in shown


def test_torch_symbols_in_a_kernel_are_left_to_ab308(tmp_path):
    folder = tmp_path / "site" / "torch"
    shutil.copytree(BIN / "x86_64" / "torch" / "v2" / "lib", folder / "lib")
    (folder / "version.py").write_text("__version__ = '2.9.0+cpu'\n")
    report = abicheck.check([bin_path("x86_64/kernels/torch-kernel.so")], torch=str(folder))
    assert [f.code for f in report.findings if f.symbol == "_ZN3c1017RegisterOperatorsD1Ev"] == ["AB308"]
    assert ab312(report) == []


def test_the_command_line_explains_and_fails(tmp_path):
    root = tree(tmp_path, {"pkg/_ext.so": SYMBOLS / "uses-shape.so",
                           "pkg/libshape.so.1": bin_path("x86_64/abi/libshape-v2-removed.so")})
    done = run_cli("check", root)
    assert done.returncode == 1
    assert "AB312 [undefined-symbol] shape_scale is not defined by libshape.so.1" in done.stdout
    explained = run_cli("explain", "AB312")
    assert explained.returncode == 0 and "dlopen(RTLD_NOW)" in explained.stdout
    shown = run_cli("show", os.path.join(root, "pkg"))
    assert "1 UNDEFINED (shape_scale)" in shown.stdout


HOST_CXX = {"x86_64": "/usr/lib/x86_64-linux-gnu", "aarch64": "/usr/aarch64-linux-gnu/lib"}


@pytest.mark.parametrize("arch", sorted(HOST_CXX))
@pytest.mark.parametrize("library", ["libstdc++.so.6", "libgcc_s.so.1"])
def test_cxx_runtime_data_agrees_with_the_real_library_read_by_pyelftools(arch, library):
    """An independent reader of the libraries tools/gen_cxx_runtime_symbols.py read (Debian 12's GCC 12)."""
    data = json.loads((BIN.parent.parent / "policies" / "cxx-runtime-symbols.json").read_text())
    source = next(s for s in data["sources"] if s.startswith(f"{arch} {library}:"))
    path = os.path.join(HOST_CXX[arch], library)
    real = os.path.basename(os.path.realpath(path)) if os.path.exists(path) else None
    if real is None or f": {real} from " not in source or not _same_package(source, path):
        pytest.skip(f"{path}: not the library the data was generated from ({source})")
    expected: dict[str, set[str]] = {}
    with open(path, "rb") as f:
        elf = ELFFile(f)
        versym, verdef = elf.get_section_by_name(".gnu.version"), elf.get_section_by_name(".gnu.version_d")
        names = {v["vd_ndx"]: next(aux).name for v, aux in verdef.iter_versions()}
        for index, sym in enumerate(elf.get_section_by_name(".dynsym").iter_symbols()):
            if index == 0 or sym["st_shndx"] == "SHN_UNDEF" or sym["st_info"]["bind"] == "STB_LOCAL":
                continue
            ndx = versym.get_symbol(index)["ndx"]
            version = names.get(ndx & 0x7FFF if isinstance(ndx, int) else 1)
            if version and version != library:
                expected.setdefault(version, set()).add(sym.name)
    ours = {v: set(n) for v, n in data["libraries"][library][arch]["versions"].items()}
    assert ours == expected


def _same_package(source: str, path: str) -> bool:
    """The data names the Debian package and version it was read from; is it what is installed?"""
    import subprocess

    package = source.split(" from ", 1)[1]
    name, _, version = package.partition(" ")
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", name], capture_output=True, text=True,
                             check=False)
    except OSError:
        return False
    return out.returncode == 0 and out.stdout.strip() == version


def test_past_the_memory_budget_imports_are_not_checked_never_passed(tmp_path, monkeypatch):
    import abicheck.analysis.objects

    monkeypatch.setattr(abicheck.analysis.objects, "TABLES_BUDGET", 0)
    root = tree(tmp_path, {"pkg/_ext.so": SYMBOLS / "uses-shape.so",
                           "pkg/libshape.so.1": bin_path("x86_64/abi/libshape-v2-removed.so")})
    report = abicheck.check([root])
    assert ab312(report) == []
    ext = next(a for a in report.artifacts if a.path.endswith("_ext.so"))
    assert ext.imports["not_checked"] == 2  # shape_area and shape_scale: neither passes unseen
    assert ext.imports["unknown_libraries"] == {
        "libshape.so.1": "its tables were not kept (over abicheck's memory budget of 0 MiB)"}


def test_glibc_export_data_agrees_with_the_hosts_real_glibc():
    """An independent oracle: the host's glibc 2.36 (Debian 12, x86_64), read by pyelftools."""
    data = json.loads((BIN.parent.parent / "policies" / "glibc-exports.json").read_text())["arches"]["x86_64"]
    libdir = "/lib/x86_64-linux-gnu"
    checked = 0
    for soname, key in (("libc.so.6", "libc.so.6"), ("libm.so.6", "libm.so.6"), ("libpthread.so.0", "libpthread.so.0"),
                        ("libdl.so.2", "libdl.so.2"), ("ld-linux-x86-64.so.2", "ld.so")):
        with open(os.path.join(libdir, soname), "rb") as f:
            elf = ELFFile(f)
            versym, verdef = elf.get_section_by_name(".gnu.version"), elf.get_section_by_name(".gnu.version_d")
            names = {v["vd_ndx"]: next(aux).name for v, aux in verdef.iter_versions()}
            host = set()
            for index, sym in enumerate(elf.get_section_by_name(".dynsym").iter_symbols()):
                ndx = versym.get_symbol(index)["ndx"]
                if not isinstance(ndx, int) or ndx & 0x8000:
                    continue  # a compat (hidden) definition: no new link binds it, so no object needs it here
                version = names.get(ndx & 0x7FFF)
                if sym["st_shndx"] != "SHN_UNDEF" and version and version.startswith("GLIBC_2") and sym.name != version:
                    host.add((sym.name, version))
        ours = {(name, v) for v, text in data[key].items() for name in text.split()}
        assert host - ours == set(), soname
        checked += len(host)
    assert checked > 2500


def test_unversioned_glibc_symbols_a_policys_systems_lack_are_named_with_the_release_that_added_them():
    """An object linked against glibc 2.28 that still uses __libc_single_threaded and arc4random (unversioned)."""
    path = str(SYMBOLS / "newer-glibc-calls.so")
    report = abicheck.check([path])
    found = {f.symbol: f for f in report.findings if f.code == "AB312"}
    assert sorted(found) == ["__libc_single_threaded", "arc4random"]
    assert found["arc4random"].details["glibc"] == "2.36" and found["__libc_single_threaded"].details["glibc"] == "2.32"
    assert "not defined by the C library of manylinux_2_28 systems (glibc 2.36 added it)" in found["arc4random"].message
    assert "static archive (libgcc_eh, libstdc++.a)" in found["arc4random"].hint
    # on a policy whose glibc has both, an unversioned reference binds to them
    assert [f for f in abicheck.check([path], policy="manylinux_2_39").findings if f.code == "AB312"] == []


def test_in_a_kernel_what_import_torch_loaded_globally_is_in_scope(tmp_path):
    """A kernel may use what torch loaded with RTLD_GLOBAL: unknown unless torch (and its GPU runtime) is known."""
    torch = tmp_path / "site" / "torch"
    shutil.copytree(BIN / "x86_64" / "torch" / "v1" / "lib", torch / "lib")
    (torch / "version.py").write_text("__version__ = '2.8.0+cpu'\n")
    for variant in ("torch28-cxx11-cpu-x86_64-linux", "torch28-cxx11-cu128-x86_64-linux"):
        folder = tmp_path / "build" / variant
        folder.mkdir(parents=True)
        shutil.copy(SYMBOLS / "forgot-lib.so", folder / "_k.so")
    cpu, cuda = (str(tmp_path / "build" / v / "_k.so") for v in ("torch28-cxx11-cpu-x86_64-linux",
                                                                   "torch28-cxx11-cu128-x86_64-linux"))
    # without a torch, the variant's release in abicheck's index is PyPI's CUDA build: `import torch` loads
    # libtorch_global_deps.so globally, and with it libgomp and the CUDA runtime torch 2.8 pins; both are in
    # abicheck's data, so the scope is known and the missing symbol is a finding
    (artifact,) = abicheck.check([cpu]).artifacts
    assert ab312(abicheck.check([cpu])) == [("fast_checksum", None, None)] and artifact.imports["not_checked"] == 0
    (finding,) = [f for f in artifact.findings if f.code == "AB312"]
    assert "libcudart.so.12 (nvidia-cuda-runtime-cu12 12.8.90)" in finding.message
    assert "libgomp.so.1 (torch)" in finding.message
    # with no release known at all, torch's libraries could define it
    loose = shutil.copy(SYMBOLS / "forgot-lib.so", tmp_path / "_loose.so")
    (artifact,) = abicheck.check([str(loose)], variant="torch26-cxx11-cpu-x86_64-linux").artifacts
    assert "torch's libraries" in artifact.imports["unknown_libraries"]
    # with torch at hand, a CPU kernel's scope is fully known: the missing symbol is a finding
    assert ab312(abicheck.check([cpu], torch=str(torch))) == [("fast_checksum", None, None)]
    # a CUDA kernel also meets torch's CUDA runtime, whose exports are not at hand
    (artifact,) = abicheck.check([cuda], torch=str(torch)).artifacts
    assert [f.code for f in artifact.findings if f.code == "AB312"] == []
    assert "torch's cuda runtime" in artifact.imports["unknown_libraries"]
