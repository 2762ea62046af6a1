"""`abicheck abi dump|diff|stub`: plain functions behind the typer commands."""

from __future__ import annotations

import json
import os
import re
from typing import Any

from abicheck.abi.stub import write_stub
from abicheck.abi.surface import (
    SCHEMA,
    SET_SCHEMA,
    VENDORED,
    Surface,
    diff_surfaces,
    interface_role,
    judged,
    macho_surfaces,
    pe_surface,
    surface_of,
)
from abicheck.cli.check import emit, fail
from abicheck.cli.output import err, out, write_file
from abicheck.errors import InputError, UsageError
from abicheck.inputs.files import read_file
from abicheck.inputs.paths import kind_of
from abicheck.options import CheckOptions
from abicheck.pipeline import Run
from abicheck.rules.context import ObjectContext

DIFF_SCHEMA = "abicheck-abi-diff/1"


def load_surfaces(path: str) -> dict[str, Surface]:
    """Surfaces of a shared object, of each shared object in a wheel, or from a saved dump.

    A single object maps from "" to its surface (a fat Mach-O from each
    architecture); a wheel from member names (`pkg/x.so`, `pkg/x.so[aarch64]`).
    """
    kind = kind_of(path)
    if kind == "dir":
        raise InputError("is a directory; give a shared object, a wheel or a saved dump", path)
    if kind == "wheel":
        return _scanned_surfaces(path, wheel=True)
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), path) from None
    if head.lstrip()[:1] == b"{":
        return _dump_surfaces(path)
    return _scanned_surfaces(path, wheel=False)  # one driver for every format, as check reads them


def _scanned_surfaces(path: str, wheel: bool) -> dict[str, Surface]:
    """The surfaces of a wheel's shared objects, or of one object file of any format, read as `check` reads them.

    ELF executables in a wheel have no surface a program links against and are left out.
    """
    with Run(CheckOptions.parse()) as run:
        def surface(ctx: ObjectContext) -> dict[str, Surface]:
            name = ctx.path.split("!", 1)[1] if wheel else ""
            if ctx.macho is not None:
                return {name + (f"[{arch}]" if arch else ""): s
                        for arch, s in macho_surfaces(ctx.macho, ctx.path).items()}
            if ctx.pe is not None:
                return {name: pe_surface(ctx.pe, ctx.path)}
            return {name: surface_of(ctx.reader, ctx.path)} if ctx.facts.type == "DYN" or not wheel else {}

        examined = [e.value for e in run.objects([path], surface, keep=False)]
    if run.problems:
        raise run.problems[0]
    found = {name: s for surfaces in examined for name, s in surfaces.items()}
    if not found:
        raise InputError("no shared objects in this wheel" if wheel else "no shared object", path)
    return found


