"""Options from `[tool.abicheck]` in the nearest pyproject.toml.

Command-line options win over the file. Recognised keys: `policy`, `target`,
`arch`, `select`, `ignore` (lists of codes or prefixes), `format`, `backend`,
`variant`, `python-abi` and `policy-file` (a path or a list of paths, relative
to the pyproject.toml).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from abicheck.errors import UsageError

KEYS = {"policy": str, "target": str, "arch": str, "format": str, "select": list, "ignore": list,
        "backend": str, "variant": str, "python_abi": str, "policy_file": list}


def find_pyproject(start: str | os.PathLike[str] | None = None) -> Path | None:
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(start: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The `[tool.abicheck]` table of the nearest pyproject.toml, validated."""
    path = find_pyproject(start)
    if path is None:
        return {}
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot read [tool.abicheck]: {exc}") from None
    table = data.get("tool", {}).get("abicheck", {})
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.abicheck] must be a table")
    config: dict[str, Any] = {}
    for key, value in table.items():
        kind = KEYS.get(key.replace("-", "_"))
        if kind is None:
            continue  # keys of later features (kernel rules, pytest) are read elsewhere
        if kind is list and isinstance(value, str):
            value = [value]
        if not isinstance(value, kind) or (kind is list and not all(isinstance(v, str) for v in value)):
            expected = "list of strings" if kind is list else "string"
            raise UsageError(f"{path}: [tool.abicheck] {key} must be a {expected}")
        if key.replace("-", "_") == "policy_file":
            value = [str(path.parent / v) for v in value]
        config[key.replace("-", "_")] = value
    return config
