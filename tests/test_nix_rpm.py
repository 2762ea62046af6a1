"""nix/rpm and tools/rpm_metadata.py: RPMs made here with rpmbuild, in a repository made with createrepo_c.

The RPMs mimic AlmaLinux 8's layout: the EL8 `libstdc++` in /usr/lib64, and
gcc-toolset-12's `libstdc++-devel` under /opt/rh/gcc-toolset-12/root/usr,
whose libstdc++.so is a linker script naming /usr/lib64/libstdc++.so.6 and
libstdc++_nonshared.a; and kernel headers in /usr/include. The metadata tool
reads the repository as it would AlmaLinux's; Nix builds the set offline from
it (builtins.fetchurl of file: addresses, checked against the sha256 the
repository publishes); a C program then links through the rewritten linker
script and runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import ROOT, builder_path

from abicheck.binary.elf import read_facts

pytestmark = pytest.mark.requires("rpmbuild", "createrepo_c", "rpm2cpio", "cpio", "nix-build", "gcc")

TOOL = ROOT / "tools" / "rpm_metadata.py"
NIX = "substituters =\nbuild-users-group =\nsandbox = false"

SPEC = """Name: {name}
Version: {version}
Release: {release}
Summary: a stand-in with the real package's layout
License: GPL
BuildArch: x86_64
{extra}
%description
A stand-in made by abicheck's tests.
%install
{install}
%files
{files}
"""


def rpmbuild(top: Path, name: str, version: str, release: str, install: str, files: list[str],
             extra: str = "") -> None:
    (top / "SPECS").mkdir(parents=True, exist_ok=True)
    spec = top / "SPECS" / f"{name}.spec"
    spec.write_text(SPEC.format(name=name, version=version, release=release, install=install,
                                files="\n".join(files), extra=extra))
    subprocess.run(["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {top}", "--define", "debug_package %{nil}",
                    "--define", "__os_install_post %{nil}", str(spec)], check=True, capture_output=True)


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> Path:
    top = tmp_path_factory.mktemp("rpmbuild")
    work = top / "objects"
    work.mkdir()
    (work / "libstdcxx.c").write_text("int el8_libstdcxx(void) { return 25; }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-Wl,-soname,libstdc++.so.6", "-o",
                    str(work / "libstdc++.so.6.0.25"), str(work / "libstdcxx.c")], check=True)
    (work / "nonshared.c").write_text("int el8_libstdcxx(void);\n"
                                      "int newer_gcc_part(void) { return el8_libstdcxx() + 7; }\n")
    subprocess.run(["gcc", "-c", "-fPIC", "-o", str(work / "nonshared.o"), str(work / "nonshared.c")], check=True)
    subprocess.run(["ar", "rcs", str(work / "libstdc++_nonshared.a"), str(work / "nonshared.o")], check=True)
    # two builds of libstdc++: the metadata must pick the newer one by rpm's ordering (el8_10 after el8)
    for release in ("3.el8", "26.el8_10"):
        rpmbuild(top, "libstdc++", "8.5.0", release, f"""
mkdir -p %{{buildroot}}/usr/lib64
cp {work}/libstdc++.so.6.0.25 %{{buildroot}}/usr/lib64/
ln -s libstdc++.so.6.0.25 %{{buildroot}}/usr/lib64/libstdc++.so.6
""", ["/usr/lib64/libstdc++.so.6.0.25", "/usr/lib64/libstdc++.so.6"], "Requires: glibc >= 2.28")
    gcc = "/opt/rh/gcc-toolset-12/root/usr/lib/gcc/x86_64-redhat-linux/12"
    (work / "libstdc++.so").write_text("/* GNU ld script\n   Use the shared library, but some functions are only in\n"
                                       "   the static library.  */\n"
                                       "INPUT ( /usr/lib64/libstdc++.so.6 -lstdc++_nonshared )\n")
    rpmbuild(top, "gcc-toolset-12-libstdc++-devel", "12.2.1", "7.el8_8", f"""
