"""mypy and ruff over the package, as CI runs them: the types and the import rules stay clean."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("tool,args", [("mypy", []), ("ruff", ["check", "abicheck", "tests", "tools", "bench"])])
def test_static_checks_are_clean(tool, args):
    if importlib.util.find_spec(tool) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing under CI; .ci/run installs the test extras", pytrace=False)
        pytest.skip(f"{tool} is not installed (pip install -e '.[test]' installs it)")
    done = subprocess.run([sys.executable, "-m", tool, *args], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
