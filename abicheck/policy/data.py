"""Access to abicheck's own policy data in `abicheck.policies` (the repo's policies/).

Files are found beside the package's `__init__.py`: packages are installed
as folders (abicheck's and auditwheel's wheels are not zip-safe), and
`importlib.resources` alone costs 8 ms at start-up, 10% of checking a file.
"""

from __future__ import annotations

import json
import os
from functools import cache
from types import ModuleType
from typing import Any

import abicheck.policies  # type: ignore[import-not-found]  # policies/, mapped by pyproject.toml


def package_file(package: ModuleType, name: str) -> str:
    """The path of `name` (posix separators) inside an installed package's folder."""
    assert package.__file__ is not None
    return os.path.join(os.path.dirname(package.__file__), *name.split("/"))


def read_data(name: str) -> bytes:
    """The bytes of `policies/<name>` as shipped inside the package."""
    with open(package_file(abicheck.policies, name), "rb") as f:
        return f.read()


@cache
def load_json(name: str) -> Any:
    """Load `policies/<name>` as shipped inside the package."""
    return json.loads(read_data(name).decode("utf-8"))


def load_added(name: str, key: str) -> dict[str, tuple[int, int]]:
    """A generated table of `name -> "X.Y"` (the release that added it), as (X, Y) tuples."""
    out: dict[str, tuple[int, int]] = {}
    for item, added in load_json(name)[key].items():
        major, minor = added.split(".")
        out[item] = (int(major), int(minor))
    return out
