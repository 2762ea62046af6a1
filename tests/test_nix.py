"""nix/: parse every file, evaluate against a mock nixpkgs, and build with the hook.

Runs with Debian's Nix 2.8 (installed by .ci/run), offline. Builds run as the
invoking user (build-users-group empty) so the builder can run the abicheck
under test, and every build gets a nonce so it really runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from conftest import ROOT, bin_path, builder_path

NIX_FILES = [ROOT / "flake.nix", *sorted((ROOT / "nix").rglob("*.nix")),
             *sorted((ROOT / "tests" / "nix").rglob("*.nix"))]
ENV = {**os.environ, "NIX_CONFIG": "substituters =\nbuild-users-group =\nsandbox = false"}


# Without Nix these tests prove nothing: they skip on a machine without it, and fail under CI
# (tests/conftest.py; .ci/run installs nix-bin).
pytestmark = pytest.mark.requires("nix-instantiate", "nix-build")


@pytest.mark.parametrize("path", NIX_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_nix_file_parses(path):
    subprocess.run(["nix-instantiate", "--parse", str(path)], check=True, capture_output=True, env=ENV)


def evaluate(expr: str):
    done = subprocess.run(["nix-instantiate", "--eval", "--strict", "--json", "--read-write-mode", "-E",
                           f"let pkgs = import {ROOT}/tests/nix/mock-pkgs.nix {{ }}; in {expr}"],
                          capture_output=True, text=True, env=ENV, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_glibc_2_28_is_built_by_the_gcc_that_built_it_by_hand():
    """GCC 12 built glibc 2.28 here (README); nixpkgs' default GCC never has."""
    glibc = evaluate(f"""let g = (import {ROOT}/nix/default.nix {{ inherit pkgs; }}).glibc_2_28; in {{
        libgcc = g.passthru.libgcc.pname; inherit (g) makeFlags; }}""")
    assert glibc["libgcc"] == "gcc12-unwrapped-lib"
    assert glibc["makeFlags"] == ["user-defined-trusted-dirs=/nix/store/00000000000000000000000000000000-mock-"
                                  "gcc12-unwrapped-lib/lib"]


def test_glibc_2_28_derivation():
    glibc = evaluate(f"""let g = pkgs.callPackage {ROOT}/nix/glibc-2_28.nix {{}}; in {{
        inherit (g) pname version outputs configureFlags postPatch hardeningDisable installFlags makeFlags
          postConfigure postInstall;
        libgcc = g.passthru.libgcc.pname; noSelfRpath = g.env.NIX_NO_SELF_RPATH;
        url = g.src.url; sha256 = g.src.sha256;
        tools = map (d: d.pname) g.nativeBuildInputs; }}""")
    assert (glibc["pname"], glibc["version"]) == ("glibc", "2.28")
    assert glibc["url"] == "mirror://gnu/glibc/glibc-2.28.tar.xz"
    assert glibc["sha256"] == "b1900051afad76f7a4f73e71413df4826dce085ef8ddb785a945b66d7d513082"
    assert glibc["outputs"] == ["out", "dev", "bin", "static"]
    assert {"--enable-kernel=3.2.0", "--disable-werror"} <= set(glibc["configureFlags"])
    assert any(f.startswith("--with-headers=/nix/store/") for f in glibc["configureFlags"])
    # make 4.4 (nixpkgs 24.11 has no gnumake42): glibc bug 31330's loop over errlist's .d files is edited out
    assert "gnumake42" not in glibc["tools"]
    assert "--replace-fail '$(foreach o,$(object-suffixes) $(object-suffixes:=.d)," in glibc["postPatch"]
    # ... and glibc bug 29564: -r glued onto a long option in MAKEFLAGS (--jobserver-auth in parallel builds)
    assert "--replace-fail 'MAKEFLAGS := $(MAKEFLAGS)r' 'MAKEFLAGS := $(MAKEFLAGS) -r'" in glibc["postPatch"]
    assert "'$(findstring s,$(firstword -$(MAKEFLAGS)))'" in glibc["postPatch"]
    # the cc wrapper adds no rpath to glibc's own objects
    assert glibc["noSelfRpath"] == "1" and "export NIX_DONT_SET_RPATH=1" in glibc["postConfigure"]
    for edit in ("ld.so.cache", "ld.so.preload", "LOCALE_ARCHIVE"):
        assert edit in glibc["postPatch"]
    assert "--replace-fail" in glibc["postPatch"]
    # `make install` writes /etc/rpc unless sysconfdir points into the output
    assert glibc["installFlags"] == ["sysconfdir=$(out)/etc"]
    # glibc ignores --bindir: make is told, after configure, so that the `bin` output exists
    assert 'makeFlagsArray+=("bindir=$bin/bin" "sbindir=$bin/sbin" "rootsbindir=$bin/sbin")' in glibc["postConfigure"]
    # libgcc_s for pthread_cancel: the loader trusts the compiler's lib folder
    assert glibc["makeFlags"] == ["user-defined-trusted-dirs=/nix/store/00000000000000000000000000000000-mock-"
                                  "gcc-unwrapped-lib/lib"]
    assert glibc["libgcc"] == "gcc-unwrapped-lib"
    # both open sites of the locale archive, and no ldconfig run at install time
    assert "'fd = __open_nocancel (archfname,'" in glibc["postPatch"]
    assert "ldconfig $(addprefix -r ,$(install_root))' 'true'" in glibc["postPatch"]
    # the *_nonshared.a archives stay in lib (the linker scripts name them); the Linux headers join glibc's
    assert "*_nonshared.a) ;;" in glibc["postInstall"]
    assert "/nix/store/00000000000000000000000000000000-mock-linux-headers/include/*" in glibc["postInstall"]
    assert 'ln -s lib "$out/lib64"' in glibc["postInstall"]


