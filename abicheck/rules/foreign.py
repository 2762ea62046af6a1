"""AB6xx, and AB401/AB501/AB502 for macOS (Mach-O) and Windows (PE) objects.

What decides whether a macOS or Windows object loads, as far as the file
itself tells: the machine of each slice, the oldest macOS it runs on, where
its load commands point, and the Python stable ABI. Imports from other
dylibs and DLLs are not resolved: they are counted as not checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from abicheck.foreign_stage import ForeignContext
from abicheck.report.model import Finding
from abicheck.rules.arch import AB401, FORMAT_OF_OS, wrong_format
from abicheck.rules.base import Rule
from abicheck.rules.python_abi import AB501, AB502

AB601 = Rule(
    code="AB601",
    name="macos-version-too-new",
    summary="A Mach-O object needs a newer macOS than its wheel tag, its variant or --macos allows.",
    explanation="""\
The loader refuses a Mach-O object whose minimum macOS (LC_BUILD_VERSION's
minos, or LC_VERSION_MIN_MACOSX in older files) is newer than the system:
"built for macOS 14.0 which is newer than running OS". The oldest macOS is
the wheel's macosx_X_Y tag, --macos, or for a darwin kernel variant the
macOS the kernels loader requires for Metal variants (26.0, as Metal
kernels build with -std=metal4.0) or kernel-builder check-abi's default
(15.0) for the others: both read from huggingface/kernels by
tools/gen_variants.py.

Fix: build with MACOSX_DEPLOYMENT_TARGET (or -mmacosx-version-min) set to
the oldest macOS you support, or raise the wheel tag to the truth.""",
    scope="foreign",
)

AB602 = Rule(
    code="AB602",
    name="macos-minimum-missing",
    summary="A Mach-O object records no minimum macOS at all.",
    explanation="""\
Without LC_BUILD_VERSION or LC_VERSION_MIN_MACOSX nobody can tell which
macOS the object loads on; kernel-builder's check-abi refuses such objects
too. Linkers write one unless the object was assembled by hand or
post-processed.

Fix: link with a deployment target (MACOSX_DEPLOYMENT_TARGET or
-mmacosx-version-min).""",
    scope="foreign",
)

AB603 = Rule(
    code="AB603",
    name="dylib-path-not-portable",
    summary="A Mach-O object loads a dylib, or searches an LC_RPATH, by an absolute path only the build machine has.",
    explanation="""\
dyld opens LC_LOAD_DYLIB paths as written. A kernel or wheel that names
/nix/store/...-libomp/lib/libomp.dylib, /opt/homebrew/..., or a build
directory in a home folder loads on the build machine only. Portable objects
name their dylibs by @rpath/, @loader_path/ or @executable_path/, or name
system ones under /usr/lib and /System/Library.

