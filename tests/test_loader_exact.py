"""Objects resolved exactly as ld.so and pip would: each class built here, the verdict checked against the loader.

Each test builds the layout it is about (gcc, zig, patchelf), asks the real
loader (`dlopen` with RTLD_NOW in a child process, as CPython loads an
extension) where a load can be tried here, and asserts that abicheck says the
same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import bin_path, make_wheel, pt_dynamic, run_cli, zig_cc

import abicheck
from abicheck.analysis.requirements import headers


def build(source: str, output: Path, *flags: str, cc: tuple[str, ...] = ("gcc",), suffix: str = ".c") -> Path:
    src = output.with_name(output.name + suffix)
    src.write_text(source)
    subprocess.run([*cc, "-shared", "-fPIC", "-o", str(output), str(src), *flags], check=True,
                   capture_output=True)
    return output


def loads(path: Path, *preload: Path, env: dict[str, str] | None = None, cpu: str | None = None) -> str | None:
    """None when the object loads with RTLD_NOW in a child process (after `preload`, RTLD_GLOBAL); else why not.

    With `cpu`, the child runs on that emulated x86-64 CPU (qemu-x86_64 -cpu), with this machine's loader.
    """
    code = "import ctypes, os, sys\n" + "".join(
        f"ctypes.CDLL({str(p)!r}, mode=os.RTLD_NOW | os.RTLD_GLOBAL)\n" for p in preload) + (
        f"ctypes.CDLL({str(path)!r}, mode=os.RTLD_NOW)\n")
    emulated = ["qemu-x86_64", "-cpu", cpu] if cpu else []
    done = subprocess.run([*emulated, sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    return None if done.returncode == 0 else done.stderr.strip().splitlines()[-1]


def needing(output: Path, *libraries: str) -> Path:
    """A trivial shared object whose NEEDED entries name `libraries` (added with patchelf)."""
    build("int f(void) { return 0; }\n", output)
    for library in libraries:
        subprocess.run(["patchelf", "--add-needed", library, str(output)], check=True)
    return output


def codes(report: abicheck.Report) -> list[tuple[str, str | None]]:
    return sorted((f.code, f.symbol or f.library) for f in report.findings)


@pytest.mark.requires("gcc", "patchelf")
def test_tls_get_addr_binds_to_the_loader_that_every_process_has(tmp_path):
    """An object that imports __tls_get_addr without naming ld.so in NEEDED: the loader defines it."""
    so = build("__thread int counter; int bump(void) { return ++counter; }\n", tmp_path / "tls.so")
    subprocess.run(["patchelf", "--remove-needed", "ld-linux-x86-64.so.2", str(so)], check=True)
    assert loads(so) is None
    report = abicheck.check([str(so)])
    assert codes(report) == [] and report.artifacts[0].imports["not_checked"] == 0


@pytest.mark.requires("gcc")
def test_an_empty_interpreter_of_a_shared_library_is_ignored_as_dlopen_does(tmp_path):
    so = build('const char interp[] __attribute__((section(".interp"))) = "";\nint f(void) { return 1; }\n',
               tmp_path / "empty-interp.so")
    assert loads(so) is None
    assert codes(abicheck.check([str(so)])) == []


@pytest.mark.requires("gcc")
def test_py_named_exports_of_a_library_the_object_loads_are_not_cpythons(tmp_path):
    """PySide's PySideProperty_*, shiboken's PyEnumMeta_Check: defined by a shipped library, not the C API."""
    folder = tmp_path / "pkg"
    folder.mkdir()
    lib = build("int PyFake_Check(void *o) { return o != 0; }\n", folder / "libfake.so", "-Wl,-soname,libfake.so")
    ext = build("int PyFake_Check(void *); int PyLong_Unstable(void *);\n"
                "int use(void *o) { return PyFake_Check(o) + PyLong_Unstable(o); }\n", folder / "ext.abi3.so",
                f"-L{folder}", "-lfake", "-Wl,-rpath,$ORIGIN", "-Wl,--allow-shlib-undefined")
    # the loader binds PyFake_Check to libfake; PyLong_Unstable would come from the interpreter
    refused = loads(ext)
    assert refused is not None and "PyLong_Unstable" in refused and "PyFake_Check" not in refused
    report = abicheck.check([str(folder)], select=["AB501"])
    assert codes(report) == [("AB501", "PyLong_Unstable")]
    assert lib.exists()


def test_metadata_is_read_as_pips_email_parser_reads_it():
    """A line of spaces continues a header (faiss-gpu-cu12's License); it does not end the header block."""
    metadata = ("Metadata-Version: 2.1\nName: demo\nLicense: MIT\n  \n  More license text\n"
                "Requires-Dist: nvidia-cublas-cu12>=12\nRequires-Dist: numpy ;\n  python_version >= '3.9'\n"
                "\nDescription\nRequires-Dist: not-a-header\n")
    found = headers(metadata, ("Requires-Dist", "License"))
    assert found == {"Requires-Dist": ["nvidia-cublas-cu12>=12", "numpy ; python_version >= '3.9'"],
                     "License": ["MIT More license text"]}


@pytest.mark.requires("gcc", "patchelf")
def test_a_dependency_after_a_blank_continuation_line_provides_its_library(tmp_path):
    so = build("int cublasCreate_v2(void *); int go(void) { return cublasCreate_v2(0); }\n", tmp_path / "ext.so",
               "-Wl,--allow-shlib-undefined")
    subprocess.run(["patchelf", "--add-needed", "libcublas.so.12", "--set-rpath",
                    "$ORIGIN/../nvidia/cublas/lib", str(so)], check=True)
    metadata = "License: MIT\n  \n  more\nRequires-Dist: nvidia-cublas-cu12\n"
    wheel = make_wheel(tmp_path, "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", {"demo/ext.so": str(so)},
                       metadata=metadata)
    report = abicheck.check([wheel], select=["AB301"])
    assert codes(report) == []
    (artifact,) = [a for a in report.artifacts if a.kind == "elf"]
    assert {"library": "libcublas.so.12", "how": "dependency", "where": "nvidia-cublas-cu12"} in artifact.needed


def _wheel_of(tmp_path: Path, so: Path, name: str) -> str:
    return make_wheel(tmp_path, f"{name}-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", {f"{name}/{so.name}": str(so)})


@pytest.mark.requires("gcc", "patchelf", "readelf")
def test_tables_in_many_load_segments_are_read_in_a_wheel_as_on_disk(tmp_path):
    """patchelf moves the tables to a new LOAD segment each time; past the streamed head they are read whole."""
    so = build("#include <pthread.h>\nint f(pthread_t t) { return pthread_join(t, 0); }\n", tmp_path / "many.so")
    subprocess.run(["objcopy", "--add-section", f".blob={_random_file(tmp_path, 40 << 20)}", str(so)], check=True)
    for i in range(1, 9):
        subprocess.run(["patchelf", "--add-needed", f"libdummy{i}.so." + "x" * (3000 * i), str(so)], check=True)
    loose = abicheck.check([str(so)])
    packed = abicheck.check([_wheel_of(tmp_path, so, "many")])
    assert packed.errors == [] and codes(loose)
    assert [c for c in codes(packed) if c[0] != "AB402"] == codes(loose)
    # and what it read is what the loader reads: readelf's NEEDED list, the libdummy ones included
    (artifact,) = [a for a in packed.artifacts if a.kind == "elf"]
    assert [n["library"] for n in artifact.needed] == readelf_needed(so)


@pytest.mark.requires("gcc", "readelf")
def test_a_string_table_over_64_mib_is_read_in_a_wheel(tmp_path):
    """TensorFlow's libtensorflow_cc.so.2 has an 82 MB .dynstr; the bound follows the member, not a constant."""
    asm = tmp_path / "names.s"
    with asm.open("w") as f:
        f.write(".text\n")
        for _ in range(6800):
            name = "f" + os.urandom(5000).hex()
            f.write(f".globl {name}\n.type {name},@function\n{name}:\n ret\n")
    code = build("#include <pthread.h>\nint g(pthread_t t) { return pthread_join(t, 0); }\n", tmp_path / "pj.so")
    so = tmp_path / "bigstr.so"
    subprocess.run(["gcc", "-shared", "-o", str(so), str(asm), str(code.with_name("pj.so.c")), "-Wl,-s",
                    "-Wa,--noexecstack"], check=True, capture_output=True)
    wheel = _wheel_of(tmp_path, so, "bigstr")
    report = abicheck.check([wheel])
    assert report.errors == [] and ("AB101", "pthread_join") in codes(report)
    assert [c for c in codes(report) if c[0] != "AB402"] == codes(abicheck.check([str(so)]))
    (artifact,) = [a for a in report.artifacts if a.kind == "elf"]
    assert [n["library"] for n in artifact.needed] == readelf_needed(so)


def readelf_needed(path: Path) -> list[str]:
    """The NEEDED entries as binutils reads them: the independent oracle."""
    out = subprocess.run(["readelf", "-dW", str(path)], capture_output=True, text=True, check=True).stdout
    return [line.split("[", 1)[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]


def _random_file(tmp_path: Path, size: int) -> Path:
    path = tmp_path / "random.bin"
    path.write_bytes(os.urandom(size))
    return path


@pytest.mark.requires("readelf")
def test_s390x_objects_with_64_bit_hash_words_are_read(tmp_path):
    """64-bit s390x has 8-byte DT_HASH entries as GNU ld writes them (pydantic-core 2.27.1's s390x wheel, checked
    by hand); LLD, which zig uses, writes 4-byte ones. This object is LLD's: both layouts must read."""
    so = build("#include <pthread.h>\nint exported_one(pthread_t t) { return pthread_join(t, 0); }\n"
               "int exported_two(void) { return 2; }\n", tmp_path / "s390x.so",
               "-target", "s390x-linux-gnu.2.28", "-Wl,--hash-style=sysv", cc=tuple(zig_cc()))
    report = abicheck.check([str(so)])
    assert report.errors == []
    done = run_cli("abi", "dump", "--format", "json", str(so))
    exported = {s["name"] for s in json.loads(done.stdout)["symbols"]}
    assert {"exported_one", "exported_two"} <= exported
    # binutils' readelf, the independent oracle, reads the same defined global symbols
    out = subprocess.run(["readelf", "--dyn-syms", "-W", str(so)], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit() and ":" in line]
    defined = {r[7] for r in rows if len(r) >= 8 and r[6] != "UND" and r[4] in ("GLOBAL", "WEAK")}
    assert exported == defined


@pytest.mark.requires("gcc", "readelf", "qemu-x86_64")
@pytest.mark.parametrize("level", [2, 3, 4])
def test_an_x86_isa_level_above_the_baseline_is_refused_on_a_baseline_cpu_as_the_loader_refuses_it(tmp_path, level):
    """glibc 2.33+ checks GNU_PROPERTY_X86_ISA_1_NEEDED against the CPU: a v2+ object fails on baseline CPUs.

    The loader is this machine's; the baseline CPU is qemu's `qemu64` model (no SSSE3, SSE4 or POPCNT).
    """
    so = build("int f(void) { return 1; }\n", tmp_path / f"v{level}.so", f"-Wl,-z,x86-64-v{level}")
    note = subprocess.run(["readelf", "-n", str(so)], capture_output=True, text=True).stdout
    assert f"x86 ISA needed: x86-64-v{level}" in note
    refused = loads(so, cpu="qemu64")
    assert refused is not None and "CPU ISA level is lower than required" in refused
    report = abicheck.check([str(so)])
    (finding,) = report.findings
    assert finding.code == "AB405" and finding.details["isa_needed"] == f"x86-64-v{level}"
    plain = build("int f(void) { return 1; }\n", tmp_path / "plain.so")  # no ISA note: any x86-64 CPU
    assert "ISA needed" not in subprocess.run(["readelf", "-n", str(plain)], capture_output=True, text=True).stdout
    assert loads(plain, cpu="qemu64") is None
    assert codes(abicheck.check([str(plain)])) == []


@pytest.mark.requires("gcc")
@pytest.mark.parametrize("dtag", ["RPATH", "RUNPATH"])
def test_a_bundled_library_finds_its_sibling_through_the_rpath_of_its_loader(tmp_path, dtag):
    """faiss-cpu's layout: libopenblas (no RPATH) needs libgfortran; only the extension's DT_RPATH reaches it.

    glibc searches the DT_RPATH of the loader chain for an object without DT_RUNPATH; a DT_RUNPATH of the
    extension is its own only.
    """
    root = tmp_path / dtag
    libs = root / "pkg.libs"
    pkg = root / "pkg"
    libs.mkdir(parents=True)
    pkg.mkdir()
    build("int gf_sum(int a) { return a + 1; }\n", libs / "libgf.so.5", "-Wl,-soname,libgf.so.5")
    build("int gf_sum(int); int blas_dot(int a) { return gf_sum(a); }\n", libs / "libblas.so.0",
          "-Wl,-soname,libblas.so.0", f"-L{libs}", "-l:libgf.so.5")
    new_dtags = "-Wl,--enable-new-dtags" if dtag == "RUNPATH" else "-Wl,--disable-new-dtags"
    ext = build("int blas_dot(int); int go(void) { return blas_dot(2); }\n", pkg / "_ext.so",
                f"-L{libs}", "-l:libblas.so.0", "-Wl,-rpath,$ORIGIN/../pkg.libs", new_dtags)
    refused = loads(ext)
    report = abicheck.check([str(root)])
    if dtag == "RPATH":
        assert refused is None
        assert codes(report) == []
        (blas,) = [a for a in report.artifacts if a.path.endswith("libblas.so.0")]
        (gf,) = [n for n in blas.needed if n["library"] == "libgf.so.5"]
        assert gf["how"] == "shipped" and "DT_RPATH of pkg/_ext.so" in gf["detail"]
    else:
        assert refused is not None and "libgf.so.5: cannot open shared object file" in refused
        assert codes(report) == [("AB306", "libgf.so.5")]


def _layers(tmp_path: Path) -> Path:
    """pkg/ with libcore.so, and libthread.so, which imports core_fn without naming libcore.so in NEEDED."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    build("int core_fn(int a) { return a * 2; }\n", pkg / "libcore.so", "-Wl,-soname,libcore.so")
    build("int core_fn(int); int thread_fn(int a) { return core_fn(a) + 1; }\n", pkg / "libthread.so",
          "-Wl,-soname,libthread.so")
    return pkg


def _extension(pkg: Path, name: str, *libraries: str) -> Path:
    """pkg/`name`, calling thread_fn, linked to `libraries` in that order."""
    return build("int thread_fn(int); int go(void) { return thread_fn(1); }\n", pkg / name,
                 "-Wl,--no-as-needed", f"-L{pkg}", *(f"-l{lib}" for lib in libraries), "-Wl,-rpath,$ORIGIN")


@pytest.mark.requires("gcc")
def test_an_underlinked_library_binds_in_the_group_that_loads_it(tmp_path):
    """MKL's layered libraries and mpich's libucm import what a sibling defines without naming it in NEEDED:
    dlopen binds them in the whole tree of the extension it was given."""
    pkg = _layers(tmp_path)
    ext = _extension(pkg, "_ext.so", "core", "thread")
    assert loads(ext) is None  # the group binds core_fn
    alone = loads(pkg / "libthread.so")
    assert alone is not None and "undefined symbol: core_fn" in alone  # but not on its own
    report = abicheck.check([str(pkg)])
    assert codes(report) == []  # libthread.so is only ever loaded by _ext.so, in whose group core_fn is defined


@pytest.mark.requires("gcc")
def test_a_library_loaded_in_two_groups_is_missing_what_one_of_them_lacks(tmp_path):
    """Each group is resolved on its own, even where both share libraries (and answers are reused between
    them): libthread.so binds core_fn in _ext1.so's group, but _ext2.so's has no libcore.so. Whether
    _ext2.so loads then depends on what Python loaded first, so it is not checked, never passed."""
    pkg = _layers(tmp_path)
    ext1 = _extension(pkg, "_ext1.so", "core", "thread")
    ext2 = _extension(pkg, "_ext2.so", "thread")
    assert loads(ext1) is None
    refused = loads(ext2)
    assert refused is not None and "undefined symbol: core_fn" in refused
    # with _ext1.so imported first (locally, as Python imports extensions), _ext2.so loads: libthread.so was
    # relocated in _ext1.so's group
    in_order = subprocess.run([sys.executable, "-c", "import ctypes, os, sys\n"
                               "for path in sys.argv[1:]: ctypes.CDLL(path, mode=os.RTLD_NOW | os.RTLD_LOCAL)",
                               str(ext1), str(ext2)], capture_output=True, text=True)
    assert in_order.returncode == 0, in_order.stderr
    report = abicheck.check([str(pkg)])
    assert codes(report) == []
    (thread,) = [a for a in report.artifacts if a.path.endswith("libthread.so")]
    assert thread.imports["checked"] == 0 and thread.imports["not_checked"] == 1
    assert thread.imports["unknown_libraries"] == {"_ext1.so": (
        "defined in the load group of _ext1.so but not of _ext2.so: bound only if _ext1.so is loaded first "
        "(ld.so binds an object's imports once, in the first group that loads it)")}


@pytest.mark.requires("gcc")
def test_an_extension_needing_another_loaded_globally_by_python_is_not_checked_not_passed(tmp_path):
    """ray 1.2 loads _raylet.so with RTLD_GLOBAL from Python before _streaming.so, which uses its symbols."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    raylet = build("int raylet_fn(int a) { return a; }\n", pkg / "_raylet.so")
    streaming = build("int raylet_fn(int); int go(void) { return raylet_fn(1); }\n", pkg / "_streaming.so")
    refused = loads(streaming)
    assert refused is not None and "undefined symbol: raylet_fn" in refused
    assert loads(streaming, raylet) is None  # with _raylet.so loaded globally first
    report = abicheck.check([str(pkg)])
    assert codes(report) == []
    (artifact,) = [a for a in report.artifacts if a.path.endswith("_streaming.so")]
    assert artifact.imports["not_checked"] == 1
    assert "RTLD_GLOBAL" in artifact.imports["unknown_libraries"]["_raylet.so"]


@pytest.mark.requires("gcc", "patchelf")
@pytest.mark.parametrize(("requirement", "found"), [("torch>=2.10", False), ("torch<2.9", True), ("torch", False)])
def test_a_dependency_is_the_release_pip_would_install(tmp_path, requirement, found):
    """xformers 0.0.35 needs libcudart.so.12 and requires torch>=2.10: pip installs the newest torch, whose
    CUDA 13 build brings only libcudart.so.13 (policies/providers.json, from the wheels' METADATA)."""
    so = needing(tmp_path / "ext.so", "libcudart.so.12")
    wheel = make_wheel(tmp_path, "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", {"demo/_ext.so": str(so)},
                       metadata=f"Requires-Dist: {requirement}\n")
    report = abicheck.check([wheel], select=["AB301"])
    if found:
        assert codes(report) == []
        return
    (finding,) = report.findings
    spec = requirement.removeprefix("torch")
    assert finding.library == "libcudart.so.12" and finding.details["version"] == "2.15.0"
    assert "brings libcudart.so.13, not libcudart.so.12" in finding.message
    assert (f"what pip installs for torch{spec}" if spec else "the newest release") in finding.message


@pytest.mark.requires("gcc")
def test_a_library_a_declared_dependency_ships_is_found_when_at_hand_and_never_missing(tmp_path):
    """PyQt5's QtCore needs libQt5Core.so.5 through RUNPATH $ORIGIN/Qt5/lib, which PyQt5-Qt5 installs."""
    site = tmp_path / "site"
    (site / "PyQtDemo" / "Qt5" / "lib").mkdir(parents=True)
    core = build("int qt_core_version(void) { return 5; }\n", site / "PyQtDemo" / "Qt5" / "lib" / "libQtCore.so.5",
                 "-Wl,-soname,libQtCore.so.5")
    ext = build("int qt_core_version(void); int go(void) { return qt_core_version(); }\n",
                site / "PyQtDemo" / "QtCore.abi3.so", f"-L{core.parent}", "-l:libQtCore.so.5",
                "-Wl,--enable-new-dtags,-rpath,$ORIGIN/Qt5/lib")
    assert loads(ext) is None  # installed side by side, the loader finds it
    binding = make_wheel(tmp_path, "pyqtdemo-1.0-cp39-abi3-manylinux_2_28_x86_64.whl",
                         {"PyQtDemo/QtCore.abi3.so": str(ext)}, metadata="Requires-Dist: PyQtDemo-Qt5\n")
    qt = make_wheel(tmp_path, "pyqtdemo_qt5-1.0-py3-none-manylinux_2_28_x86_64.whl",
                    {"PyQtDemo/Qt5/lib/libQtCore.so.5": str(core)})
    alone = abicheck.check([binding], select=["AB3"])
    assert codes(alone) == [] and alone.unverified == 1  # not at hand: not verified, never NOT FOUND
    assert run_cli("check", "--strict", "--select", "AB3", binding).returncode == 1
    both = abicheck.check([binding, qt], select=["AB3"])
    (artifact,) = [a for a in both.artifacts if a.path.endswith("QtCore.abi3.so")]
    assert codes(both) == [] and both.unverified == 0
    assert {"library": "libQtCore.so.5", "how": "dependency", "where": "pyqtdemo-qt5",
            "detail": "through $ORIGIN/Qt5/lib"} in artifact.needed
    assert artifact.imports["checked"] == 1 and artifact.imports["not_checked"] == 0


@pytest.mark.requires("gcc", "patchelf")
def test_a_meta_wheels_requirements_install_their_libraries(tmp_path):
    """dpnp requires dpcpp-cpp-rt, a wheel of requirements only, which requires intel-sycl-rt: libsycl.so.9."""
    so = needing(tmp_path / "ext.so", "libsycl.so.9")
    meta = make_wheel(tmp_path, "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", {"demo/_ext.so": str(so)},
                      metadata="Requires-Dist: dpcpp-cpp-rt\n")
    report = abicheck.check([meta], select=["AB3"])
    (artifact,) = [a for a in report.artifacts if a.kind == "elf"]
    assert codes(report) == []
    assert {"library": "libsycl.so.9", "how": "dependency", "where": "intel-sycl-rt"} in artifact.needed
    bare = make_wheel(tmp_path, "bare-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", {"bare/_ext.so": str(so)})
    assert codes(abicheck.check([bare], select=["AB3"])) == [("AB301", "libsycl.so.9")]


@pytest.mark.requires("gcc")
def test_a_library_nothing_loads_leaves_its_underlinked_imports_to_its_loader(tmp_path):
    """MKL's libmkl_gnu_thread and BLACS layers import GOMP_* and MPI_* for the application to provide."""
    pkg = tmp_path / "lib"
    pkg.mkdir()
    provider = build("int MPI_Stand_in(int a) { return a; }\n", tmp_path / "mpi.so")
    layer = build("int MPI_Stand_in(int); int blacs(int a) { return MPI_Stand_in(a); }\n", pkg / "libblacs.so.2")
    assert "undefined symbol: MPI_Stand_in" in (loads(layer) or "")  # alone it cannot load
    assert loads(layer, provider) is None  # after what its user loads first, it does
    report = abicheck.check([str(pkg)])
    assert codes(report) == []  # not a finding: it depends on its loader
    (artifact,) = report.artifacts
    assert artifact.imports["not_checked"] == 1 and "what loads it" in artifact.imports["unknown_libraries"]
    assert run_cli("check", "--strict", str(pkg)).returncode == 1  # and never a pass


def _patch_dynamic(source: str, target: Path, *, offset: int | None = None, filesz: int | None = None) -> Path:
    """A copy of a 64-bit little-endian object with its PT_DYNAMIC header's p_offset or p_filesz changed."""
    import struct

    data = bytearray(Path(source).read_bytes())
    header, _entries = pt_dynamic(data)
    if offset is not None:
        struct.pack_into("<Q", data, header + 8, offset)
    if filesz is not None:
        struct.pack_into("<Q", data, header + 32, filesz)
    target.write_bytes(bytes(data))
    return target


@pytest.mark.parametrize("change", [{"offset": 64}, {"filesz": 16}])
def test_the_dynamic_section_is_found_where_the_loader_finds_it(tmp_path, change):
    """ld.so reads the dynamic entries at PT_DYNAMIC's address, up to DT_NULL: not at its file offset, nor
    only within its file size. An object that points either elsewhere still loads, with all its needs."""
    source = bin_path("x86_64/newglibc.so")
    patched = _patch_dynamic(source, tmp_path / "patched.so", **change)
    assert loads(patched) is None  # glibc 2.36 here: the versions it needs exist, it loads
    expected = codes(abicheck.check([source]))
    assert expected and codes(abicheck.check([str(patched)])) == expected
    wheel = _wheel_of(tmp_path, patched, "patched")
    assert [c for c in codes(abicheck.check([wheel])) if c[0] != "AB402"] == expected


def test_an_empty_dynamic_segment_is_refused_as_the_loader_refuses_it(tmp_path):
    patched = _patch_dynamic(bin_path("x86_64/newglibc.so"), tmp_path / "empty-dynamic.so", filesz=0)
    refused = loads(patched)
    assert refused is not None and "no dynamic section" in refused
    done = run_cli("check", str(patched))
    assert done.returncode == 2 and "PT_DYNAMIC segment is empty" in done.stdout + done.stderr


def test_pn_xnum_program_headers_without_sections_are_refused_as_the_loader_refuses_them(tmp_path):
    """e_phnum == PN_XNUM puts the real count in section 0, which a file without sections does not have."""
    import struct

    data = bytearray(Path(bin_path("x86_64/newglibc.so")).read_bytes())
    struct.pack_into("<H", data, 56, 0xFFFF)  # e_phnum
    struct.pack_into("<Q", data, 40, 0)  # e_shoff
    struct.pack_into("<H", data, 60, 0)  # e_shnum
    patched = tmp_path / "xnum.so"
    patched.write_bytes(bytes(data))
    assert loads(patched) is not None
    done = run_cli("check", str(patched))
    assert done.returncode == 2 and "PN_XNUM program headers without a section header" in done.stdout + done.stderr


@pytest.mark.parametrize("depth", [300, 1200])
def test_a_deep_tree_is_walked_without_recursion_and_bounded(tmp_path, depth):
    """Python 3.11's os.walk recursed: a tree 1,200 folders deep (still under PATH_MAX) raised RecursionError."""
    folder = tmp_path / "tree"
    deepest = folder
    folder.mkdir()
    for _ in range(depth):  # one level at a time: Path.mkdir(parents=True) recurses too
        deepest = deepest / "d"
        os.mkdir(deepest)
    try:
        _check_deep_tree(folder, deepest, depth)
    finally:  # removed level by level: shutil.rmtree (and pytest's own cleanup) recurse in Python too
        (deepest / "x.so").unlink(missing_ok=True)
        while deepest != folder:
            os.rmdir(deepest)
            deepest = deepest.parent


def _check_deep_tree(folder: Path, deepest: Path, depth: int) -> None:
    (deepest / "x.so").write_bytes(Path(bin_path("x86_64/newglibc.so")).read_bytes())
    (folder / "top.so").write_bytes(Path(bin_path("x86_64/newglibc.so")).read_bytes())
    done = run_cli("check", str(folder))
    assert "Traceback" not in done.stderr and "RecursionError" not in done.stdout + done.stderr
    report = abicheck.check([str(folder)])
    if depth < 512:
        assert report.objects_checked == 2 and report.errors == []
    else:
        assert report.objects_checked == 1  # the object above the bound is still checked
        (error,) = report.errors
        assert "more than 512 folders deep" in error.message
        assert done.returncode == 1  # findings win over the input error, which is reported too


@pytest.mark.requires("readelf")
def test_a_hostile_version_definition_is_one_input_error_and_loses_no_neighbour(tmp_path):
    import struct

    data = bytearray(Path(bin_path("x86_64/abi/libver.so")).read_bytes())
    out = subprocess.run(["readelf", "-SW", bin_path("x86_64/abi/libver.so")], capture_output=True, text=True)
    line = next(x for x in out.stdout.splitlines() if ".gnu.version_d" in x)
    offset = int(line.split("]")[1].split()[3], 16)
    struct.pack_into("<I", data, offset + 16, 0x7FFFFFF0)  # vd_next far past the end of the file
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "bad.so").write_bytes(bytes(data))
    (folder / "new.so").write_bytes(Path(bin_path("x86_64/newglibc.so")).read_bytes())
    for command in ("check", "show"):
        done = run_cli(command, str(folder))
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr
        assert "bad.so: error: truncated or malformed ELF" in done.stdout + done.stderr
    report = abicheck.check([str(folder)])
    assert len(report.errors) == 1 and len([f for f in report.findings if f.code == "AB101"]) == 7


@pytest.mark.requires("gcc")
def test_a_plugin_library_finds_its_sibling_only_when_its_host_loaded_it_first(tmp_path):
    """MKL's libmkl_vml_avx2 (dlopened by libmkl_core) and Qt's plugins need a sibling their own search path
    cannot reach: found by SONAME when the host loaded it first, not found alone. Not verified, never AB306."""
    lib = tmp_path / "lib"
    lib.mkdir()
    core = build("int core_fn(void) { return 1; }\n", lib / "libcore.so.3", "-Wl,-soname,libcore.so.3")
    plugin = build("int core_fn(void); int vml(void) { return core_fn(); }\n", lib / "libplugin_avx2.so.3",
                   f"-L{lib}", "-l:libcore.so.3")
    assert "libcore.so.3: cannot open shared object file" in (loads(plugin) or "")  # alone
    assert loads(plugin, core) is None  # its host loaded libcore.so.3 first: bound by SONAME
    report = abicheck.check([str(lib)])
    assert codes(report) == [] and report.unverified == 1
    assert run_cli("check", "--strict", str(lib)).returncode == 1


@pytest.mark.requires("gcc")
def test_an_absolute_runpath_that_does_not_exist_does_not_stop_loading_so_it_is_a_warning(tmp_path):
    """The loader skips a RUNPATH directory that is not there (PyPI torch's /lib/intel64): AB202 is a warning."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    build("int sib(void) { return 1; }\n", pkg / "libsib.so", "-Wl,-soname,libsib.so")
    ext = build("int sib(void); int go(void) { return sib(); }\n", pkg / "_ext.so", f"-L{pkg}", "-lsib",
                "-Wl,--enable-new-dtags,-rpath,/opt/nowhere-abicheck/lib:$ORIGIN")
    assert not Path("/opt/nowhere-abicheck").exists() and loads(ext) is None
    report = abicheck.check([str(pkg)])
    assert [(f.code, f.severity) for f in report.findings] == [("AB202", "warning")] and report.exit_code == 0


LIBVER = ("int ver_counter = 1;\nint ver_add_1(int a, int b) { return a + b; }\n"
          "int ver_add_2(int a, int b) { return a + b + 1; }\n"
          "__asm__(\".symver ver_add_1, ver_add@LIBVER_1.0\");\n__asm__(\".symver ver_add_2, ver_add@@LIBVER_2.0\");\n")
LIBVER_V1 = "int ver_counter = 1;\nint ver_add(int a, int b) { return a + b; }\n"


@pytest.mark.requires("gcc", "readelf")
def test_a_version_need_past_vn_cnt_fails_the_load_and_is_found(tmp_path):
    """ld.so follows each Vernaux's next offset to the end, whatever vn_cnt says; readelf stops at vn_cnt."""
    import re
    import struct

    (tmp_path / "both.map").write_text("LIBVER_1.0 { global: ver_counter; ver_add; local: *; };\n"
                                       "LIBVER_2.0 { global: ver_add; } LIBVER_1.0;\n")
    (tmp_path / "one.map").write_text("LIBVER_1.0 { global: ver_counter; ver_add; local: *; };\n")
    new, old = tmp_path / "new", tmp_path / "pkg" / "old"
    new.mkdir()
    old.mkdir(parents=True)
    build(LIBVER, new / "libver.so.1", "-Wl,-soname,libver.so.1", f"-Wl,--version-script={tmp_path / 'both.map'}")
    build(LIBVER_V1, old / "libver.so.1", "-Wl,-soname,libver.so.1", f"-Wl,--version-script={tmp_path / 'one.map'}")
    user = build("extern int ver_add(int, int);\nextern int ver_counter;\n"
                 "int use(int x) { return ver_add(x, ver_counter); }\n", tmp_path / "pkg" / "user.so",
                 f"-L{new}", "-l:libver.so.1", "-Wl,-rpath,$ORIGIN/old")
    listing = subprocess.run(["readelf", "-V", str(user)], capture_output=True, text=True, check=True).stdout
    start = int(re.search(r"'\.gnu\.version_r'.*?Offset: (0x[0-9a-f]+)", listing, re.S)[1], 16)
    data = bytearray(user.read_bytes())
    _version, count, _file, aux, _next = struct.unpack_from("<HHIII", data, start)
    assert count == 2
    first, second = start + aux, start + aux + 16
    names = re.findall(r"Name: (LIBVER_\d\.\d)", listing)
    if names[0] == "LIBVER_2.0":  # put the version the old library lacks second, keeping the chain's offsets
        a, b = bytearray(data[first:first + 16]), bytearray(data[second:second + 16])
        a[12:16], b[12:16] = b[12:16], a[12:16]
        data[first:first + 16], data[second:second + 16] = b, a
    struct.pack_into("<H", data, start + 2, 1)  # vn_cnt = 1: LIBVER_2.0 lies past it
    user.write_bytes(bytes(data))
    shown = subprocess.run(["readelf", "-V", str(user)], capture_output=True, text=True, check=True).stdout
    assert "LIBVER_2.0" not in shown.split(".gnu.version_r", 1)[1]  # readelf stops at vn_cnt
    assert "version `LIBVER_2.0' not found" in (loads(user) or "")  # the loader does not
    report = abicheck.check([str(tmp_path / "pkg")], target="nix")
    assert ("AB311", "LIBVER_2.0") in [(f.code, f.version) for f in report.findings], codes(report)