def test_an_older_nixpkgs_is_refused_with_a_clear_message():
    done = subprocess.run(["nix-instantiate", "--eval", "--strict", "-E",
                           f"(import {ROOT}/nix/default.nix {{ pkgs = import {ROOT}/tests/nix/mock-pkgs.nix "
                           f'{{ mockVersion = "23.11"; }}; }}).abicheck.pname'],
                          capture_output=True, text=True, env=ENV, check=False)
    assert done.returncode != 0
    assert "abicheck's nix/ needs nixpkgs 24.05 or later; this nixpkgs is 23.11" in done.stderr


@pytest.mark.requires("gcc")
def test_glibc_post_install_on_a_synthetic_tree_keeps_the_linker_scripts_working(tmp_path):
    """The expression's own postInstall, run by Nix on a glibc-shaped tree; then a C program links through libc.so."""
    script = evaluate(f"(pkgs.callPackage {ROOT}/nix/glibc-2_28.nix {{}}).postInstall")
    headers = tmp_path / "linux-headers" / "include"
    for name in ("linux", "asm", "scsi"):
        (headers / name).mkdir(parents=True)
    (headers / "linux" / "limits.h").write_text("#define NR_OPEN 1024\n")
    script = script.replace("/nix/store/00000000000000000000000000000000-mock-linux-headers", str(headers.parent))
    (tmp_path / "post-install.sh").write_text(script)
    expr = tmp_path / "post-install.nix"
    expr.write_text(f"""builtins.derivation {{
      name = "glibc-post-install-test";
      system = builtins.currentSystem;
      builder = "/bin/bash";
      outputs = [ "out" "dev" "static" ];
      PATH = "/usr/bin:/bin";
      nonce = "{uuid.uuid4().hex}";
      args = [ "-c" ''
        set -eu
        host=/usr/lib/x86_64-linux-gnu
        mkdir -p $out/lib $dev/include/scsi $out/etc
        cp $host/libc.so.6 $host/libc_nonshared.a $host/libm.so.6 $out/lib/
        cp $host/libc.a $out/lib/
        # libm.a is a linker script naming the real archives by their paths in $out/lib
        cp $host/libm-*.a $out/lib/libm-2.28.a
        cp $host/libmvec.a $out/lib/
        printf '/* GNU ld script\n*/\nGROUP ( %s %s )\n' $out/lib/libm-2.28.a $out/lib/libmvec.a > $out/lib/libm.a
        cp /lib64/ld-linux-x86-64.so.2 $out/lib/
        loader=$out/lib/ld-linux-x86-64.so.2
        echo "GROUP ( $out/lib/libc.so.6 $out/lib/libc_nonshared.a AS_NEEDED ( $loader ) )" > $out/lib/libc.so
        touch $out/etc/ld.so.cache
        source {tmp_path / "post-install.sh"}
        printf '#include <stdio.h>\\nint main(void) {{ return puts("linked") < 0; }}\\n' > main.c
        gcc -o $out/main main.c -L$out/lib -Wl,--dynamic-linker=$out/lib/ld-linux-x86-64.so.2 -Wl,-rpath,$out/lib
        printf '#include <math.h>\nvolatile double x = 2;\nint main(void) {{ return sqrt(x) < 1.4; }}\n' > m.c
        gcc -static -o $out/static-main m.c -L$static/lib -lm
        echo -n $static > $out/static-output
        echo -n $dev > $out/dev-output
      '' ];
    }}""")
    done = subprocess.run(["nix-build", str(expr), "--no-out-link"], capture_output=True, text=True, env=ENV,
                          check=False)
    assert done.returncode == 0, done.stderr
    out = Path(done.stdout.strip())
    static = Path((out / "static-output").read_text())
    assert static.name.endswith("-static")
    dev = Path((out / "dev-output").read_text())
    assert sorted(p.name for p in (static / "lib").iterdir()) == ["libc.a", "libm-2.28.a", "libm.a", "libmvec.a"]
    assert str(out) not in (static / "lib" / "libm.a").read_text()  # the script names the archives where they are
    assert (out / "lib" / "libc_nonshared.a").exists() and not (out / "lib" / "libc.a").exists()
    assert (dev / "include" / "linux").is_symlink() and not (dev / "include" / "scsi").is_symlink()
    assert subprocess.run([str(out / "static-main")]).returncode == 0  # `-static -lm` linked through the script
    assert (out / "lib64").is_symlink() and not (out / "etc" / "ld.so.cache").exists()
    assert subprocess.run([str(out / "main")], capture_output=True, text=True).stdout == "linked\n"


