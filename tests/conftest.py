"""Shared fixtures: the committed test binaries, their manifest, wheel builders."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTDATA = ROOT / "testdata"
BIN = TESTDATA / "bin"

sys.path.insert(0, str(TESTDATA / "tools"))


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


def run_cli(*args: str, cwd: str | Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed `abicheck` console script as a user would."""
    return subprocess.run(["abicheck", *args], capture_output=True, text=True, cwd=cwd, check=False,
                          env={**os.environ, "COLUMNS": "200"})
