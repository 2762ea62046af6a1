"""Options from `[tool.abicheck]` in the pyproject.toml of the project a checked path belongs to.

Command-line options win over the file, and rule selections combine as
abicheck.options says. Recognised keys: `policy`, `target`, `arch`, `select`,
`extend-select`, `ignore` (lists of codes or prefixes), `format`, `backend`,
`variant`, `python-abi`, `torch` (one or a list), `torch-mismatch`, `torch-stable-abi`, `macos`, `strict`
(a boolean) and `policy-file` (a path or a list of paths, relative to the pyproject.toml).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from abicheck.errors import InputError, UsageError
from abicheck.inputs.files import read_file
from abicheck.options import LISTS, SCALARS

# Every option of a check but those that only make sense for one run (jobs, allow-empty), and the output format.
KEYS: dict[str, type] = {**{k: str for k in SCALARS if k not in ("jobs", "allow_empty")},
                         **{k: list for k in LISTS if k != "policy_files"}, "policy_file": list, "format": str,
                         "torch": list, "strict": bool}


def find_pyproject(start: str | os.PathLike[str] | None = None) -> str | None:
    here = os.path.realpath(start or os.getcwd())
    while True:
        candidate = os.path.join(here, "pyproject.toml")
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def load_config(start: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The `[tool.abicheck]` table of the nearest pyproject.toml, validated."""
    path = find_pyproject(start)
    if path is None:
        return {}
    try:
        text = read_file(path, "pyproject.toml").decode("utf-8")
    except InputError as exc:
        raise UsageError(f"{path}: cannot read [tool.abicheck]: {exc.message}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: cannot read [tool.abicheck]: {exc}") from None
    if "abicheck" not in text:
        return {}  # most projects: no need to load a TOML parser at all
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise UsageError(f"{path}: cannot read [tool.abicheck]: {exc or type(exc).__name__}") from None
    tool = data.get("tool", {})
    table = tool.get("abicheck", {}) if isinstance(tool, dict) else None
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.abicheck] must be a table")
    config: dict[str, Any] = {}
    value: Any
    for key, value in table.items():
        kind = KEYS.get(key.replace("-", "_"))
        if kind is None:  # a misspelt key must not be silently ignored
            known = ", ".join(sorted(k.replace("_", "-") for k in KEYS))
            raise UsageError(f"{path}: unknown key {key!r} in [tool.abicheck]; known keys: {known}")
        if kind is list and isinstance(value, str):
            value = [value]
        valid = all(isinstance(v, str) for v in value) if kind is list and isinstance(value, list) else (
            isinstance(value, kind))
        if not valid:
            expected = {list: "list of strings", str: "string", bool: "boolean (true or false)"}[kind]
            raise UsageError(f"{path}: [tool.abicheck] {key} must be a {expected}")
        if key.replace("-", "_") == "policy_file":
            config["policy_files"] = [os.path.join(os.path.dirname(path), str(v)) for v in value]
            continue
        config[key.replace("-", "_")] = value
    return config
