"""AB5xx: `.abi3.so` objects and abi3 wheels must keep to the Python stable ABI.

An object built for the stable ABI is loaded by every CPython from its
declared minimum on; it may use only the stable ABI's symbols, and only those
that minimum already has.
"""

from __future__ import annotations

from collections.abc import Iterator

from abicheck.context import ObjectContext
from abicheck.report.model import Finding
from abicheck.rules.base import Rule

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


def check_stable_abi(ctx: ObjectContext) -> Iterator[Finding]:
    if not ctx.abi3:
        return
    from abicheck.policy.stable_abi import is_python_api, stable_symbols

    table = stable_symbols()
    seen: set[str] = set()
    for sym in sorted(ctx.reader.imports(), key=lambda s: s.name):
        name = sym.name
        if not is_python_api(name) or name in seen:
            continue
        seen.add(name)
        added = table.get(name)
        if added is None:
            yield ctx.finding(
                AB501,
                f"{name} is not part of the Python stable ABI, yet the object is built for abi3",
                "compile with -DPy_LIMITED_API=0x03090000 (or your minimum) and use the limited API "
                "instead; or ship per-version builds",
                symbol=name, details={"python_abi": _version(ctx.python_abi)},
            )
        elif added > ctx.python_abi:
            yield ctx.finding(
                AB502,
                f"{name} joined the stable ABI in Python {_version(added)}, after the declared minimum "
                f"{_version(ctx.python_abi)} ({ctx.python_abi_source})",
                f"declare cp{added[0]}{added[1]}-abi3 (and Py_LIMITED_API 0x{added[0]:02x}{added[1]:02x}0000), "
                f"or avoid {name} on Python < {_version(added)}",
                symbol=name, details={"added": _version(added), "python_abi": _version(ctx.python_abi)},
            )


RULES = [AB501, AB502]
CHECKS = [(check_stable_abi, [AB501, AB502])]
