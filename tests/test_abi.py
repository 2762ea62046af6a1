"""ABI surface: dump, hash, diff and linkable stubs, with real gcc links and runs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import bin_path, make_wheel, run_cli, sha256

from abicheck.abi.surface import surface_of
from abicheck.binary.elf import open_elf, read_facts

V1 = bin_path("x86_64/abi/libshape-v1.so")
BODY = bin_path("x86_64/abi/libshape-v1-body.so")
REMOVED = bin_path("x86_64/abi/libshape-v2-removed.so")
ADDED = bin_path("x86_64/abi/libshape-v3-added.so")
STRIPPED = bin_path("x86_64/abi/libshape-v1.stripped.so")
VERSIONED = bin_path("x86_64/abi/libver.so")


def digest(path: str) -> str:
    done = run_cli("abi", "dump", "--hash", path)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[0]


def surface(path: str):
    with open_elf(path) as reader:
        return surface_of(reader, path)


def test_dump_lists_the_exported_surface():
    done = run_cli("abi", "dump", V1)
    assert done.returncode == 0
    assert done.stdout.splitlines() == [
        "soname: libshape.so.1", "machine: x86_64", "versions: -",
        "func   global shape_area", "object global shape_count size=4", "tls    global shape_last_error size=4",
        "func   global shape_next", "func   global shape_scale",
    ]
    data = json.loads(run_cli("abi", "dump", "--format", "json", VERSIONED).stdout)
    assert data["versions"] == ["LIBVER_1.0", "LIBVER_2.0"]
    assert {(s["name"], s["version"], s["default"]) for s in data["symbols"]} == {
        ("ver_add", "LIBVER_1.0", False), ("ver_add", "LIBVER_2.0", True), ("ver_counter", "LIBVER_1.0", True)}


def test_body_changes_and_stripping_keep_the_hash():
    assert digest(V1) == digest(BODY) == digest(STRIPPED)
    assert sha256(V1) != sha256(BODY)  # the files themselves differ
    assert len({digest(V1), digest(REMOVED), digest(ADDED)}) == 3


def test_diff_verdicts_and_exit_codes():
    same = run_cli("abi", "diff", V1, BODY)
    assert same.returncode == 0 and "identical surfaces" in same.stdout
    removed = run_cli("abi", "diff", V1, REMOVED)
    assert removed.returncode == 1 and "BREAKING   shape_scale (func) was removed" in removed.stdout
    added = run_cli("abi", "diff", V1, ADDED)
    assert added.returncode == 0 and "compatible shape_perimeter (func) was added" in added.stdout
    assert run_cli("abi", "diff", "--strict", V1, ADDED).returncode == 1
    assert run_cli("abi", "diff", "--strict", V1, BODY).returncode == 0


def test_diff_json_and_saved_dumps(tmp_path):
    dump = tmp_path / "v1.json"
    assert run_cli("abi", "dump", "--format", "json", "-o", str(dump), V1).returncode == 0
    assert run_cli("abi", "diff", str(dump), BODY).returncode == 0
    data = json.loads(run_cli("abi", "diff", "--format", "json", str(dump), REMOVED).stdout)
    assert data["verdict"] == "breaking" and data["breaking"] == 1
    assert data["changes"][0]["kind"] == "removed" and data["changes"][0]["symbol"] == "shape_scale"


def test_size_kind_and_soname_changes_are_breaking():
    from abicheck.abi.surface import ExportedSymbol, Surface, diff_surfaces

    old = surface(V1)
    resized = Surface(old.soname, old.machine, old.versions, [
        ExportedSymbol(s.name, s.version, s.default, s.kind, s.binding, 8 if s.name == "shape_count" else s.size)
        for s in old.symbols])
    assert [c.message for c in diff_surfaces(old, resized) if c.breaking] == [
        "shape_count changed size from 4 to 8"]
    renamed = Surface("libshape.so.2", old.machine, old.versions, old.symbols)
    assert [c.kind for c in diff_surfaces(old, renamed)] == ["soname"]


def test_wheels_give_one_surface_per_member(tmp_path):
    one = make_wheel(tmp_path, "shape-1.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                     {"shape/libshape.so.1": V1, "shape/libver.so.1": VERSIONED})
    (tmp_path / "next").mkdir()
    two = make_wheel(tmp_path / "next", "shape-1.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                     {"shape/libshape.so.1": REMOVED, "shape/libver.so.1": VERSIONED})
    done = run_cli("abi", "dump", "--hash", one)
    assert [line.split()[1] for line in done.stdout.splitlines()] == ["shape/libshape.so.1", "shape/libver.so.1"]
    diff = run_cli("abi", "diff", one, two)
    assert diff.returncode == 1 and "shape/libshape.so.1: shape_scale (func) was removed" in diff.stdout


# --- stubs ----------------------------------------------------------------------

PROGRAM = r"""
#include <stdio.h>
extern double shape_area(double, double);
extern int shape_count;
extern __thread int shape_last_error;
int main(void) {
    shape_last_error = 2;
    printf("%g %d %d\n", shape_area(2, 3), shape_count, shape_last_error);
    return 0;
}
"""

VERSIONED_PROGRAM = r"""
#include <stdio.h>
extern int ver_add(int, int);
extern int ver_counter;
int main(void) { printf("%d %d\n", ver_add(1, 2), ver_counter); return 0; }
"""


def make_stub(src: str, out) -> bytes:
    done = run_cli("abi", "stub", src, "-o", str(out))
    assert done.returncode == 0, done.stderr
    return out.read_bytes()


def link_and_run(tmp_path, stub_src: str, real: str, soname: str, libname: str, program: str) -> str:
    stubs, real_dir = tmp_path / "stubs", tmp_path / "real"
    stubs.mkdir()
    real_dir.mkdir()
    make_stub(stub_src, stubs / f"lib{libname}.so")
    (tmp_path / "main.c").write_text(program)
    subprocess.run(["gcc", "-o", str(tmp_path / "main"), str(tmp_path / "main.c"), f"-L{stubs}", f"-l{libname}"],
                   check=True, capture_output=True)
    shutil.copy(real, real_dir / soname)
    done = subprocess.run([str(tmp_path / "main")], capture_output=True, text=True, check=True,
                          env={"LD_LIBRARY_PATH": str(real_dir)})
    return done.stdout


@pytest.mark.requires("gcc")
def test_a_program_linked_against_the_stub_runs_with_the_real_library(tmp_path):
    out = link_and_run(tmp_path, V1, V1, "libshape.so.1", "shape", PROGRAM)
    assert out == "6 3 2\n"  # a function call, a copied data object and a TLS variable
    assert read_facts(tmp_path / "main").needed[0] == "libshape.so.1"


@pytest.mark.requires("gcc")
def test_a_versioned_stub_binds_the_default_version(tmp_path):
    out = link_and_run(tmp_path, VERSIONED, VERSIONED, "libver.so.1", "ver", VERSIONED_PROGRAM)
    assert out == "1003 7\n"  # ver_add@@LIBVER_2.0, not the LIBVER_1.0 behaviour
    needs = {(n.library, n.version) for n in read_facts(tmp_path / "main").version_needs}
    assert {("libver.so.1", "LIBVER_2.0"), ("libver.so.1", "LIBVER_1.0")} <= needs


@pytest.mark.parametrize("lib", [V1, VERSIONED, bin_path("aarch64/abi/libshape-v1.so")])
def test_stub_surface_round_trips(tmp_path, lib):
    stub = tmp_path / "stub.so"
    make_stub(lib, stub)
    assert digest(str(stub)) == digest(lib)


def test_stubs_are_byte_for_byte_deterministic(tmp_path):
    first, second, body = (make_stub(V1, tmp_path / "a.so"), make_stub(V1, tmp_path / "b.so"),
                           make_stub(BODY, tmp_path / "c.so"))
    assert first == second == body
    assert make_stub(STRIPPED, tmp_path / "d.so") == first


def test_the_same_surface_in_another_layout_gives_the_same_stub(tmp_path):
    """The same two files linked in either order: other addresses, .dynsym order and layout; one stub."""
    ab, ba = bin_path("x86_64/abi/libshape-split-ab.so"), bin_path("x86_64/abi/libshape-split-ba.so")
    assert Path(ab).read_bytes() != Path(ba).read_bytes()
    assert make_stub(ab, tmp_path / "ab.so") == make_stub(ba, tmp_path / "ba.so")


@pytest.mark.parametrize("lib", [VERSIONED, bin_path("riscv64/abi/libver.so")])
def test_version_parents_and_machine_flags_are_kept(tmp_path, lib):
    stub = tmp_path / "stub.so"
    make_stub(lib, stub)
    with open_elf(lib) as real, open_elf(str(stub)) as made:
        assert made.version_parents() == real.version_parents() == {"LIBVER_2.0": ["LIBVER_1.0"]}
        assert made.e_flags == real.e_flags and made.facts.arch == real.facts.arch


@pytest.mark.requires("readelf")
def test_readelf_sees_the_parent_chain_of_a_stub(tmp_path):
    stub = tmp_path / "stub.so"
    make_stub(VERSIONED, stub)
    shown = subprocess.run(["readelf", "-V", str(stub)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Cnt: 2\s+Name: LIBVER_2.0\s+\S+ Parent 1: LIBVER_1.0", shown), shown


@pytest.mark.requires("riscv64-linux-gnu-gcc")
def test_a_riscv64_program_links_against_the_stub(tmp_path):
    stub_dir = tmp_path / "stubs"
    stub_dir.mkdir()
    make_stub(bin_path("riscv64/abi/libver.so"), stub_dir / "libver.so")
    (tmp_path / "main.c").write_text(VERSIONED_PROGRAM)
    subprocess.run(["riscv64-linux-gnu-gcc", "-o", str(tmp_path / "main"), str(tmp_path / "main.c"),
                    f"-L{stub_dir}", "-lver"], check=True, capture_output=True)
    facts = read_facts(tmp_path / "main")
    assert facts.arch == "riscv64" and "libver.so.1" in facts.needed
    assert ("libver.so.1", "LIBVER_2.0") in {(n.library, n.version) for n in facts.version_needs}


@pytest.mark.parametrize(("args", "words"), [
    (["abi", "stub", bin_path("s390x/portable-glibc228.so"), "-o", "x.so"], "not supported yet"),
    (["abi", "dump", bin_path("bad/linker-script.so")], "linker script"),
    (["abi", "dump", bin_path("bad/truncated-tables.so")], "truncated"),
    (["abi", "diff", bin_path("bad/not-elf.so"), V1], "not an ELF file"),
    (["abi", "stub", bin_path("bad/garbage.so"), "-o", "x.so"], "ELF"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, args, words):
    done = run_cli(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr and not (tmp_path / "x.so").exists()


def test_a_name_exported_both_unversioned_and_versioned_dumps_and_diffs(tmp_path):
    """`foo` and `foo@V1` side by side once made sorting compare None with a string."""
    symbol = {"default": False, "kind": "func", "binding": "global", "size": None}
    dump = {"schema": "abicheck-abi/1", "soname": "libfoo.so.1", "machine": "x86_64", "versions": ["V1"], "symbols": [
        {**symbol, "name": "foo", "version": "V1"},
        {**symbol, "name": "foo", "version": None},
    ]}
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(dump))
    dump["symbols"] = dump["symbols"][1:]  # foo@V1 removed
    new.write_text(json.dumps(dump))
    done = run_cli("abi", "diff", str(old), str(new))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "foo@V1" in done.stdout


# --- Mach-O and PE surfaces, against LLVM's reading of the same files -----------------

SURFACE_DYLIB = bin_path("macos/libsurface.dylib")
SURFACE_DLL = bin_path("windows/surface.dll")
UNIVERSAL = bin_path("macos/ext-universal2.abi3.so")
MACHO_LINKER_SYMBOLS = {"__mh_dylib_header", "___dso_handle"}


def dumped(path: str) -> dict:
    done = run_cli("abi", "dump", "--format", "json", path)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.requires("llvm-objdump", "llvm-nm")
def test_a_dylib_surface_is_what_its_export_trie_offers():
    trie = subprocess.run(["llvm-objdump", "--macho", "--exports-trie", SURFACE_DYLIB],
                          capture_output=True, text=True, check=True).stdout
    offered = {}  # name -> flags LLVM shows ([per-thread], [weak_def])
    for line in trie.splitlines():
        match = re.match(r"0x[0-9A-F]+\s+(\S+)\s*(.*)$", line.strip())
        if match and match[1] not in MACHO_LINKER_SYMBOLS:
            offered[match[1]] = match[2]
    sections = {}  # name -> (segment,section) LLVM places it in
    for line in subprocess.run(["llvm-nm", "-m", "--extern-only", "--defined-only", SURFACE_DYLIB],
                               capture_output=True, text=True, check=True).stdout.splitlines():
        fields = line.split()
        sections[fields[-1]] = fields[1]
    dump = dumped(SURFACE_DYLIB)
    assert dump["format"] == "macho" and dump["machine"] == "aarch64"
    assert dump["soname"] == "@rpath/libsurface.1.dylib"
    symbols = {s["name"]: s for s in dump["symbols"]}
    assert symbols.keys() == offered.keys() == {"_surface_area", "_surface_count", "_surface_error", "_surface_hook",
                                                "_surface_zeroed"}
    for name, flags in offered.items():
        expected = ("tls" if "per-thread" in flags else
                    "func" if sections[name] == "(__TEXT,__text)" else "object")
        assert symbols[name]["kind"] == expected, name
        assert (symbols[name]["binding"] == "weak") == ("weak_def" in flags), name


@pytest.mark.requires("llvm-objdump")
def test_a_dll_surface_is_what_its_export_table_offers():
    table = subprocess.run(["llvm-objdump", "-p", SURFACE_DLL], capture_output=True, text=True, check=True).stdout
    offered = set()
    for line in table.split("Export Table:", 1)[1].splitlines():
        match = re.match(r"\s+(\d+)\s+(?:0x[0-9a-f]+)?\s*(\S*)", line)
        if match and (match[1], match[2]) != ("", ""):
            offered.add(match[2] or f"#{match[1]}")  # an ordinal without a name
    dump = dumped(SURFACE_DLL)
    assert dump["format"] == "pe" and dump["soname"] == "surface.dll" and dump["machine"] == "x86_64"
    assert {s["name"] for s in dump["symbols"]} == offered == {"#7", "surface_area", "surface_count", "surface_sleep",
                                                               "surface_zeroed"}
    kinds = {s["name"]: s["kind"] for s in dump["symbols"]}
    # surface_zeroed lies past the bytes .data has in the file (a numpy DLL's exports do so too)
    assert kinds["surface_count"] == kinds["surface_zeroed"] == "object"
    assert kinds["surface_area"] == kinds["surface_sleep"] == "func"


def test_wheels_of_macos_and_windows_objects_dump_diff_and_refuse_stubs(tmp_path):
    mac = make_wheel(tmp_path, "surface-1.0-py3-none-macosx_13_0_arm64.whl",
                     {"surface/libsurface.dylib": SURFACE_DYLIB})
    win = make_wheel(tmp_path, "surface-1.0-py3-none-win_amd64.whl", {"surface/surface.dll": SURFACE_DLL})
    (tmp_path / "next").mkdir()
    mac_next = make_wheel(tmp_path / "next", "surface-1.0-py3-none-macosx_13_0_arm64.whl",
                          {"surface/libsurface.dylib": bin_path("macos/ext-arm64-13.abi3.so")})
    assert set(dumped(mac)["objects"]) == {"surface/libsurface.dylib"}
    assert dumped(win)["objects"]["surface/surface.dll"]["format"] == "pe"
    text = run_cli("abi", "dump", win)
    assert text.returncode == 0 and "format: pe" in text.stdout and "name: surface.dll" in text.stdout
    assert run_cli("abi", "diff", mac, mac).returncode == 0
    diff = run_cli("abi", "diff", mac, mac_next)
    assert diff.returncode == 1
    assert "surface/libsurface.dylib: _surface_area (func) was removed" in diff.stdout
    assert "install name changed from @rpath/libsurface.1.dylib" in diff.stdout
    saved = tmp_path / "mac.json"
    saved.write_text(run_cli("abi", "dump", "--format", "json", mac).stdout)
    assert run_cli("abi", "diff", str(saved), mac).returncode == 0  # a saved dump keeps the format
    stub = run_cli("abi", "stub", SURFACE_DYLIB, "-o", str(tmp_path / "x.so"))
    assert stub.returncode == 2 and "writes ELF stubs" in stub.stderr and not (tmp_path / "x.so").exists()


def test_a_fat_file_has_one_surface_per_architecture_and_diffs_against_a_thin_one():
    dump = dumped(UNIVERSAL)  # several surfaces: a set, keyed by architecture
    assert set(dump["objects"]) == {"[aarch64]", "[x86_64]"}
    diff = run_cli("abi", "diff", bin_path("macos/ext-arm64-13.abi3.so"), UNIVERSAL)
    assert diff.returncode == 0, diff.stdout
    assert diff.stdout.splitlines() == ["compatible [x86_64]: the x86_64 architecture is newly shipped",
                                        "compatible: 1 compatible change(s); a relink is enough"]


# --- what dependents can bind to --------------------------------------------------------

LIBCXX_V1 = r"""
#include <vector>
int total(int n) {
    std::vector<int> v;
    for (int i = 0; i < n; i++) v.push_back(i);
    int t = 0;
    for (int x : v) t += x;
    return t;
}
int helper(void) { return 1; }
"""
LIBCXX_V2 = "int total(int n) { return n * (n - 1) / 2; }\nint helper(void) { return 1; }\n"
USER = r"""
#include <vector>
#include <cstdio>
int total(int);
int main() { std::vector<int> v; v.push_back(total(4)); std::printf("%d\n", v[0]); return 0; }
"""


@pytest.mark.requires("g++")
def test_a_weak_standard_template_instantiation_removed_is_compatible_and_the_program_still_runs(tmp_path):
    """The library stops exporting std::vector<int>'s instantiations: the program built against it runs on."""
    for name, source in (("v1", LIBCXX_V1), ("v2", LIBCXX_V2)):
        (tmp_path / f"{name}.cpp").write_text(source)
        (tmp_path / name).mkdir()
        subprocess.run(["g++", "-shared", "-fPIC", "-O0", "-o", str(tmp_path / name / "libtot.so"),
                        str(tmp_path / f"{name}.cpp"), "-Wl,-soname,libtot.so"], check=True)
    (tmp_path / "user.cpp").write_text(USER)
    subprocess.run(["g++", "-O0", "-o", str(tmp_path / "user"), str(tmp_path / "user.cpp"), f"-L{tmp_path / 'v1'}",
                    "-ltot"], check=True)
    diff = run_cli("abi", "diff", "--format", "json", str(tmp_path / "v1" / "libtot.so"),
                   str(tmp_path / "v2" / "libtot.so"))
    changes = json.loads(diff.stdout)["changes"]
    removed = [c for c in changes if c["kind"] == "removed"]
    assert removed and not any(c["breaking"] for c in changes) and diff.returncode == 0
    assert all("weak copy of C++ standard library header code" in c["message"] for c in removed)
    assert any((c["demangled"] or "").startswith("void std::vector<int") for c in removed)
    # the real loader agrees: the program linked against v1 runs with v2
    ran = subprocess.run([str(tmp_path / "user")], capture_output=True, text=True,
                         env={"LD_LIBRARY_PATH": str(tmp_path / "v2")})
    assert ran.returncode == 0 and ran.stdout == "6\n"