mkdir -p %{{buildroot}}{gcc} %{{buildroot}}/opt/rh/gcc-toolset-12/root/usr/include/c++/12
cp {work}/libstdc++.so {work}/libstdc++_nonshared.a %{{buildroot}}{gcc}/
printf '#pragma once\\n' > %{{buildroot}}/opt/rh/gcc-toolset-12/root/usr/include/c++/12/vector
""", [f"{gcc}/libstdc++.so", f"{gcc}/libstdc++_nonshared.a", "/opt/rh/gcc-toolset-12/root/usr/include/c++/12/vector"],
             "Requires: libstdc++ >= 8.5.0")
    # gcc-toolset-12's compiler drivers and binutils: stand-in programs where the real ones would be
    toolset = "/opt/rh/gcc-toolset-12/root/usr"
    for name, files in (("gcc", ["bin/gcc", "libexec/gcc/x86_64-redhat-linux/12/cc1"]), ("gcc-c++", ["bin/g++"]),
                        ("binutils", ["bin/ld"])):
        made = "\n".join(f"mkdir -p $(dirname %{{buildroot}}{toolset}/{f}); "
                         f"printf '#!/bin/sh\\necho {f}\\n' > %{{buildroot}}{toolset}/{f}; "
                         f"chmod 755 %{{buildroot}}{toolset}/{f}" for f in files)
        rpmbuild(top, f"gcc-toolset-12-{name}", "12.2.1", "7.el8_8", made, [f"{toolset}/{f}" for f in files])
    # EL8's libgcc: libgcc_s in /lib64, as AlmaLinux 8 installs it
    (work / "libgcc.c").write_text("int el8_libgcc(void) { return 8; }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-Wl,-soname,libgcc_s.so.1", "-o",
                    str(work / "libgcc_s-8.5.0-20210514.so.1"), str(work / "libgcc.c")], check=True)
    rpmbuild(top, "libgcc", "8.5.0", "26.el8_10", f"""
mkdir -p %{{buildroot}}/lib64
cp {work}/libgcc_s-8.5.0-20210514.so.1 %{{buildroot}}/lib64/
ln -s libgcc_s-8.5.0-20210514.so.1 %{{buildroot}}/lib64/libgcc_s.so.1
""", ["/lib64/libgcc_s-8.5.0-20210514.so.1", "/lib64/libgcc_s.so.1"])
    rpmbuild(top, "kernel-headers", "4.18.0", "553.el8_10", """