def test_stdenv_is_wired_to_glibc_2_28():
    wiring = evaluate(f"""let
        glibc = pkgs.callPackage {ROOT}/nix/glibc-2_28.nix {{}};
        s = pkgs.callPackage {ROOT}/nix/stdenv.nix {{ glibc_2_28 = glibc; }};
      in {{ kind = s.mockKind; cc = s.cc.mockKind; libc = s.cc.libc.version;
            bintoolsLibc = s.cc.bintools.libc.version; compiler = s.cc.cc.pname;
            ldflags = s.cc.extraBuildCommands;
            rebuiltWith = s.cc.cc.stdenv.cc.cc.pname; rebuiltLibc = s.cc.cc.stdenv.cc.libc.version; }}""")
    assert wiring["kind"] == "overrideCC" and wiring["cc"] == "wrapCCWith"
    assert wiring["libc"] == wiring["bintoolsLibc"] == "2.28"
    # the C++ runtime: GCC rebuilt by the glibc 2.28 toolchain, its libraries linked statically
    assert wiring["compiler"] == "gcc-rebuilt"
    assert (wiring["rebuiltWith"], wiring["rebuiltLibc"]) == ("gcc-unwrapped", "2.28")
    assert "-static-libstdc++" in wiring["ldflags"] and "cc-ldflags" in wiring["ldflags"]


def test_default_exposes_the_four_attributes_and_the_hook_is_wired():
    top = evaluate(f"""let r = import {ROOT}/nix/default.nix {{ inherit pkgs; }}; in {{
        names = builtins.attrNames r;
        hook = r.abicheckHook.substitutions.abicheck;
        hookName = r.abicheckHook.name;
        script = toString r.abicheckHook.script;
        propagated = map (p: p.mockKind) r.abicheckHook.propagatedBuildInputs;
        pname = r.abicheck.pname;
        src = builtins.attrNames (builtins.readDir r.abicheck.src); }}""")
    assert top["names"] == ["abicheck", "abicheckHook", "glibc_2_28", "rpmPackages", "stdenvEl8", "stdenvGlibc228"]
    assert top["hook"].endswith("/bin/abicheck") and top["hookName"] == "abicheck-hook"
    assert top["script"].endswith("hook.sh") and top["propagated"] == ["buildPythonApplication"]
    assert top["pname"] == "manylinux-abicheck"
    assert top["src"] == ["README.md", "abicheck", "policies", "pyproject.toml"]


