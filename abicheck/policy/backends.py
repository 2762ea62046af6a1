"""Kernel backend policies: what a CUDA, ROCm, XPU or CPU kernel may link.

The facts live in `policies/backends.json` (shipped in the wheel). Users can
extend them with `--policy-file FILE` or `policy-file` in `[tool.abicheck]`:
lists in the file are added to the shipped ones (see docs/backend-policies.md).
"""

from __future__ import annotations

import copy
import json
import re
from fnmatch import fnmatchcase
from typing import Any, NamedTuple

from abicheck.errors import InputError, UsageError
from abicheck.inputs.files import read_file
from abicheck.inputs.variants import backends, parse_compute
from abicheck.policy.data import load_json

_LIST_KEYS = ("torch_libraries", "families", "drivers", "allowed")


class BackendContext(NamedTuple):
    """The backend an object was built for, and where that knowledge came from."""

    backend: str
    version: str | None = None
    source: str = "--backend"  # "the variant torch28-...", "--backend", "its file name"
    variant: str | None = None

    @property
    def label(self) -> str:
        return f"{self.backend} {self.version}" if self.version else self.backend


def parse_backend_option(value: str) -> BackendContext:
    """`--backend cuda`, `--backend cu128`, `--backend rocm64`, `--backend xpu20252`."""
    try:
        backend, version = parse_compute(value.strip().lower())
    except ValueError:
        raise UsageError(f"unknown backend {value!r}; use one of {', '.join(backends())}, or a compute "
                         "token such as cu128, rocm64 or xpu20252") from None
    known = load_json("backends.json").get("runtime_majors", {}).get(backend, {})
    if version is not None and backend in ("cuda", "rocm") and known:
        newest = max(int(major) for major in known)
        if int(version.split(".")[0]) > newest:  # older releases are real (cu118); a newer one is a typo
            raise UsageError(f"unknown backend {value!r}: {backend} {version} is newer than any release "
                             f"abicheck's data knows ({backend} {newest})")
    return BackendContext(backend, version, source="--backend")


class BackendPolicy:
    """The merged backend data, with the lookups the linkage rules need."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.backends: dict[str, dict[str, Any]] = data["backends"]
        self.common_torch = set(data.get("common_torch_libraries", ()))
        self.allowed_everywhere = set(data.get("allowed", ()))

    def runtime_major(self, ctx: BackendContext) -> int | None:
        if ctx.version is None:
            return None
        head = ctx.version.split(".")[0]
        table = self.data.get("runtime_majors", {}).get(ctx.backend, {})
        if head in table:
            return int(table[head])
        return int(head) if ctx.backend in ("cuda", "rocm") and head.isdigit() else None

    def runtime_pattern(self, backend: str) -> re.Pattern[str] | None:
        template = self.backends.get(backend, {}).get("runtime")
        if not template:
            return None
        return re.compile("^" + re.escape(template).replace(re.escape("{major}"), r"(\d+)") + "$")

    def expected_runtime(self, ctx: BackendContext) -> str | None:
        template = self.backends.get(ctx.backend, {}).get("runtime")
        major = self.runtime_major(ctx)
        if not template:
            return None
        return template.replace("{major}", str(major)) if major is not None else template.replace("{major}", "N")

    def allowed(self, backend: str) -> set[str]:
        """Libraries a kernel of `backend` may link by exact name (runtime aside)."""
        entry = self.backends.get(backend, {})
        return self.common_torch | set(entry.get("torch_libraries", ())) | set(entry.get("allowed", ())) \
            | self.allowed_everywhere

    def driver_of(self, library: str) -> str | None:
        for name, entry in self.backends.items():
            if any(fnmatchcase(library, p) for p in entry.get("drivers", ())):
                return name
        return None

    def family_of(self, library: str) -> str | None:
        for name, entry in self.backends.items():
            if any(fnmatchcase(library, p) for p in entry.get("families", ())):
                return name
        return None

    def hint_for_runtime(self, ctx: BackendContext) -> str:
        template = self.backends.get(ctx.backend, {}).get("runtime_hint", "")
        major = self.runtime_major(ctx)
        version = (ctx.version or "").replace(".", "")
        return template.replace("{major}", str(major) if major is not None else "").replace(
            "{variant_version}", version)


def _merge(base: dict[str, Any], extra: dict[str, Any], origin: str) -> None:
    known_top = {"about", "sources", "common_torch_libraries", "allowed", "backends", "runtime_majors"}
    unknown = set(extra) - known_top
    if unknown:
        raise UsageError(f"{origin}: unknown keys {sorted(unknown)}; known: {sorted(known_top)}")
    for key in ("common_torch_libraries", "allowed"):
        if key in extra:
            base[key] = list(base.get(key, [])) + _strings(extra[key], origin, key)
    for key in ("backends", "runtime_majors"):
        if not isinstance(extra.get(key, {}), dict):
            raise UsageError(f"{origin}: {key} must be an object")
    for name, entry in extra.get("backends", {}).items():
        if name not in backends():
            raise UsageError(f"{origin}: unknown backend {name!r}; known: {', '.join(backends())}")
        if not isinstance(entry, dict):
            raise UsageError(f"{origin}: backends.{name} must be an object")
        target = base["backends"].setdefault(name, {})
        for key, value in entry.items():
            if key in _LIST_KEYS:
                target[key] = list(target.get(key, [])) + _strings(value, origin, f"backends.{name}.{key}")
            elif key in ("runtime", "runtime_hint", "description"):
                if value is not None and not isinstance(value, str):
                    raise UsageError(f"{origin}: backends.{name}.{key} must be a string")
                target[key] = value
            else:
                raise UsageError(f"{origin}: unknown key backends.{name}.{key}")
    for name, table in extra.get("runtime_majors", {}).items():
        if not isinstance(table, dict) or not all(isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
                                                  for k, v in table.items()):
            raise UsageError(f"{origin}: runtime_majors.{name} must map versions to integer majors")
        base.setdefault("runtime_majors", {}).setdefault(name, {}).update(table)


def _strings(value: Any, origin: str, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{origin}: {key} must be a list of strings")
    return value


def load_backend_policy(extra_files: list[str] | tuple[str, ...] = ()) -> BackendPolicy:
    """The shipped backend data, extended by each `--policy-file` in turn."""
    data = copy.deepcopy(load_json("backends.json"))
    for path in extra_files:
        try:
            extra = json.loads(read_file(path, "policy file"))
        except InputError as exc:
            raise UsageError(f"--policy-file {path}: {exc.message}") from None
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise UsageError(f"--policy-file {path}: not valid JSON ({type(exc).__name__})") from None
        if not isinstance(extra, dict):
            raise UsageError(f"--policy-file {path}: must hold a JSON object")
        _merge(data, extra, f"--policy-file {path}")
    return BackendPolicy(data)