Fix: set install names with @rpath (install_name_tool -change, or
-install_name at link time), ship the dylib beside the object with an
@loader_path LC_RPATH (delocate does this for wheels), or link the system's
copy.""",
    scope="foreign",
)

_PORTABLE = ("@rpath/", "@loader_path/", "@executable_path/", "@loader_path", "@executable_path",
             "/usr/lib/", "/System/Library/", "/System/iOSSupport/")
_PYTHON_DLL = re.compile(r"^python3(\d+)(_d)?\.dll$", re.I)


def check_machine(ctx: ForeignContext) -> Iterator[Finding]:
    fmt = "Mach-O" if ctx.format == "macho" else "PE"
    system = wrong_format(ctx.variant, fmt)
    if system is not None:
        name = ctx.variant.name if ctx.variant is not None else ""
        yield ctx.finding(
            AB401, f"is a {fmt} ({'macOS' if fmt == 'Mach-O' else 'Windows'}) object, but the variant {name} is for "
                   f"{system}",
            f"build it for {system} ({FORMAT_OF_OS[system]}), or move it to the variant folder of its own OS",
            details={"format": fmt, "os": system})
        return
    linux = [t for t in ctx.platforms if t.startswith(("manylinux", "musllinux", "linux_"))]
    if linux:
        yield ctx.finding(
            AB401, f"is a {fmt} ({'macOS' if fmt == 'Mach-O' else 'Windows'}) object in a wheel tagged {linux[0]}",
            "build the wheel's objects for Linux (ELF), or tag the wheel for the platform they are built for",
            details={"format": fmt, "tag": linux[0]})
        return
    arches = ctx.arches()
    for wanted in ctx.expected_arches:
        if wanted not in arches:
            have = ", ".join(arches) or "no architecture"
            yield ctx.finding(
                AB401, f"is built for {have}, but {ctx.expected_arch_source} needs {wanted}",
                f"build for {wanted}" + (" (lipo -create joins slices into one universal file)"
                                              if ctx.format == "macho" and len(ctx.expected_arches) > 1 else ""),
                details={"expected": wanted, "found": arches})


def check_macos(ctx: ForeignContext) -> Iterator[Finding]:
    if ctx.macho is None or ctx.macos is None:
        return
    target = f"{ctx.macos[0]}.{ctx.macos[1]}"
    for s in ctx.macho.slices:
        if s.file_type == "object":
            continue
        if s.min_macos is None:
            if s.platform not in (None, "macos"):
                continue  # an iOS or other slice: not loaded on macOS
            yield ctx.finding(AB602, f"the {s.arch} slice records no minimum macOS",
                              "link with MACOSX_DEPLOYMENT_TARGET or -mmacosx-version-min set",
                              details={"arch": s.arch})
            continue
        parts = [int(p) for p in s.min_macos.split(".")]
        if tuple(parts[:2]) > ctx.macos:
            yield ctx.finding(
                AB601, f"the {s.arch} slice needs macOS {s.min_macos}, newer than {target} ({ctx.macos_source})",
                f"build with MACOSX_DEPLOYMENT_TARGET={target} (or -mmacosx-version-min={target}), "
                "or claim the macOS it really needs",
                version=s.min_macos, details={"arch": s.arch, "target": target, "source": ctx.macos_source})


def check_load_paths(ctx: ForeignContext) -> Iterator[Finding]:
    if ctx.macho is None:
        return
    seen: set[tuple[str, str]] = set()
    for s in ctx.macho.slices:
        entries = [(path, "loads") for path, _kind in s.dylibs] + [(path, "searches LC_RPATH") for path in s.rpaths]
        for path, what in entries:
            if path.startswith(_PORTABLE) or (path, what) in seen:
                continue
            seen.add((path, what))
            yield ctx.finding(
                AB603, f"{what} {path}, which only the build machine has",
                "name the dylib by @rpath/ (install_name_tool -change) and ship it beside the object, "
                "or link the system's copy" if what == "loads" else
                "use @loader_path-relative LC_RPATH entries (install_name_tool -rpath)",
                library=path if what == "loads" else None, details={"path": path, "arch": s.arch})


def _stable(ctx: ForeignContext, names: list[str], why: str) -> Iterator[Finding]:
    from abicheck.policy.stable_abi import is_python_api, stable_symbols

    table = stable_symbols()
    floor = f"{ctx.python_abi[0]}.{ctx.python_abi[1]}"
    for name in sorted(set(names)):
        if not is_python_api(name):
            continue
        added = table.get(name)
        if added is None:
            yield ctx.finding(AB501, f"{name} is not part of the Python stable ABI, yet {why}",
                              "compile with -DPy_LIMITED_API=0x03090000 (or your minimum) and use the limited "
                              "API instead; or ship per-version builds", symbol=name)
        elif added > ctx.python_abi:
            yield ctx.finding(AB502, f"{name} joined the stable ABI in Python {added[0]}.{added[1]}, after the "
                                     f"declared minimum {floor} ({ctx.python_abi_source})",
                              f"declare cp{added[0]}{added[1]}-abi3, or avoid {name} on older Pythons",
                              symbol=name)


def check_python_abi(ctx: ForeignContext) -> Iterator[Finding]:
    """Mach-O: the `_Py*` undefined symbols; PE: python3.dll only, and its functions."""
    if not ctx.abi3:
        return
    if ctx.macho is not None:
        names = {n[1:] for s in ctx.macho.slices if s.file_type != "object"
                 for n, _lib in ctx.macho.undefined(s) if n.startswith("_")}
        yield from _stable(ctx, sorted(names), "the object is built for abi3")
    elif ctx.pe is not None:
        for dll, functions in sorted(ctx.pe.imports.items()):
            m = _PYTHON_DLL.match(dll)
            if m:
                yield ctx.finding(AB501, f"imports {dll}, one CPython release's DLL, yet the object is built for "
                                         "abi3 (stable-ABI extensions import python3.dll)",
                                  "compile with -DPy_LIMITED_API=0x03090000 (or your minimum): the headers then "
                                  "link python3.lib", library=dll)
            if m or dll.lower() == "python3.dll":
                yield from _stable(ctx, functions, "the object is built for abi3")


def note_imports(ctx: ForeignContext) -> Iterator[Finding]:
    """Imports from other dylibs and DLLs are not resolved: counted as not checked, per library."""
    unknown: dict[str, tuple[int, str]] = {}
    if ctx.macho is not None:
        why = "macOS dylib imports are not resolved by abicheck"
        for s in ctx.macho.slices:
            if s.file_type == "object":
                continue
            for name, library in ctx.macho.undefined(s):
                if name.startswith("_Py") or library is None:
                    continue  # the interpreter's (flat lookup), checked above for abi3 objects
                count, _ = unknown.get(library, (0, why))
                unknown[library] = (count + 1, why)
    elif ctx.pe is not None:
        why = "Windows DLL imports are not resolved by abicheck"
        for dll, functions in ctx.pe.imports.items():
            if not _PYTHON_DLL.match(dll) and dll.lower() != "python3.dll" and functions:
                unknown[dll] = (len(functions), why)
    ctx.imports_report = {"checked": 0, "missing": 0, "not_checked": sum(n for n, _w in unknown.values())}
    if unknown:
        ctx.imports_report["unknown_libraries"] = {lib: why for lib, (_n, why) in sorted(unknown.items())}
    return iter(())


RULES = [AB601, AB602, AB603]
CHECKS = [(check_machine, [AB401], "foreign"), (check_macos, [AB601, AB602], "foreign"),
          (check_load_paths, [AB603], "foreign"), (check_python_abi, [AB501, AB502], "foreign"),
          (note_imports, [AB401, AB501, AB502, AB601, AB602, AB603], "foreign")]