# --- real builds with the hook ---------------------------------------------------------

def build(objects: list[str], path: str | None = None, **attrs: str) -> subprocess.CompletedProcess:
    if path is None:
        path = builder_path()
    args = ["nix-build", str(ROOT / "tests" / "nix" / "hook-test.nix"), "--no-out-link",
            "--argstr", "objects", " ".join(objects), "--argstr", "path", path,
            "--argstr", "nonce", uuid.uuid4().hex]
    for key, value in attrs.items():
        args += ["--argstr", key, value]
    return subprocess.run(args, capture_output=True, text=True, env=ENV, check=False)


def test_an_output_needing_glibc_2_34_fails_the_build_and_names_the_symbol():
    done = build([bin_path("x86_64/newglibc.so")])
    assert done.returncode != 0
    assert "pthread_join@GLIBC_2.34" in done.stderr and "failing the build" in done.stderr


def test_a_glibc_2_28_output_builds():
    done = build([bin_path("x86_64/portable-glibc228.so")])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("/nix/store/") and "no findings" in done.stderr


def test_dont_abicheck_lets_the_bad_one_build():
    done = build([bin_path("x86_64/newglibc.so")], dontAbicheck="1")
    assert done.returncode == 0, done.stderr
    assert "skipped (dontAbicheck is set)" in done.stderr


def test_an_fhs_interpreter_fails_under_target_nix():
    done = build([bin_path("x86_64/tool")], abicheckFlags="--select AB2")
    assert done.returncode != 0
    assert "AB201 [interpreter-not-allowed] interpreter /lib64/ld-linux-x86-64.so.2" in done.stderr
    # The same object is fine for a wheel output.
    assert build([bin_path("x86_64/tool")], abicheckFlags="--select AB2", abicheckTarget="wheel").returncode == 0


def test_an_output_without_elf_passes_with_one_line():
    done = build([str(ROOT / "README.md")])
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("Checked ")]
    assert lines == ["Checked 0 objects (target nix): no findings."]


def test_under_structured_attrs_every_output_is_checked():
    """`outputs` is then an associative array: a GLIBC_2.34 object in `lib` must still fail the build."""
    done = build([bin_path("x86_64/newglibc.so")], structured="1")
    assert done.returncode != 0
    assert "checking output lib" in done.stderr and "pthread_join@GLIBC_2.34" in done.stderr
    good = build([bin_path("x86_64/portable-glibc228.so")], structured="1")
    assert good.returncode == 0, good.stderr
    assert "checking output lib" in good.stderr and "checking output out" in good.stderr


def test_missing_abicheck_is_a_clear_build_error():
    done = build([bin_path("x86_64/portable-glibc228.so")], path="/usr/bin:/bin")
    assert done.returncode != 0
    assert "'abicheck' is not on PATH; add abicheckHook to nativeBuildInputs" in done.stderr


@pytest.mark.requires("g++")
def test_why_the_host_libstdcxx_cannot_be_linked_statically_for_glibc_2_28():
    """The promise nix/stdenv.nix's C++ strategy must keep, shown failing for a libstdc++.a built for a newer glibc.

    Every glibc symbol the static C++ runtime pulls in must exist in glibc 2.28
    (policies/glibc-symbols.json). Debian 12's libstdc++.a and libgcc_eh.a were
    compiled against glibc 2.36, and need what 2.28 lacks: the reason the
    stdenv rebuilds GCC against glibc 2.28 instead.
    """
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    from abicheck.policy.glibc_symbols import introduced
    from abicheck.policy.manylinux import numeric

    found = subprocess.run(["g++", "-print-file-name=libstdc++.a"], capture_output=True, text=True, check=True)
    folder = Path(found.stdout.strip()).parent
    archives = [folder / "libstdc++.a", folder / "libgcc_eh.a"]
    assert all(a.exists() for a in archives), archives
    undefined: set[str] = set()
    for archive in archives:
        data = archive.read_bytes()
        at = 8  # ar members: a 60-byte header, then the member, 2-byte aligned
        while at + 60 <= len(data):
            size = int(data[at + 48:at + 58])
            member = data[at + 60:at + 60 + size]
            if member[:4] == b"\x7fELF":
                import io

                elf = ELFFile(io.BytesIO(member))
                for section in elf.iter_sections():
                    if isinstance(section, SymbolTableSection):
                        undefined |= {s.name for s in section.iter_symbols()
                                      if s["st_shndx"] == "SHN_UNDEF" and s.name and s["st_info"]["bind"] != "STB_WEAK"}
            at += 60 + size + (size & 1)
    too_new = {name for name in undefined if (v := introduced("x86_64", name)) and numeric(v) > (2, 28)}
    assert {"__libc_single_threaded", "arc4random", "_dl_find_object"} <= too_new