EXTENSION = "int PyInit_{name}(void) {{ return 0; }}\nint {helper}(void) {{ return 1; }}\n"


@pytest.mark.requires("gcc")
def test_an_extension_module_and_a_vendored_library_change_no_interface(tmp_path):
    """Nothing links against an extension module or a vendored library; losing PyInit_ still breaks the import."""
    def build(name: str, source: str, soname: str) -> str:
        (tmp_path / f"{name}.c").write_text(source)
        subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(tmp_path / name), str(tmp_path / f"{name}.c"),
                        f"-Wl,-soname,{soname}"], check=True)
        return str(tmp_path / name)

    module = "fast.cpython-311-x86_64-linux-gnu.so"
    old = make_wheel(tmp_path, "fast-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", {
        f"fast/{module}": build("m1", EXTENSION.format(name="fast", helper="old_helper"), module),
        "fast.libs/libblas-1a2b3c4d.so.3": build("b1", "int gemm(void) { return 1; }\n", "libblas-1a2b3c4d.so.3")})
    (tmp_path / "next").mkdir()
    new = make_wheel(tmp_path / "next", "fast-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", {
        f"fast/{module}": build("m2", EXTENSION.format(name="fast", helper="new_helper"), module),
        "fast.libs/libblas-5e6f7a8b.so.3": build("b2", "int gemm2(void) { return 1; }\n", "libblas-5e6f7a8b.so.3")})
    diff = run_cli("abi", "diff", "--format", "json", old, new)
    changes = json.loads(diff.stdout)["changes"]
    assert diff.returncode == 0 and not any(c["breaking"] for c in changes), changes
    kinds = {(c["kind"], c["symbol"]) for c in changes}
    assert {("removed", "old_helper"), ("removed", "gemm"), ("object-renamed", None)} <= kinds
    assert any("not an interface" in c["message"] for c in changes if c["symbol"] == "old_helper")
    # an extension module that lost its PyInit_ no longer imports: that is breaking
    broken = make_wheel(tmp_path / "next", "fast-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", {
        f"fast/{module}": build("m3", "int PyInit_other(void) { return 0; }\n", module)})
    lost = json.loads(run_cli("abi", "diff", "--format", "json", old, broken).stdout)["changes"]
    assert any(c["breaking"] and c["symbol"] == "PyInit_fast" for c in lost)


