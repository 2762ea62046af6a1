"""Kernel build trees: `build/<variant>/` folders and their `metadata.json`.

Given a kernel repo, its `build/` or `result/` folder, or one variant folder,
find every variant folder, parse its name, and read the backend its
`metadata.json` declares (to cross-check the name).
"""

from __future__ import annotations

import json
import os
from typing import NamedTuple

from abicheck.errors import InputError
from abicheck.inputs.files import read_file
from abicheck.inputs.paths import walk_tree
from abicheck.inputs.variants import Variant, looks_like_variant, parse_variant

OUTPUT_FOLDERS = ("result", "build")  # looked for in this order, as kernel-builder does


class VariantDir(NamedTuple):
    path: str
    variant: Variant
    metadata_path: str | None = None
    metadata_backend: str | None = None


def _is_variant_folder(folder: str, name: str, by_metadata: bool) -> bool:
    """A folder kernel-builder wrote: named like a variant, or (in an output folder) with a `metadata.json`."""
    return os.path.isdir(os.path.join(folder, name)) and (
        looks_like_variant(name) or (by_metadata and os.path.isfile(os.path.join(folder, name, "metadata.json"))))


def _variant_children(folder: str, by_metadata: bool = True, strict: bool = False) -> list[str]:
    """The variant folders in `folder`; `strict`: one that exists but cannot be read is an input error (a
    kernel's build/ the user cannot list is not "nothing built")."""
    try:
        names = sorted(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        if strict:
            raise InputError(f"cannot list the kernel's build outputs: {exc.strerror or exc}", folder) from None
        return []
    found = [os.path.join(folder, n) for n in names if _is_variant_folder(folder, n, by_metadata)]
    for path in found:
        _refuse_link_to_a_holder(path)
    return found


def _refuse_link_to_a_holder(path: str) -> None:
    """A variant folder may be a link (a Nix bundle's `result/<variant>` names a store path), but not one to a
    folder that holds it, `/` or `..`: walking it would check the whole tree above, or the whole machine."""
    if not os.path.islink(path):
        return
    real = os.path.realpath(path)
    holder = os.path.realpath(os.path.dirname(path))
    if holder == real or holder.startswith(real.rstrip(os.sep) + os.sep):
        raise InputError(f"a variant folder that links to {real}, a folder holding it: not followed", path)


def find_variant_dirs(root: str, strict: bool = False) -> list[str] | None:
    """Variant folders for a kernel repo, a build/ or result/ folder, or a variant folder.

    As kernel-builder finds them: the variant folders (those with a
    `metadata.json`, or named like a variant) under `result/`, else under
    `build/`, else (named like a variant) in `root` itself; only the first of
    those that holds any is used. None means `root` is not a kernel tree at all (a plain
    directory, such as setuptools' build/lib.linux-x86_64-cpython-311/). `strict`: in a
    kernel-builder project (a `build.toml`), an output folder that cannot be listed is an
    InputError, never "nothing built".
    """
    name = os.path.basename(os.path.normpath(root))
    if looks_like_variant(name) or (os.path.isfile(os.path.join(root, "metadata.json"))
                                    and os.path.basename(os.path.dirname(os.path.normpath(root))) in OUTPUT_FOLDERS):
        return [root]
    for output in OUTPUT_FOLDERS:
        found = _variant_children(os.path.join(root, output),
                                  strict=strict and os.path.isfile(os.path.join(root, "build.toml")))
        if found:
            return found
    children = _variant_children(root, by_metadata=False)  # any project may have a data/metadata.json
    if children:
        return children
    if os.path.isfile(os.path.join(root, "build.toml")) and any(
            os.path.isdir(os.path.join(root, o)) for o in OUTPUT_FOLDERS):
        return []  # kernel-builder's project, with an output folder but no variants in it
    return None


NESTED_DEPTH = 4  # how deep below a folder kernel projects are looked for (kernels-community: <kernel>/build/)


def find_nested_variant_dirs(root: str) -> list[str]:
    """The variant folders of kernel projects below `root` (a monorepo): `*/build/<variant>/`, `*/result/<variant>/`.

    Only folders up to NESTED_DEPTH levels down are looked at; hidden folders and
    symlinks are not entered, and nothing below a kernel project's output folder.
    """
    found: list[str] = []
    top = os.path.normpath(root)
    for dirpath, dirnames, _files in walk_tree(top):
        depth = 0 if dirpath == top else os.path.relpath(dirpath, top).count(os.sep) + 1
        dirnames.sort()
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and depth < NESTED_DEPTH]
        if dirpath != top:
            for output in OUTPUT_FOLDERS:
                if output in dirnames:
                    variants = _variant_children(os.path.join(dirpath, output))
                    if variants:
                        found.extend(variants)
                        break
            dirnames[:] = [d for d in dirnames if d not in OUTPUT_FOLDERS or not _variant_children(
                os.path.join(dirpath, d))]
    return found


def _metadata_backend(path: str) -> str | None:
    try:
        data = json.loads(read_file(path, "metadata.json"))
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
    if os.path.lexists(meta):  # anything but a regular file is refused when read (a FIFO would block)
        return VariantDir(path, variant, meta, _metadata_backend(meta))
    return VariantDir(path, variant)