def test_the_flake_exposes_an_overlay_and_packages_for_both_linux_systems():
    """flake.nix's outputs, called with a mock nixpkgs input (no network for a lock here)."""
    outputs = evaluate(f"""let
        flake = import {ROOT}/flake.nix;
        self = flake.outputs {{ inherit self; nixpkgs = {ROOT}/tests/nix/mock-nixpkgs; }};
        relink = self.lib.aarch64-linux;
        lib = builtins.derivation {{ name = "lib"; system = "x"; builder = "/bin/sh"; }};
      in {{
        systems = builtins.attrNames self.packages;
        packages = builtins.attrNames self.packages.x86_64-linux;
        legacy = builtins.attrNames self.legacyPackages.aarch64-linux;
        default = self.packages.aarch64-linux.default.pname;
        glibc = self.packages.x86_64-linux.glibc_2_28.version;
        relinkSystem = (relink.stubsOf lib).system;
        relinkPath = (relink.relink {{ drv = lib; against = [ lib ]; }}).PATH;
        overlay = builtins.attrNames (self.overlays.default (import {ROOT}/tests/nix/mock-pkgs.nix {{ }}) {{ }});
        inputs = flake.inputs.nixpkgs.url; }}""")
    assert outputs["systems"] == ["aarch64-linux", "x86_64-linux"]
    assert outputs["packages"] == ["abicheck", "default", "glibc_2_28"]
    assert outputs["legacy"] == ["abicheckHook", "abicheckRelink", "stdenvGlibc228"]
    assert (outputs["default"], outputs["glibc"]) == ("manylinux-abicheck", "2.28")
    assert outputs["relinkSystem"] == "aarch64-linux"  # from pkgs, never builtins.currentSystem
    assert "mock-patchelf/bin" in outputs["relinkPath"] and "buildPythonApplication/bin" in outputs["relinkPath"]
    assert outputs["overlay"] == ["abicheck", "abicheckHook", "abicheckRelink", "abicheckRpmPackages", "glibc_2_28",
                                  "stdenvEl8", "stdenvGlibc228"]
    assert outputs["inputs"].startswith("github:NixOS/nixpkgs/")


# Variables stdenv's setup.sh reads in its phases (nixpkgs' pkgs/stdenv/generic/setup.sh): a loop in a hook
# that reuses one leaves it set for the phases after it (`for makefile in ...` made buildPhase run
# `make -f elf/rtld-Rules`, found by building glibc 2.28 with stdenv's phases by hand).
STDENV_VARIABLES = {"makefile", "makeFlags", "buildFlags", "installFlags", "installTargets", "checkTarget",
                    "configureScript", "configureFlags", "prefix", "src", "srcs", "sourceRoot", "patches",
                    "out", "dev", "bin", "static", "outputs", "dontStrip", "dontFixup", "buildInputs",
                    "nativeBuildInputs", "preConfigure", "postConfigure", "postInstall"}


def test_the_glibc_hooks_do_not_reuse_stdenvs_variables_as_loop_variables():
    import re

    glibc = evaluate(f"""let g = pkgs.callPackage {ROOT}/nix/glibc-2_28.nix {{}}; in {{
        inherit (g) postPatch preConfigure postConfigure postInstall; }}""")
    for hook, script in glibc.items():
        loops = set(re.findall(r"\bfor\s+(\w+)\s+in\b", script)) | set(re.findall(r"\bread\s+(?:-r\s+)?(\w+)", script))
        assert not loops & STDENV_VARIABLES, (hook, loops & STDENV_VARIABLES)
