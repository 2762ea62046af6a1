"""nix/relink.nix: compile against stubs, relink to the library; rebuild only when the surface changes.

Real nix-build runs (Nix 2.8, offline) of nix/examples/relink, a library and a
program built with this machine's gcc. "Not rebuilt" is read from Nix's own
log: the derivations it resolves and the ones it says it is building.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest
from conftest import ROOT, builder_path

pytestmark = pytest.mark.requires("nix-build", "patchelf", "gcc", "nix-hash")

EXAMPLE = ROOT / "nix" / "examples" / "relink"
BASE = "substituters =\nbuild-users-group =\nsandbox = false"


def nix_build(library: str, *, runtime: str | None = None, ca: bool = True, nonce: str,
              hashes: dict[str, str] | None = None, attr: str = "relinked") -> subprocess.CompletedProcess:
    path = builder_path()
    args = ["nix-build", str(EXAMPLE), "-A", attr, "--no-out-link", "--argstr", "path", path,
            "--arg", "library", str(EXAMPLE / f"greet-{library}.c"), "--argstr", "nonce", nonce]
    if runtime is not None:
        args += ["--arg", "runtime", str(EXAMPLE / f"greet-{runtime}.c")]
    if not ca:
        entries = " ".join(f'{k} = "{v}";' for k, v in (hashes or {}).items())
        args += ["--arg", "contentAddressed", "false", "--arg", "stubHashes", f"{{ {entries} }}"]
    config = BASE + ("\nexperimental-features = ca-derivations" if ca else "")
    return subprocess.run(args, capture_output=True, text=True, check=False, env={**os.environ, "NIX_CONFIG": config})


def built(log: str, name: str) -> list[str]:
    """The derivations named `name` that Nix says it is building."""
    return re.findall(rf"building '(/nix/store/[a-z0-9]{{32}}-{re.escape(name)}\.drv)'", log)


def resolved(log: str, name: str) -> list[str]:
    """What Nix resolved the content-addressed derivation `name` to."""
    return re.findall(rf"resolved derivation: '[^']*-{re.escape(name)}\.drv' -> '([^']*)'", log)


def run(out: str) -> str:
    return subprocess.run([f"{out.strip()}/bin/greet"], capture_output=True, text=True, check=True).stdout


def test_a_body_change_relinks_but_does_not_recompile():
    nonce = uuid.uuid4().hex
    first = nix_build("v1", nonce=nonce)
    assert first.returncode == 0, first.stderr
    assert built(first.stderr, "greet-program"), "the first build compiles the program"
    assert run(first.stdout) == "hello (1)\n"

    again = nix_build("v1-body", nonce=nonce)
    assert again.returncode == 0, again.stderr
    assert built(again.stderr, "libgreet") and built(again.stderr, "greet-program-relinked")
    assert built(again.stderr, "greet-program") == []  # compile: not rebuilt
    assert resolved(again.stderr, "greet-program") == resolved(first.stderr, "greet-program") != []
    assert run(again.stdout) == "hello, again (1)\n"  # the program runs with the new library
    # the compile took libgreet's header from the stubs too: it references nothing of the library itself
    stubs = nix_build("v1-body", nonce=nonce, attr="stubs")
    assert (Path(stubs.stdout.strip()) / "include" / "greet.h").is_file()
    compiled = subprocess.run(["nix-store", "-q", "--references", "--include-outputs",
                               nix_build("v1-body", nonce=nonce, attr="compiled").stdout.strip()],
                              capture_output=True, text=True, check=True).stdout
    names = [line.split("-", 1)[1] for line in compiled.split()]
    assert "libgreet-stubs" in names and "libgreet" not in names


def test_an_added_symbol_recompiles():
    nonce = uuid.uuid4().hex
    first = nix_build("v1", nonce=nonce)
    assert first.returncode == 0, first.stderr
    grown = nix_build("v2-added", nonce=nonce)
    assert grown.returncode == 0, grown.stderr
    # new stubs (Nix may have made them in an earlier run: they are content-addressed), so a new compile
    assert resolved(grown.stderr, "greet-program") != resolved(first.stderr, "greet-program")
    assert built(grown.stderr, "greet-program")
    assert run(grown.stdout) == "hello (1)\n"


def test_a_removed_symbol_fails_the_relink_check_by_name():
    nonce = uuid.uuid4().hex
    done = nix_build("v1", runtime="v3-removed", nonce=nonce)
    assert done.returncode != 0
    assert "AB312 [undefined-symbol] greeting is not defined by libgreet.so.1" in done.stderr
    assert "relink: " in done.stderr and "the library's surface lost what the stub promised" in done.stderr


def test_without_content_addressing_fixed_output_stubs_do_the_same():
    nonce = uuid.uuid4().hex
    library = nix_build("v1", nonce=nonce, attr="greet", ca=False, hashes={"libgreet": "0" * 52})
    assert library.returncode == 0, library.stderr
    path = builder_path()
    digest = subprocess.run(["sh", str(ROOT / "nix" / "stub-hash.sh"), library.stdout.strip()], capture_output=True,
                            text=True, check=True, env={**os.environ, "PATH": path}).stdout.strip()
    assert re.fullmatch(r"[0-9a-z]{52}", digest)
    first = nix_build("v1", nonce=nonce, ca=False, hashes={"libgreet": digest})
    assert first.returncode == 0, first.stderr
    again = nix_build("v1-body", nonce=nonce, ca=False, hashes={"libgreet": digest})
    assert again.returncode == 0, again.stderr
    assert built(again.stderr, "greet-program") == [] and built(again.stderr, "greet-program-relinked")
    assert run(again.stdout) == "hello, again (1)\n"


def test_without_content_addressing_a_missing_hash_is_a_clear_error():
    done = nix_build("v1", nonce=uuid.uuid4().hex, ca=False)
    assert done.returncode != 0
    assert 'no stubHashes."libgreet"' in done.stderr and "stub-hash.sh" in done.stderr


def _relink_attributes(arguments: str) -> subprocess.CompletedProcess:
    # Pure evaluation, as in a flake: no builtins.currentSystem, and no reading of files outside the
    # store, so relink.nix's text is the expression itself.
    relink = (ROOT / "nix" / "relink.nix").read_text()
    expression = f"""let r = ({relink}) ({arguments});
                         lib = builtins.derivation {{ name = "lib"; system = "x"; builder = "/bin/sh"; }};
                         s = r.stubsOf lib; l = r.relink {{ drv = lib; against = [ lib ]; }};
                     in map (d: {{ inherit (d) system preferLocalBuild allowSubstitutes; }}) [ s l ]"""
    return subprocess.run(["nix-instantiate", "--eval", "--strict", "--json", "--pure-eval", "--expr", expression],
                          capture_output=True, text=True, check=False, env={**os.environ, "NIX_CONFIG": BASE})


@pytest.mark.requires("nix-instantiate")
def test_relink_derivations_stay_local_and_take_the_system_from_pkgs():
    import json

    pkgs = '{ pkgs = { stdenv.hostPlatform.system = "aarch64-linux"; }; path = "/bin"; }'
    done = _relink_attributes(pkgs)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"system": "aarch64-linux", "preferLocalBuild": True,
                                        "allowSubstitutes": False}] * 2
    # Pure evaluation (a flake) has no builtins.currentSystem: without pkgs or system, a clear error.
    bare = _relink_attributes('{ path = "/bin"; }')
    assert bare.returncode != 0 and "give `pkgs` or `system`" in bare.stderr
