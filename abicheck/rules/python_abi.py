"""AB5xx: `.abi3.so` objects and abi3 wheels must keep to the Python stable ABI.

An object built for the stable ABI is loaded by every CPython from its
declared minimum on; it may use only the stable ABI's symbols, and only those
that minimum already has.
"""

from __future__ import annotations

from collections.abc import Iterator

from abicheck.policy.stable_abi import PYTHON_DLL, is_python_api, stable_symbols
from abicheck.report.model import Finding
from abicheck.rules.base import MACOS_AND_WINDOWS, Rule, check
from abicheck.rules.context import LoadContext, ObjectContext

AB501 = Rule(
    code="AB501",
    name="not-in-stable-abi",
    summary="An abi3 object uses a Python C-API symbol outside the stable ABI.",
    explanation="""\
A `.abi3.so` (or any object in a cp3X-abi3 wheel) promises to load in every
later CPython. Symbols outside the stable ABI (`_PyLong_AsByteArray`,
`PyUnicode_AsUTF8` before 3.13 ...) may change or vanish in the next release,
and the import then fails with "undefined symbol".

Fix: define Py_LIMITED_API to the minimum version (0x03090000 for 3.9) when
compiling so the compiler rejects such calls, and use the limited API's
equivalent; or ship version-specific (non-abi3) builds.""",
)

AB502 = Rule(
    code="AB502",
    name="stable-abi-too-new",
    summary="An abi3 object uses a stable-ABI symbol added after its declared minimum Python.",
    explanation="""\
The stable ABI grows: PyType_FromMetaclass joined it in 3.12. An object that
declares cp39-abi3 (or is checked with --python-abi 3.9) but calls it fails to
import on Python 3.9 to 3.11. The minimum comes from the wheel's cp3X-abi3
tag, or --python-abi (default 3.9).

Fix: set Py_LIMITED_API to the real minimum and retag (cp312-abi3), or avoid
the newer function on older Pythons.""",
)


def _version(v: tuple[int, int]) -> str:
    return f"{v[0]}.{v[1]}"


def check_stable_abi(ctx: LoadContext) -> Iterator[Finding]:
    """An ELF object's Py* imports, once its load scope is known: a library's own Py* names are not CPython's."""
    if not ctx.target.abi3:
        return
    table = stable_symbols()
    theirs = ctx.imports.python_defined if ctx.imports is not None else frozenset()
    for name in ctx.object.python_imports:
        if name in theirs:
            continue  # defined by a library the object loads (shiboken6's PyEnumMeta_Check): not the C API
        added = table.get(name)
        if added is None:
            yield ctx.finding(
                AB501,
                f"{name} is not part of the Python stable ABI, yet the object is built for abi3",
                "compile with -DPy_LIMITED_API=0x03090000 (or your minimum) and use the limited API "
                "instead; or ship per-version builds",
                symbol=name, details={"python_abi": _version(ctx.target.python_abi)},
            )
        elif added > ctx.target.python_abi:
            yield ctx.finding(
                AB502,
                f"{name} joined the stable ABI in Python {_version(added)}, after the declared minimum "
                f"{_version(ctx.target.python_abi)} ({ctx.target.python_abi_source})",
                f"declare cp{added[0]}{added[1]}-abi3 (and Py_LIMITED_API 0x{added[0]:02x}{added[1]:02x}0000), "
                f"or avoid {name} on Python < {_version(added)}",
                symbol=name, details={"added": _version(added), "python_abi": _version(ctx.target.python_abi)},
            )


def _stable_functions(ctx: ObjectContext, names: list[str], why: str) -> Iterator[Finding]:
    table = stable_symbols()
    floor = f"{ctx.target.python_abi[0]}.{ctx.target.python_abi[1]}"
    for name in sorted(set(names)):
        if not is_python_api(name):
            continue
        added = table.get(name)
        if added is None:
            yield ctx.finding(AB501, f"{name} is not part of the Python stable ABI, yet {why}",
                              "compile with -DPy_LIMITED_API=0x03090000 (or your minimum) and use the limited "
                              "API instead; or ship per-version builds", symbol=name)
        elif added > ctx.target.python_abi:
            yield ctx.finding(AB502, f"{name} joined the stable ABI in Python {added[0]}.{added[1]}, after the "
                                     f"declared minimum {floor} ({ctx.target.python_abi_source})",
                              f"declare cp{added[0]}{added[1]}-abi3, or avoid {name} on older Pythons",
                              symbol=name)


def check_foreign_stable_abi(ctx: ObjectContext) -> Iterator[Finding]:
    """Mach-O: the `_Py*` undefined symbols; PE: python3.dll only, and its functions."""
    if not ctx.target.abi3:
        return
    if ctx.macho is not None:
        names = {n[1:] for s in ctx.macho.slices if s.file_type != "object"
                 for n, _lib in ctx.macho.undefined(s) if n.startswith("_")}
        yield from _stable_functions(ctx, sorted(names), "the object is built for abi3")
    elif ctx.pe is not None:
        for dll, functions in sorted(ctx.pe.imports.items()):
            m = PYTHON_DLL.match(dll)
            if m:
                yield ctx.finding(AB501, f"imports {dll}, one CPython release's DLL, yet the object is built for "
                                         "abi3 (stable-ABI extensions import python3.dll)",
                                  "compile with -DPy_LIMITED_API=0x03090000 (or your minimum): the headers then "
                                  "link python3.lib", library=dll)
            if m or dll.lower() == "python3.dll":
                yield from _stable_functions(ctx, functions, "the object is built for abi3")


RULES = [AB501, AB502]
CHECKS = [check(check_stable_abi, AB501, AB502, judged_at="load"),
          check(check_foreign_stable_abi, AB501, AB502, formats=MACOS_AND_WINDOWS)]
