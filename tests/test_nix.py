"""nix/: parse every file, evaluate against a mock nixpkgs, and build with the hook.

Runs with Debian's Nix 2.8 (installed by .ci/run), offline. Builds run as the
invoking user (build-users-group empty) so the builder can run the abicheck
under test, and every build gets a nonce so it really runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from conftest import ROOT, bin_path

NIX_FILES = sorted((ROOT / "nix").rglob("*.nix")) + sorted((ROOT / "tests" / "nix").glob("*.nix"))
ENV = {**os.environ, "NIX_CONFIG": "substituters =\nbuild-users-group =\nsandbox = false"}


# Without Nix these tests prove nothing: they skip on a machine without it, and fail under CI
# (tests/conftest.py; .ci/run installs nix-bin).
pytestmark = pytest.mark.requires("nix-instantiate", "nix-build")


@pytest.mark.parametrize("path", NIX_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_nix_file_parses(path):
    subprocess.run(["nix-instantiate", "--parse", str(path)], check=True, capture_output=True, env=ENV)


def evaluate(expr: str):
    done = subprocess.run(["nix-instantiate", "--eval", "--strict", "--json", "--read-write-mode", "-E",
                           f"let pkgs = import {ROOT}/tests/nix/mock-pkgs.nix; in {expr}"],
                          capture_output=True, text=True, env=ENV, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_glibc_2_28_derivation():
    glibc = evaluate(f"""let g = pkgs.callPackage {ROOT}/nix/glibc-2_28.nix {{}}; in {{
        inherit (g) pname version outputs configureFlags postPatch hardeningDisable;
        url = g.src.url; sha256 = g.src.sha256;
        tools = map (d: d.pname) g.nativeBuildInputs; }}""")
    assert (glibc["pname"], glibc["version"]) == ("glibc", "2.28")
    assert glibc["url"] == "mirror://gnu/glibc/glibc-2.28.tar.xz"
    assert glibc["sha256"] == "b1900051afad76f7a4f73e71413df4826dce085ef8ddb785a945b66d7d513082"
    assert glibc["outputs"] == ["out", "dev", "bin", "static"]
    assert {"--enable-kernel=3.2.0", "--disable-werror"} <= set(glibc["configureFlags"])
    assert any(f.startswith("--with-headers=/nix/store/") for f in glibc["configureFlags"])
    assert "gnumake42" in glibc["tools"]  # the make >= 4.4 MAKEFLAGS hang
    for edit in ("ld.so.cache", "ld.so.preload", "LOCALE_ARCHIVE"):
        assert edit in glibc["postPatch"]
    assert "--replace-fail" in glibc["postPatch"]


def test_stdenv_is_wired_to_glibc_2_28():
    wiring = evaluate(f"""let
        glibc = pkgs.callPackage {ROOT}/nix/glibc-2_28.nix {{}};
        s = pkgs.callPackage {ROOT}/nix/stdenv.nix {{ glibc_2_28 = glibc; }};
      in {{ kind = s.mockKind; cc = s.cc.mockKind; libc = s.cc.libc.version;
            bintoolsLibc = s.cc.bintools.libc.version; compiler = s.cc.cc.pname;
            ldflags = s.cc.extraBuildCommands; }}""")
    assert wiring["kind"] == "overrideCC" and wiring["cc"] == "wrapCCWith"
    assert wiring["libc"] == wiring["bintoolsLibc"] == "2.28"
    assert wiring["compiler"] == "gcc-unwrapped"
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
    assert top["names"] == ["abicheck", "abicheckHook", "glibc_2_28", "stdenvGlibc228"]
    assert top["hook"].endswith("/bin/abicheck") and top["hookName"] == "abicheck-hook"
    assert top["script"].endswith("hook.sh") and top["propagated"] == ["buildPythonApplication"]
    assert top["pname"] == "manylinux-abicheck"
    assert top["src"] == ["README.md", "abicheck", "policies", "pyproject.toml"]


# --- real builds with the hook ---------------------------------------------------------

def build(objects: list[str], path: str | None = None, **attrs: str) -> subprocess.CompletedProcess:
    if path is None:
        path = f"{Path(shutil.which('abicheck')).parent}:/usr/bin:/bin"
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


def test_missing_abicheck_is_a_clear_build_error():
    done = build([bin_path("x86_64/portable-glibc228.so")], path="/usr/bin:/bin")
    assert done.returncode != 0
    assert "'abicheck' is not on PATH; add abicheckHook to nativeBuildInputs" in done.stderr