def _dump_surfaces(path: str) -> dict[str, Surface]:
    try:
        data = json.loads(read_file(path, "ABI dump"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InputError(f"not a readable ABI dump: {getattr(exc, 'strerror', None) or type(exc).__name__}",
                         path) from None
    try:
        if isinstance(data, dict) and data.get("schema") == SET_SCHEMA:
            return {name: Surface.from_dict(s, path) for name, s in data["objects"].items()}
        if isinstance(data, dict):
            return {"": Surface.from_dict(data, path)}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"not an abicheck ABI dump: {exc}", path) from None
    raise InputError("not an abicheck ABI dump", path)


def run_dump(path: str, output_format: str = "text", output: str | None = None, digest: bool = False) -> int:
    if output_format not in ("text", "json"):
        return fail(f"unknown format {output_format!r}; use text or json")
    try:
        surfaces = load_surfaces(path)
    except InputError as exc:
        return fail(str(exc))
    single = list(surfaces) == [""]
    if digest:
        lines = [f"{s.digest()}  {name or path}" for name, s in sorted(surfaces.items())]
        return emit("\n".join(lines) + "\n", output, [path]) or 0
    if output_format == "json":
        # A wheel's set names its file: `--torch` reads torch's release from it.
        data: Any = (surfaces[""].to_dict() if single else
                     {"schema": SET_SCHEMA, "source": os.path.basename(path),
                      "objects": {n: s.to_dict() for n, s in sorted(surfaces.items())}})
        return emit(json.dumps(data, indent=2, sort_keys=True) + "\n", output, [path]) or 0
    parts = [s.render_text() if single else f"== {name}\n{s.render_text()}" for name, s in sorted(surfaces.items())]
    return emit("".join(parts), output, [path]) or 0


def _by_architecture(surfaces: dict[str, Surface], other: dict[str, Surface]) -> dict[str, Surface]:
    """A thin Mach-O's surface named as the slice of the same architecture the other side's fat file has."""
    renamed = {}
    for name, surface in surfaces.items():
        sliced = f"{name}[{surface.machine}]"
        renamed[sliced if name not in other and sliced in other else name] = surface
    return renamed


HASHED = re.compile(r"-[0-9a-f]{8}(?=\.so|\.dylib|\.dll)")  # the hash auditwheel and delocate put in a name


def _renamed_vendored(before: dict[str, Surface], after: dict[str, Surface]) -> dict[str, str]:
    """New name -> old name of vendored libraries that only changed their hash (`libfoo-1a2b3c4d.so.1`)."""
    def unhashed(names: set[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for name in names:
            if VENDORED.search(name) and HASHED.search(name):
                found.setdefault(HASHED.sub("", name), []).append(name)
        return found

    gone, new = unhashed(set(before) - set(after)), unhashed(set(after) - set(before))
    return {new[k][0]: gone[k][0] for k in gone.keys() & new.keys() if len(gone[k]) == len(new[k]) == 1}


def _shipped(member: str) -> str:
    return f"the {member[1:-1]} architecture" if member.startswith("[") else member


def run_diff(old: str, new: str, output_format: str = "text", strict: bool = False) -> int:
    if output_format not in ("text", "json"):
        return fail(f"unknown format {output_format!r}; use text or json")
    try:
        before, after = load_surfaces(old), load_surfaces(new)
    except InputError as exc:
        return fail(str(exc))
    before, after = _by_architecture(before, after), _by_architecture(after, before)
    renamed = _renamed_vendored(before, after)
    after = {renamed.get(n, n): s for n, s in after.items()}
    pairs = {n: (before[n], after[n]) for n in sorted(before.keys() & after.keys())}
    changes: list[dict[str, Any]] = []
    for member in sorted(before.keys() - after.keys()):
        vendored = bool(VENDORED.search(member))
        changes.append({"kind": "object-removed", "breaking": not vendored, "symbol": None, "object": member,
                        "message": f"{_shipped(member)} is no longer shipped"
                                   + (" (a vendored library: nothing outside the wheel loads it)" if vendored
                                      else "")})
    for member in sorted(after.keys() - before.keys()):
        changes.append({"kind": "object-added", "breaking": False, "symbol": None, "object": member,
                        "message": f"{_shipped(member)} is newly shipped"})
    for new_name, old_name in sorted(renamed.items(), key=lambda item: item[1]):
        changes.append({"kind": "object-renamed", "breaking": False, "symbol": None, "object": old_name,
                        "message": f"{old_name} is now {new_name} (the same vendored library under a new hash)"})
    for member, (a, b) in pairs.items():
        role = interface_role(member or os.path.basename(new), b)
        for change in judged(diff_surfaces(a, b), role):
            changes.append({**change.to_dict(), "object": member or None})
    breaking = sum(1 for c in changes if c["breaking"])
    verdict = "breaking" if breaking else ("changed" if changes else "identical")
    code = 1 if breaking or (strict and changes) else 0
    if output_format == "json":
        out(json.dumps({"schema": DIFF_SCHEMA, "verdict": verdict, "breaking": breaking,
                                     "compatible": len(changes) - breaking, "changes": changes},
                                    indent=2) + "\n")
        return code
    for c in changes:
        where = f"{c['object']}: " if c.get("object") else ""
        out(f"{'BREAKING' if c['breaking'] else 'compatible':<10} {where}{c['message']}\n")
    if verdict == "breaking":
        summary = f"breaking: {breaking} breaking, {len(changes) - breaking} compatible change(s); rebuild dependents"
    elif changes:
        summary = (f"compatible: {len(changes)} compatible change(s); a relink is enough"
                   + (" (--strict counts them as changes)" if strict else ""))
    else:
        summary = "identical surfaces: a relink is enough"
    out(f"{summary}\n")
    return code


def run_stub(path: str, output: str) -> int:
    try:
        surfaces = load_surfaces(path)
    except InputError as exc:
        return fail(str(exc))
    if list(surfaces) != [""]:
        return fail(f"{path}: give one shared object (or its saved dump), not a wheel or a fat Mach-O file")
    if surfaces[""].format != "elf":
        return fail(f"{path}: abi stub writes ELF stubs; this is a {surfaces[''].format} object")
    try:
        data = write_stub(surfaces[""])
    except UsageError as exc:
        return fail(f"{path}: {exc}")
    try:
        write_file(output, data, [path], mode=0o755)  # only the new file gets the mode, never a device
    except UsageError as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"cannot write {output}: {exc.strerror or exc}")
    err(f"wrote {output} ({len(data)} bytes, {len(surfaces[''].symbols)} symbols)\n")
    return 0


__all__ = ["SCHEMA", "load_surfaces", "run_diff", "run_dump", "run_stub"]
