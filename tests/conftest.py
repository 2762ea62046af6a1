"""Shared fixtures: the committed test binaries, their manifest, wheel builders; system tools.

Some tests run system tools (readelf as the independent oracle, gcc to link
against stubs, Nix to evaluate and build nix/). Mark such a test with
`@pytest.mark.requires("tool", ...)`. Without the tool it is skipped with a
reason that names the tool and the package that installs it; under CI (the
CI variable set, as .ci/run runs) a missing tool fails the test instead, so
CI can never pass by skipping.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTDATA = ROOT / "testdata"
BIN = TESTDATA / "bin"

sys.path.insert(0, str(TESTDATA / "tools"))

# tool -> how to install it on Debian 12 (what .ci/run installs)
SYSTEM_TOOLS = {
    "readelf": "apt-get install binutils",
    "gcc": "apt-get install gcc",
    "g++": "apt-get install g++",
    "ldd": "apt-get install libc-bin",
    "llvm-nm": "apt-get install llvm",
    "llvm-objdump": "apt-get install llvm",
    "nix-instantiate": "apt-get install nix-bin",
    "nix-build": "apt-get install nix-bin",
    "nix-hash": "apt-get install nix-bin",
    "patchelf": "apt-get install patchelf",
    "qemu-x86_64": "apt-get install qemu-user",
    "riscv64-linux-gnu-gcc": "apt-get install gcc-riscv64-linux-gnu",
    "rpmbuild": "apt-get install rpm",
    "rpm2cpio": "apt-get install rpm",
    "createrepo_c": "apt-get install createrepo-c",
    "cpio": "apt-get install cpio",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requires(*tools): system tools the test runs (see tests/conftest.py)")


def pt_dynamic(data: bytes | bytearray) -> tuple[int, int]:
    """(offset of the PT_DYNAMIC program header, file offset of the dynamic entries) of a 64-bit
    little-endian ELF object, for tests that patch one."""
    import struct

    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    for i in range(phnum):
        at = phoff + i * phentsize
        if struct.unpack_from("<I", data, at)[0] == 2:  # PT_DYNAMIC
            return at, struct.unpack_from("<Q", data, at + 8)[0]
    raise AssertionError("no PT_DYNAMIC")


def zig_cc() -> list[str]:
    """`zig cc` from the ziglang package (a test extra): skipped without it, failed under CI."""
    try:
        import ziglang  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("ziglang is missing under CI; pip install -e '.[test]' installs it", pytrace=False)
        pytest.skip("needs ziglang (pip install -e '.[test]')")
    return [sys.executable, "-m", "ziglang", "cc"]


def missing_tools(tools: tuple[str, ...]) -> list[str]:
    return [tool for tool in tools if shutil.which(tool) is None]


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers("requires"):
        unknown = [t for t in marker.args if t not in SYSTEM_TOOLS]
        assert not unknown, f"add {unknown} to SYSTEM_TOOLS in tests/conftest.py"
        missing = missing_tools(marker.args)
        if not missing:
            continue
        names = ", ".join(f"{tool} ({SYSTEM_TOOLS[tool]})" for tool in missing)
        if os.environ.get("CI"):
            pytest.fail(f"missing system tool under CI: {names}; .ci/run installs it", pytrace=False)
        pytest.skip(f"needs {names}")


def bin_path(rel: str) -> str:
    """A committed test binary, by its path under testdata/bin."""
    path = BIN / rel
    assert path.exists(), f"missing test binary {rel}: run testdata/build.sh"
    return str(path)


@pytest.fixture(scope="session")
def manifest() -> dict:
    return json.loads((TESTDATA / "manifest.json").read_text())


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def make_wheel(directory: Path, filename: str, members: dict[str, str | bytes],
               compression: int = zipfile.ZIP_DEFLATED, metadata: str = "") -> str:
    """Assemble a wheel from test binaries (paths) or raw bytes; return its path.

    `metadata` is added to its METADATA (Requires-Dist and Provides-Extra lines).
    """
    path = directory / filename
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for arcname, source in members.items():
            data = source if isinstance(source, bytes) else Path(source).read_bytes()
            zf.writestr(arcname, data)
        dist = filename.split("-")[0] + "-" + filename.split("-")[1] + ".dist-info"
        zf.writestr(f"{dist}/METADATA", "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n" + metadata)
        zf.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: false\n")
    return str(path)


# The installed console script lives beside this interpreter (a venv's bin/), whether or not it is on PATH.
SCRIPTS = Path(sys.executable).parent


def builder_path() -> str:
    """A PATH for builds that run the installed `abicheck`: its folder, then the system's tools."""
    return f"{SCRIPTS}:/usr/bin:/bin"


def run_cli(*args: str, cwd: str | Path | None = None, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run the installed `abicheck` console script as a user would: the one beside this interpreter. A
    `timeout` turns a hang into a failure (subprocess.TimeoutExpired)."""
    script = SCRIPTS / "abicheck"
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "abicheck"]
    return subprocess.run([*command, *args], capture_output=True, text=True, cwd=cwd, check=False,
                          env={**os.environ, "COLUMNS": "200"}, timeout=timeout)
