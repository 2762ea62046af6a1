"""Access to abicheck's own policy data in `abicheck.policies` (the repo's policies/)."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any


@cache
def load_json(name: str) -> Any:
    """Load `policies/<name>` as shipped inside the package."""
    return json.loads(files("abicheck.policies").joinpath(name).read_text(encoding="utf-8"))


def load_added(name: str, key: str) -> dict[str, tuple[int, int]]:
    """A generated table of `name -> "X.Y"` (the release that added it), as (X, Y) tuples."""
    out: dict[str, tuple[int, int]] = {}
    for item, added in load_json(name)[key].items():
        major, minor = added.split(".")
        out[item] = (int(major), int(minor))
    return out