mkdir -p %{buildroot}/usr/include/linux
printf '#define NR_OPEN 1024\\n' > %{buildroot}/usr/include/linux/limits.h
""", ["/usr/include/linux/limits.h"])
    repo = top / "RPMS"
    subprocess.run(["createrepo_c", "-q", str(repo)], check=True)
    return repo


def metadata(repository: Path, *names: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), "--repo", str(repository), *names], capture_output=True,
                          text=True, check=False)


def test_the_metadata_tool_reads_a_real_repository(repository):
    done = metadata(repository, "libstdc++", "gcc-toolset-12-libstdc++-devel", "kernel-headers")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data["packages"]) == {"libstdc++", "gcc-toolset-12-libstdc++-devel", "kernel-headers"}
    assert data["repositories"][0]["base"] == str(repository) and data["repositories"][0]["revision"]
    libstdcxx = data["packages"]["libstdc++"]
    assert (libstdcxx["version"], libstdcxx["release"], libstdcxx["arch"]) == ("8.5.0", "26.el8_10", "x86_64")
    for entry in data["packages"].values():
        rpm = repository / "x86_64" / entry["file"]
        assert entry["url"] == rpm.as_uri()
        assert entry["sha256"] == hashlib.sha256(rpm.read_bytes()).hexdigest()  # the file the repository lists
    assert "glibc >= 2.28" in libstdcxx["requires"] and "libstdc++" in " ".join(libstdcxx["provides"])
    missing = metadata(repository, "libstdc++", "no-such-package")
    assert missing.returncode == 2 and "no-such-package" in missing.stderr


@pytest.mark.parametrize("a, b", [("1.0", "1.0"), ("1.0", "1.1"), ("1.10", "1.9"), ("1.0~rc1", "1.0"),
                                  ("1.0^p1", "1.0"), ("1.0a", "1.0"), ("2.el8", "2.el8_10"), ("26.el8_10", "3.el8"),
                                  ("1.0.1", "1.0a"), ("007", "7"), ("1.0~rc1", "1.0~rc2"), ("a", "1")])
def test_version_order_is_rpms(a, b):
    sys.path.insert(0, str(TOOL.parent))
    from rpm_metadata import rpm_compare

    expected = subprocess.run(["rpm", "--eval", f'%{{lua: print(rpm.vercmp("{a}", "{b}"))}}'], capture_output=True,
                              text=True, check=True).stdout.strip()
    assert rpm_compare(a, b) == int(expected)


def test_the_set_builds_offline_and_a_program_links_through_the_toolset_script(repository, tmp_path):
    data = metadata(repository, "libstdc++", "gcc-toolset-12-libstdc++-devel", "kernel-headers")
    (tmp_path / "el8.json").write_text(data.stdout)
    expression = tmp_path / "set.nix"
    expression.write_text(f"""{{ attr, nonce }}:
      let set = import {ROOT}/nix/rpm {{
        system = builtins.currentSystem; path = "{builder_path()}";
        metadata = builtins.fromJSON (builtins.readFile {tmp_path / "el8.json"});
        overlays = [ (final: prev: {{ kernel-headers = prev.kernel-headers.override (a: {{ inherit nonce; }}); }}) ];
      }}; in set.${{attr}}""")

    def build(attr: str, output: str = "out") -> Path:
        done = subprocess.run(["nix-build", str(expression), "--argstr", "attr", attr, "--argstr", "nonce",
                               uuid.uuid4().hex, "--no-out-link", "-A", output], capture_output=True, text=True,
                              env={**os.environ, "NIX_CONFIG": NIX}, check=False)
        assert done.returncode == 0, done.stderr
        return Path(done.stdout.strip())

    libstdcxx = build("libstdc++")
    assert os.readlink(libstdcxx / "lib" / "libstdc++.so.6") == "libstdc++.so.6.0.25"
    toolset, toolset_dev = build("gcc-toolset-12-libstdc++-devel"), build("gcc-toolset-12-libstdc++-devel", "dev")
    gcc_dir = toolset / "lib" / "gcc" / "x86_64-redhat-linux" / "12"
    script = (gcc_dir / "libstdc++.so").read_text()
    assert f"INPUT ( {libstdcxx}/lib/libstdc++.so.6 -lstdc++_nonshared )" in script and "/usr/lib64" not in script
    assert (toolset_dev / "include" / "c++" / "12" / "vector").is_file()
    headers = build("kernel-headers", "dev")
    assert (headers / "include" / "linux" / "limits.h").read_text() == "#define NR_OPEN 1024\n"
    # a C program links through the rewritten script: the EL8 library dynamically, the archive statically (it
    # calls both, as C++ code does; Debian's gcc links --as-needed, which drops a library nothing uses yet)
    (tmp_path / "main.c").write_text("int el8_libstdcxx(void);\nint newer_gcc_part(void);\n"
                                     "int main(void) { return el8_libstdcxx() + newer_gcc_part() != 57; }\n")
    subprocess.run(["gcc", "-o", str(tmp_path / "main"), str(tmp_path / "main.c"), f"-L{gcc_dir}", "-lstdc++"],
                   check=True)
    assert read_facts(str(tmp_path / "main")).needed[0] == "libstdc++.so.6"
    ran = subprocess.run([str(tmp_path / "main")], env={"LD_LIBRARY_PATH": str(libstdcxx / "lib")})
    assert ran.returncode == 0


TOOLSET = ["libstdc++", "libgcc", "gcc-toolset-12-gcc", "gcc-toolset-12-gcc-c++", "gcc-toolset-12-libstdc++-devel",
           "gcc-toolset-12-binutils"]


def test_the_toolchain_merges_gcc_toolset_and_links_cxx_against_the_el8_library(repository, tmp_path):
    """The merge is built (from the stand-in RPMs); the wrapper and stdenv are evaluated against the mock nixpkgs."""
    data = metadata(repository, *TOOLSET)
    assert data.returncode == 0, data.stderr
    (tmp_path / "el8.json").write_text(data.stdout)
    expression = tmp_path / "toolchain.nix"
    expression.write_text(f"""{{ nonce ? "" }}:
      let
        pkgs = import {ROOT}/tests/nix/mock-pkgs.nix {{ }};
        rpms = import {ROOT}/nix/rpm {{
          system = builtins.currentSystem; path = "{builder_path()}";
          metadata = builtins.fromJSON (builtins.readFile {tmp_path / "el8.json"});
          overlays = [ (final: prev: {{ "gcc-toolset-12-gcc" = prev."gcc-toolset-12-gcc".override
                                        (a: {{ inherit nonce; }}); }}) ];
        }};
        glibc = pkgs.callPackage {ROOT}/nix/glibc-2_28.nix {{ }};
      in import {ROOT}/nix/rpm/toolchain.nix {{
        inherit rpms glibc; inherit (pkgs) stdenv wrapCCWith wrapBintoolsWith overrideCC;
        system = builtins.currentSystem; path = "{builder_path()}";
      }}""")
    env = {**os.environ, "NIX_CONFIG": NIX}
    wiring = subprocess.run(["nix-instantiate", "--eval", "--strict", "--json", "--read-write-mode", "-E",
                             f"let s = import {expression} {{ }}; in {{ kind = s.mockKind; wrapper = s.cc.mockKind; "
                             "libc = s.cc.libc.version; bintools = s.cc.bintools.bintools.pname; "
                             "bintoolsLibc = s.cc.bintools.libc.version; version = s.cc.cc.version; "
                             "cxx = s.cc.cc.langCC; flags = s.cc.extraBuildCommands; }"],
                            capture_output=True, text=True, env=env, check=False)
    assert wiring.returncode == 0, wiring.stderr
    wired = json.loads(wiring.stdout)
    assert (wired["kind"], wired["wrapper"]) == ("overrideCC", "wrapCCWith")
    assert wired["libc"] == wired["bintoolsLibc"] == "2.28" and wired["bintools"] == "gcc-toolset-12-binutils"
    assert wired["version"] == "12.2.1" and wired["cxx"] is True
    assert re.search(r'"-L/nix/store/[a-z0-9]{32}-gcc-toolset-12-unwrapped/lib/gcc/x86_64-redhat-linux/12" '
                     r">> \$out/nix-support/cc-ldflags", wired["flags"])
    built = subprocess.run(["nix-build", str(expression), "--argstr", "nonce", uuid.uuid4().hex, "--no-out-link",
                            "-A", "cc.cc.all"], capture_output=True, text=True, env=env, check=False)
    assert built.returncode == 0, built.stderr
    out, lib = (Path(p) for p in built.stdout.split())
    for tool in ("bin/gcc", "bin/g++", "libexec/gcc/x86_64-redhat-linux/12/cc1", "include/c++/12/vector",
                 "lib/gcc/x86_64-redhat-linux/12/libstdc++_nonshared.a"):
        assert (out / tool).exists(), tool
    script = (out / "lib/gcc/x86_64-redhat-linux/12/libstdc++.so").read_text()
    assert re.search(r"INPUT \( /nix/store/[a-z0-9]{32}-libstdc\+\+-8\.5\.0-26\.el8_10/lib/libstdc\+\+\.so\.6 ", script)
    assert os.readlink(lib / "lib" / "libstdc++.so.6").endswith("-libstdc++-8.5.0-26.el8_10/lib/libstdc++.so.6")
    libgcc_s = lib / "lib" / "libgcc_s.so.1"
    assert os.readlink(libgcc_s).endswith("-libgcc-8.5.0-26.el8_10/lib/libgcc_s.so.1")
    assert read_facts(str(libgcc_s)).soname == "libgcc_s.so.1"  # /lib64 of the RPM, now the package's lib
    assert subprocess.run([str(out / "bin" / "g++")], capture_output=True, text=True).stdout == "bin/g++\n"


def _chosen(toolsets: list[int], **args: str) -> subprocess.CompletedProcess:
    """Which gcc-toolset toolchain.nix builds with, given the toolsets the RPM metadata has (evaluated only)."""
    def package(name: str) -> str:
        return (f'"{name}" = {{ outPath = "/nix/store/{"0" * 32}-{name}"; dev = {{ outPath = "/nix/store/{"1" * 32}'
                f'-{name}-dev"; }}; version = "1.0"; pname = "{name}"; }};')

    names = ["libstdc++", "libgcc"] + [f"gcc-toolset-{n}-{part}" for n in toolsets
                                       for part in ("gcc", "gcc-c++", "libstdc++-devel", "binutils")]
    extra = " ".join(f'{k} = "{v}";' for k, v in args.items())
    expression = f"""let pkgs = import {ROOT}/tests/nix/mock-pkgs.nix {{ }};
      in (import {ROOT}/nix/rpm/toolchain.nix {{
        rpms = {{ {" ".join(package(n) for n in names)} }};
        glibc = pkgs.callPackage {ROOT}/nix/glibc-2_28.nix {{ }};
        inherit (pkgs) stdenv wrapCCWith wrapBintoolsWith overrideCC;
        system = "x86_64-linux"; path = "/bin"; {extra}
      }}).cc.cc.pname"""
    return subprocess.run(["nix-instantiate", "--eval", "--strict", "--json", "--read-write-mode", "-E", expression],
                          capture_output=True, text=True, env={**os.environ, "NIX_CONFIG": NIX}, check=False)


def test_a_cuda_variant_builds_with_the_newest_gcc_toolset_its_nvcc_accepts():
    data = json.loads((ROOT / "policies" / "nvcc-host-compilers.json").read_text())["cuda"]
    assert data["12.6"]["gcc_max"] < data["12.8"]["gcc_max"]  # the bound moves with the release
    choices = {}
    for cuda in ("12.6", "12.8", "13.0"):
        done = _chosen([12, 13, 14, 15], cuda=cuda)
        assert done.returncode == 0, done.stderr
        choices[cuda] = json.loads(done.stdout)
    assert choices == {c: f"gcc-toolset-{min(15, data[c]['gcc_max'])}" for c in choices}
    assert json.loads(_chosen([12, 13, 14]).stdout) == "gcc-toolset-14"  # no CUDA: the newest there is
    assert json.loads(_chosen([12, 14], toolset="12").stdout) == "gcc-toolset-12"
    too_new = _chosen([12, 14], toolset="14", cuda="12.6")
    assert too_new.returncode != 0 and "newer than CUDA 12.6's nvcc accepts" in too_new.stderr
    unknown = _chosen([12], cuda="11.1")
    assert unknown.returncode != 0 and "no nvcc for CUDA 11.1" in unknown.stderr


def test_the_nvcc_bound_is_read_from_host_config_h(tmp_path):
    """The generator's reading of nvcc's header, on a wheel holding the lines NVIDIA's do."""
    import zipfile

    sys.path.insert(0, str(TOOL.parent))
    from gen_nvcc_host_compilers import gcc_bound, release_of

    wheel = tmp_path / "nvidia_cuda_crt-13.0.88-py3-none-manylinux2014_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("nvidia/cu13/include/crt/host_config.h",
                    "#if defined(__GNUC__)\n\n#if __GNUC__ > 15\n\n#error -- unsupported GNU version! gcc versions "
                    "later than 15 are not supported!\n\n#endif /* __GNUC__ > 15 */\n")
    assert (gcc_bound(str(wheel)), release_of(str(wheel))) == (15, "13.0")
    shipped = json.loads((ROOT / "policies" / "nvcc-host-compilers.json").read_text())
    assert {w["file"].split("-")[1].rsplit(".", 1)[0] for w in shipped["wheels"]} == set(shipped["cuda"])
    assert all(len(w["sha256"]) == 64 for w in shipped["wheels"]) and shipped["generated"]


def test_nix_default_exposes_the_rpm_set_and_the_el8_stdenv_as_functions_of_the_metadata(repository, tmp_path):
    data = metadata(repository, *TOOLSET)
    (tmp_path / "el8.json").write_text(data.stdout)
    expression = f"""let
        nix = import {ROOT}/nix/default.nix {{ pkgs = import {ROOT}/tests/nix/mock-pkgs.nix {{ }}; }};
        meta = builtins.fromJSON (builtins.readFile {tmp_path / "el8.json"});
        el8 = nix.stdenvEl8 {{ metadata = meta; cuda = "12.8"; }};
      in {{ packages = builtins.attrNames (nix.rpmPackages meta); compiler = el8.cc.cc.pname;
            libc = el8.cc.libc.version; kind = el8.mockKind; }}"""
    done = subprocess.run(["nix-instantiate", "--eval", "--strict", "--json", "--read-write-mode", "-E", expression],
                          capture_output=True, text=True, env={**os.environ, "NIX_CONFIG": NIX}, check=False)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["packages"] == sorted(TOOLSET)
    assert (found["compiler"], found["libc"], found["kind"]) == ("gcc-toolset-12", "2.28", "overrideCC")
