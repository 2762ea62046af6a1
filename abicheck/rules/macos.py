"""AB6xx: macOS (Mach-O) objects: the oldest macOS they run on, and where their load commands point.

The machine of each slice (AB401) and the Python stable ABI (AB501, AB502)
are checked by the same rules as for ELF objects (rules/arch.py,
rules/python_abi.py). Imports from other dylibs and DLLs are not resolved:
the analysis counts them as not checked (abicheck.analysis.objects).
"""

from __future__ import annotations

from collections.abc import Iterator

from abicheck.binary import Format
from abicheck.report.model import Finding
from abicheck.rules.base import Rule, check
from abicheck.rules.context import ObjectContext

MACHO: frozenset[Format] = frozenset({"macho"})

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
)

_PORTABLE = ("@rpath/", "@loader_path/", "@executable_path/", "@loader_path", "@executable_path",
             "/usr/lib/", "/System/Library/", "/System/iOSSupport/")


def check_macos(ctx: ObjectContext) -> Iterator[Finding]:
    if ctx.macho is None or ctx.target.macos is None:
        return
    target = f"{ctx.target.macos[0]}.{ctx.target.macos[1]}"
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
        if tuple(parts[:2]) > ctx.target.macos:
            yield ctx.finding(
                AB601, f"the {s.arch} slice needs macOS {s.min_macos}, newer than {target} ({ctx.target.macos_source})",
                f"build with MACOSX_DEPLOYMENT_TARGET={target} (or -mmacosx-version-min={target}), "
                "or claim the macOS it really needs",
                version=s.min_macos, details={"arch": s.arch, "target": target, "source": ctx.target.macos_source})


def check_load_paths(ctx: ObjectContext) -> Iterator[Finding]:
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


RULES = [AB601, AB602, AB603]
CHECKS = [check(check_macos, AB601, AB602, formats=MACHO), check(check_load_paths, AB603, formats=MACHO)]