def test_a_streamed_member_whose_exports_lie_past_the_kept_head_is_read_again(tmp_path, monkeypatch):
    """A wheel member keeps its first bytes; the export trie or directory further in is streamed again."""
    from abicheck.abi.commands import load_surfaces
    from abicheck.inputs import artifact

    wheel = make_wheel(tmp_path, "surface-1.0-py3-none-any.whl", {"s/libsurface.dylib": SURFACE_DYLIB,
                                                                  "s/surface.dll": SURFACE_DLL})
    whole = load_surfaces(wheel)
    monkeypatch.setattr(artifact, "FOREIGN_HEAD", 1024)  # the load commands only: every table lies past it
    streamed = load_surfaces(wheel)
    assert {n: s.to_dict() for n, s in streamed.items()} == {n: s.to_dict() for n, s in whole.items()}
    assert len(whole["s/libsurface.dylib"].symbols) == 5 and len(whole["s/surface.dll"].symbols) == 5


REAL_EXTENSION = r"""
#include <Python.h>
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "fast", NULL, -1, NULL};
PyMODINIT_FUNC PyInit_%s(void) { return PyModule_Create(&def); }
int %s(void) { return 1; }
"""


@pytest.mark.requires("gcc")
def test_the_extension_module_verdicts_are_what_importing_it_says(tmp_path):
    """abi diff's "not an interface" and "breaking" for an extension module, against CPython importing each build."""
    import sys
    import sysconfig

    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    builds = {}
    for release, init, helper in (("v1", "fast", "old_helper"), ("v2", "fast", "new_helper"),
                                  ("v3", "other", "new_helper")):
        folder = tmp_path / release
        folder.mkdir()
        (folder / "fast.c").write_text(REAL_EXTENSION % (init, helper))
        subprocess.run(["gcc", "-shared", "-fPIC", f"-I{sysconfig.get_paths()['include']}", "-o",
                        str(folder / f"fast{suffix}"), str(folder / "fast.c")], check=True)
        builds[release] = folder / f"fast{suffix}"

    def imports(release: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", "import fast"], cwd=builds[release].parent,
                              capture_output=True, text=True)

    assert imports("v1").returncode == imports("v2").returncode == 0  # a helper gone: Python does not notice
    refused = imports("v3")
    assert refused.returncode != 0 and "does not define module export function (PyInit_fast)" in refused.stderr
    assert run_cli("abi", "diff", str(builds["v1"]), str(builds["v2"])).returncode == 0
    broken = run_cli("abi", "diff", str(builds["v1"]), str(builds["v3"]))
    assert broken.returncode == 1 and "BREAKING   PyInit_fast (func) was removed" in broken.stdout
