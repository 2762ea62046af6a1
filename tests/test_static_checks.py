"""mypy and ruff over the package, as CI runs them, and the set-up CI and the README give for the tests."""

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


def test_every_system_tool_the_tests_need_is_installed_by_ci_and_named_in_the_readme():
    from conftest import SYSTEM_TOOLS

    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    for tool, how in SYSTEM_TOOLS.items():
        package = how.split()[-1]
        if package == "libc-bin":  # essential: on every Debian system
            continue
        assert f"missing+=({package})" in ci, f"{tool}: .ci/run does not install {package}"
        assert package in readme, f"{tool}: the README's set-up does not name {package}"
