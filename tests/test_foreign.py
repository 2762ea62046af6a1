"""macOS (Mach-O) and Windows (PE) objects: read, and checked like the ELF ones where the rules mean the same."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import BIN, make_wheel, run_cli

import abicheck
from abicheck.binary.macho import MachOFile
from abicheck.binary.pe import read_pe

MACOS, WINDOWS = BIN / "macos", BIN / "windows"


def codes(report):
    return sorted((Path(f.path).name, f.code) for f in report.findings)


# no-min-macos.abi3.so carries a load command no linker writes (see testdata/tools/drop_min_macos.py):
# macholib refuses it, so it is checked by itself below.
@pytest.mark.parametrize("name", sorted(p.name for p in MACOS.iterdir() if p.name != "no-min-macos.abi3.so"))
def test_the_macho_reader_agrees_with_macholib(name):
    from macholib.mach_o import LC_BUILD_VERSION, LC_LOAD_DYLIB, LC_RPATH, build_version_command
    from macholib.MachO import MachO

    path = MACOS / name
    ours = MachOFile(path.read_bytes(), str(path))
    theirs = MachO(str(path))
    assert len(ours.slices) == len(theirs.headers)
    for mine, header in zip(ours.slices, theirs.headers, strict=True):
        dylibs, rpaths, minos = [], [], None
        for load, command, data in header.commands:
            if load.cmd == LC_LOAD_DYLIB:
                dylibs.append(data.rstrip(b"\0").decode())
            elif load.cmd == LC_RPATH:
                rpaths.append(data.rstrip(b"\0").decode())
            elif load.cmd == LC_BUILD_VERSION and isinstance(command, build_version_command):
                v = command.minos
                minos = f"{v >> 16}.{(v >> 8) & 0xFF}"
        assert [p for p, _kind in mine.dylibs] == dylibs
        assert mine.rpaths == rpaths
        assert (mine.min_macos or None) == minos
        from macholib.mach_o import CPU_TYPE_NAMES

        assert mine.arch == {"ARM64": "aarch64", "x86_64": "x86_64"}[CPU_TYPE_NAMES[header.header.cputype]]


@pytest.mark.parametrize("name", sorted(p.name for p in WINDOWS.iterdir()))
def test_the_pe_reader_agrees_with_pefile(name):
    import pefile

    path = WINDOWS / name
    ours = read_pe(path.read_bytes(), str(path))
    theirs = pefile.PE(str(path))
    machine = pefile.MACHINE_TYPE[theirs.FILE_HEADER.Machine]
    assert ours.machine == {"IMAGE_FILE_MACHINE_AMD64": "x86_64", "IMAGE_FILE_MACHINE_ARM64": "aarch64"}[machine]
    imports = {e.dll.decode(): [i.name.decode() for i in e.imports if i.name]
               for e in getattr(theirs, "DIRECTORY_ENTRY_IMPORT", [])}
    assert ours.imports == imports and (imports or not name.endswith(".pyd"))
    exported = getattr(theirs, "DIRECTORY_ENTRY_EXPORT", None)
    name_of, exports = ours.exported()
    assert name_of == (exported.name.decode() if exported else None)
    assert {e.name: e.forwarded_to for e in exports} == {
        (s.name.decode() if s.name else f"#{s.ordinal}"): (s.forwarder.decode() if s.forwarder else None)
        for s in (exported.symbols if exported else [])}


def test_minimum_macos_against_the_wheel_tag_the_variant_and_the_option(tmp_path):
    new = str(MACOS / "ext-arm64-26.abi3.so")
    assert codes(abicheck.check([new], macos="26.0")) == []
    (finding,) = abicheck.check([new], macos="15").findings
    assert finding.code == "AB601" and finding.message == (
        "the aarch64 slice needs macOS 26.0, newer than 15.0 (--macos)")
    wheel = make_wheel(tmp_path, "k-1.0-cp39-abi3-macosx_11_0_arm64.whl", {"k/_k.abi3.so": new})
    assert codes(abicheck.check([wheel])) == [("_k.abi3.so", "AB601")]
    for variant, expected in (("torch212-metal-aarch64-darwin", []), ("torch212-cpu-aarch64-darwin", ["AB601"])):
        folder = tmp_path / "build" / variant
        folder.mkdir(parents=True)
        shutil.copy(new, folder / "_k_cpu_ab12.abi3.so")
        assert [f.code for f in abicheck.check([str(folder)]).findings] == expected, variant


def test_no_minimum_macos_is_a_finding():
    report = abicheck.check([str(MACOS / "no-min-macos.abi3.so")])
    assert [f.code for f in report.findings] == ["AB602"]


def test_architectures_of_slices_and_machines(tmp_path):
    universal = str(MACOS / "ext-universal2.abi3.so")
    x86 = str(MACOS / "ext-x86_64-11.abi3.so")
    for path, tag, expected in ((universal, "universal2", []), (x86, "universal2", ["AB401"]),
                                (x86, "arm64", ["AB401"]), (x86, "x86_64", [])):
        wheel = make_wheel(tmp_path, f"k-1.0-cp39-abi3-macosx_13_0_{tag}.whl", {"k/_k.abi3.so": path})
        assert [f.code for f in abicheck.check([wheel]).findings] == expected, (path, tag)
    arm = str(WINDOWS / "stable-arm64.pyd")
    wheel = make_wheel(tmp_path, "k-1.0-cp39-abi3-win_amd64.whl", {"k/_k.pyd": arm})
    (finding,) = abicheck.check([wheel]).findings
    assert finding.code == "AB401" and "built for aarch64" in finding.message and "needs x86_64" in finding.message


def test_the_stable_abi_on_macos_and_windows(tmp_path):
    mac = abicheck.check([str(MACOS / "private-api.abi3.so")])
    assert [(f.code, f.symbol) for f in mac.findings] == [("AB501", "_PyLong_FromByteArray")]
    assert codes(abicheck.check([str(MACOS / "ext-arm64-13.abi3.so")])) == []
    good = make_wheel(tmp_path, "k-1.0-cp39-abi3-win_amd64.whl", {"k/_k.pyd": str(WINDOWS / "stable-x86_64.pyd")})
    assert codes(abicheck.check([good])) == []
    bad = make_wheel(tmp_path, "k-1.0-cp39-abi3-win_amd64.whl", {"k/_k.pyd": str(WINDOWS / "python311-x86_64.pyd")})
    found = abicheck.check([bad]).findings
    assert [(f.code, f.library or f.symbol) for f in found] == [("AB501", "python311.dll"),
                                                                 ("AB501", "_PyLong_FromByteArray")]


def test_dylibs_and_rpaths_only_the_build_machine_has():
    report = abicheck.check([str(MACOS / "nix-dylib.abi3.so")])
    messages = sorted(f.message for f in report.findings if f.code == "AB603")
    assert messages == [
        "loads /nix/store/0c6q3ix6p7yqr0d8bhvzk6x9a9mr6b9l-libomp-19.1.7/lib/libomp.dylib, which only the build "
        "machine has",
        "searches LC_RPATH /opt/kernel-build/lib, which only the build machine has"]
    (artifact,) = report.artifacts
    assert artifact.kind == "macho" and artifact.imports["not_checked"] == 2  # omp_standin_threads, dyld_stub_binder
    assert sorted(artifact.imports["unknown_libraries"]) == [
        "/nix/store/0c6q3ix6p7yqr0d8bhvzk6x9a9mr6b9l-libomp-19.1.7/lib/libomp.dylib", "/usr/lib/libSystem.B.dylib"]
    assert set(artifact.imports["unknown_libraries"].values()) == {"macOS dylib imports are not resolved by abicheck"}


def test_show_and_the_command_line(tmp_path):
    shown = run_cli("show", str(MACOS / "ext-universal2.abi3.so"))
    assert shown.returncode == 0
    assert "fat Mach-O: x86_64 (macOS 11.0), aarch64 (macOS 13.0)" in shown.stdout
    assert "most compatible:  macosx_13_0_universal2" in shown.stdout
    done = run_cli("check", "--macos", "12.0", str(MACOS / "ext-arm64-13.abi3.so"))
    assert done.returncode == 1 and "AB601 [macos-version-too-new]" in done.stdout
    bad = run_cli("check", "--macos", "twelve", str(MACOS / "ext-arm64-13.abi3.so"))
    assert bad.returncode == 2 and "bad --macos 'twelve'" in bad.stderr


@pytest.mark.parametrize("source", [MACOS / "ext-arm64-13.abi3.so", MACOS / "ext-universal2.abi3.so",
                                    WINDOWS / "stable-x86_64.pyd"], ids=lambda p: p.name)
def test_truncated_objects_are_one_line_input_errors(tmp_path, source):
    data = source.read_bytes()
    for cut in (8, 40, 200, 1000, len(data) // 2, len(data) - 1):
        path = tmp_path / source.name
        path.write_bytes(data[:cut])
        report = abicheck.check([str(path)])
        assert report.exit_code == 2 and len(report.errors) == 1, (source.name, cut, report.errors)
        assert "\n" not in report.errors[0].message and report.errors[0].path == str(path)


def test_an_object_of_another_os_than_its_variant_or_wheel(tmp_path):
    for variant, source in (("torch212-cxx11-cpu-aarch64-linux", MACOS / "ext-arm64-13.abi3.so"),
                            ("torch212-cpu-aarch64-darwin", BIN / "aarch64" / "portable-glibc228.so"),
                            ("torch210-cu128-x86_64-linux", WINDOWS / "stable-x86_64.pyd")):
        folder = tmp_path / "build" / variant
        folder.mkdir(parents=True)
        shutil.copy(source, folder / ("_k.pyd" if source.suffix == ".pyd" else "_k.abi3.so"))
        (finding,) = [f for f in abicheck.check([str(folder)]).findings if f.code == "AB401"]
        assert f"but the variant {variant} is for" in finding.message, finding.message
    wheel = make_wheel(tmp_path, "k-1.0-cp39-abi3-manylinux_2_28_x86_64.whl",
                       {"k/_k.abi3.so": str(MACOS / "ext-x86_64-11.abi3.so")})
    (finding,) = abicheck.check([wheel]).findings
    assert finding.code == "AB401" and "is a Mach-O (macOS) object in a wheel tagged manylinux_2_28_x86_64" in \
        finding.message
