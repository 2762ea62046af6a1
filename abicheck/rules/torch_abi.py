"""AB308, AB309: a kernel's imports from torch, against the torch and the C++ ABI it will meet.

The most common way a published kernel fails is an `ImportError: undefined
symbol: _ZN3c10...` at import: it was built against another torch release or
with the other C++ ABI. With a torch at hand (`--torch`, or the installed one
in the pytest plugin), every non-weak import in torch's namespaces must be
defined by the torch libraries the kernel loads (AB308). The C++ ABI check
(AB309) needs no torch: the variant name says which ABI the kernel is for.
"""

from __future__ import annotations

from collections.abc import Iterator

from abicheck.binary.demangle import demangle
from abicheck.context import ObjectContext
from abicheck.report.model import Finding
from abicheck.resolve.torch import cxx_abi_of, is_torch_symbol
from abicheck.rules.base import Rule

AB308 = Rule(
    code="AB308",
    name="undefined-torch-symbol",
    summary="The kernel imports a torch symbol that the torch it will meet does not define.",
    explanation="""\
CPython loads extension modules with dlopen(RTLD_NOW): every undefined symbol
must be defined when the kernel is imported, or the import fails with

    ImportError: .../_ops.abi3.so: undefined symbol: _ZN3c1017RegisterOperatorsD1Ev

torch's C++ API changes between releases, so a kernel built against torch
2.8 can need symbols torch 2.9 no longer has; a kernel built with the other
C++ ABI (cxx98 against cxx11) needs std::string overloads torch never had.
abicheck looks every import in torch's namespaces (c10, at, torch, caffe2,
and torch's C shim) up in the torch libraries the kernel loads, through their
hash tables. The torch comes from --torch (an installed torch folder or a
torch wheel), or, in the pytest plugin, from the environment; its release
must match the variant's.

Fix: build the kernel against the torch release (and C++ ABI) of its
variant, or move to torch's stable ABI (torch-stable-abi variants), whose C
shim functions keep their meaning across releases.""",
)

AB309 = Rule(
    code="AB309",
    name="cxx-abi-mismatch",
    summary="A torch symbol the kernel imports uses the other C++ ABI than its variant (cxx11 vs cxx98).",
    explanation="""\
torch builds for the cxx11 ABI (std::string is std::__cxx11::basic_string)
and, for older releases, for the pre-cxx11 ABI (std::string is the old
reference-counted string, mangled `Ss`). A kernel in a cxx98 variant that
imports c10::warn(std::__cxx11::basic_string<...> const&), or one in a cxx11
variant that imports c10::warn(std::string const&) with the old mangling,
cannot load in the torch its variant names. Without a variant the ABI of the
given --torch is used.

Fix: build with -D_GLIBCXX_USE_CXX11_ABI=1 for cxx11 variants and =0 for
cxx98 ones (torch's CMake config sets it when you use find_package(Torch)),
and check that every translation unit gets the same setting.""",
)

_ABI_FLAG = {"cxx11": "1", "cxx98": "0"}


def _torch_needed(ctx: ObjectContext) -> list[str]:
    torch = ctx.torch
    if torch is not None:
        return [n for n in ctx.facts.needed if n in torch.libraries]
    return [n for n in ctx.facts.needed if n.startswith(("libc10", "libtorch", "libcaffe2"))]


def check_torch_symbols(ctx: ObjectContext) -> Iterator[Finding]:
    needed = _torch_needed(ctx)
    if not needed:
        return
    torch = ctx.torch
    if torch is None or ctx.torch_not_checked:
        ctx.symbols = {"checked": 0, "not_checked": ctx.torch_not_checked or "no torch at hand (--torch)"}
        return
    scope = torch.scope(tuple(needed))
    imports = sorted({s.name for s in ctx.reader.imports() if s.binding != "weak" and is_torch_symbol(s.name)})
    torch_abi = torch.cxx_abi
    missing = [name for name in imports if not torch.defines(scope, name)]
    ctx.symbols = {"checked": len(imports), "missing": len(missing), "torch": torch.version}
    for name in missing:
        shown = demangle(name) or name
        abi = cxx_abi_of(name)
        if abi is not None and torch_abi is not None and abi != torch_abi:
            hint = (f"it uses the {abi} C++ ABI and torch {torch.version} the {torch_abi} one: rebuild with "
                    f"-D_GLIBCXX_USE_CXX11_ABI={_ABI_FLAG[torch_abi]} (or use the variant for that ABI)")
        else:
            hint = (f"the kernel was built against another torch than {torch.release}: rebuild it against torch "
                    f"{torch.release}, or use torch's stable ABI (a torch-stable-abi variant)")
        yield ctx.finding(
            AB308,
            f"{shown} is not defined by torch {torch.version} ({', '.join(scope)}): the import fails with "
            "'undefined symbol'",
            hint, symbol=name, demangled=shown if shown != name else None, library=scope[0] if scope else None,
            details={"torch": torch.version, "searched": scope})


def check_cxx_abi(ctx: ObjectContext) -> Iterator[Finding]:
    expected, source = ctx.cxx_abi, ctx.cxx_abi_source
    if expected is None or not _torch_needed(ctx):
        return
    seen: set[str] = set()
    for sym in sorted(ctx.reader.imports(), key=lambda s: s.name):
        if sym.name in seen or not is_torch_symbol(sym.name):
            continue
        seen.add(sym.name)
        abi = cxx_abi_of(sym.name)
        if abi is None or abi == expected:
            continue
        shown = demangle(sym.name) or sym.name
        yield ctx.finding(
            AB309,
            f"{shown} uses the {abi} C++ ABI, but {source} is {expected}",
            f"build with -D_GLIBCXX_USE_CXX11_ABI={_ABI_FLAG[expected]} (as torch's CMake config does) in "
            "every translation unit",
            symbol=sym.name, demangled=shown if shown != sym.name else None,
            details={"expected": expected, "found": abi})


RULES = [AB308, AB309]
CHECKS = [(check_torch_symbols, [AB308]), (check_cxx_abi, [AB309])]
