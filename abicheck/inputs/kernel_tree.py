"""Kernel build trees: `build/<variant>/` folders and their `metadata.json`.

Given a kernel repo, its `build/` or `result/` folder, or one variant folder,
find every variant folder, parse its name, and read the backend its
`metadata.json` declares (to cross-check the name).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from abicheck.errors import InputError
from abicheck.inputs.variants import Variant, looks_like_variant, parse_variant

OUTPUT_FOLDERS = ("build", "result")


@dataclass(frozen=True)
class VariantDir:
    path: str
    variant: Variant
    metadata_path: str | None = None
    metadata_backend: str | None = None


def _variant_children(folder: str) -> list[str]:
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    return [os.path.join(folder, n) for n in names
            if looks_like_variant(n) and os.path.isdir(os.path.join(folder, n))]


def find_variant_dirs(root: str) -> list[str] | None:
    """Variant folders for a kernel repo, a build/ or result/ folder, or a variant folder.

    None means `root` is not a kernel tree at all (a plain directory).
    """
    if looks_like_variant(os.path.basename(os.path.normpath(root))):
        return [root]
    outputs = [os.path.join(root, name) for name in OUTPUT_FOLDERS if os.path.isdir(os.path.join(root, name))]
    if outputs:
        found = [d for out in outputs for d in _variant_children(out)]
        if found or os.path.isfile(os.path.join(root, "build.toml")):  # kernel-builder's project file
            return found
        return None  # another tool's build/ (setuptools' build/lib.linux-x86_64-cpython-311/): a plain folder
    children = _variant_children(root)
    return children or None


def _metadata_backend(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise InputError(f"cannot read metadata.json: {exc.strerror or exc}", path) from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise InputError(f"malformed metadata.json: {exc or type(exc).__name__}", path) from None
    if not isinstance(data, dict):
        raise InputError("malformed metadata.json: expected a JSON object", path)
    backend = data.get("backend")
    if isinstance(backend, dict):
        backend = backend.get("type")
    if backend is None:
        return None
    if not isinstance(backend, str):
        raise InputError("malformed metadata.json: backend.type must be a string", path)
    return backend.lower()


def load_variant_dir(path: str) -> VariantDir:
    """Parse a variant folder's name and metadata; raises InputError when either is bad."""
    variant = parse_variant(os.path.basename(os.path.normpath(path)))
    meta = os.path.join(path, "metadata.json")
    if os.path.isfile(meta):
        return VariantDir(path, variant, meta, _metadata_backend(meta))
    return VariantDir(path, variant)
