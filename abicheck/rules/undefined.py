"""AB312: an import that no library in the object's load scope defines.

Runs after the resolution stage, on the loader's symbol scope as
abicheck.analysis.symbols models it. torch's own symbols in a kernel are
AB308's and AB310's (a kernel meets the torch of its variant, loaded by
`import torch` before it, not a library it ships); the rest are checked
here, against shipped libraries, glibc, libstdc++ and libgcc_s.
"""

from __future__ import annotations

from collections.abc import Iterator

from abicheck.analysis.symbols import (
    CXX,
    GLIBC,
    ON_DISK,
    RUNTIME,
    SHIPPED_LIB,
    TORCH,
    Provider,
)
from abicheck.analysis.torch import cxx_abi_of
from abicheck.binary.demangle import demangle
from abicheck.policy.glibc_symbols import introduced
from abicheck.report.model import Finding
from abicheck.rules.base import Rule, check
from abicheck.rules.context import LoadContext

AB312 = Rule(
    code="AB312",
    name="undefined-symbol",
    summary="An object imports a symbol that no library it will load defines.",
    explanation="""\
CPython loads extension modules with dlopen(RTLD_NOW): every undefined,
non-weak symbol must be defined by a library in the object's scope when it
is imported, or the import fails with

    ImportError: .../_ext.so: undefined symbol: _ZN5mylib6detail4stepEv

The scope is CPython and its C library, then the object's NEEDED libraries,
breadth first, each as the resolution stage found it, and for a kernel what
`import torch` loaded globally before it (torch's libraries and its
backend's runtime). A versioned reference
(foo@LIBFOO_2) must be defined with that version by the library its version
need names; an unversioned one by any library of the scope.

abicheck knows the exports of libraries shipped in the same wheel or tree
(read through their hash tables), of glibc (zig's glibc ABI lists), of
libstdc++ and libgcc_s (read from real libraries by
tools/gen_cxx_runtime_symbols.py), and of torch when one is given. Imports
only another library could define (a dependency wheel that is not at hand, a
system library without data) are counted as "not checked" in the summary,
`show` and the JSON; never as passing.

Typical causes: a shipped library was replaced by another build of it (a
different release, other configure options); an object was linked against
a library of the build machine that is not the one shipped; it was built
with the other C++ ABI (std::__cxx11 names) than the library.

Fix: ship the build of the library the object was linked against, or
rebuild the object against the library that is shipped.""",
    scope="load",
)



def _newer_glibc(ctx: LoadContext, name: str, version: str | None) -> str | None:
    """The glibc release that added `name`, when it is newer than what the policy's systems have."""
    arch = ctx.facts.arch
    if version is not None or arch is None:
        return None

    added = introduced(arch, name)
    if added is None or ctx.target.policy.allows_version(arch, "libc.so.6", f"GLIBC_{added}"):
        return None
    return added


def _hint(name: str, library: str | None, providers: list[Provider]) -> str:
    shipped = [p for p in providers if p.kind in (SHIPPED_LIB, ON_DISK)]
    abi = cxx_abi_of(name)
    if abi is not None:
        return (f"it uses the {abi} C++ ABI: if the library was built with the other one, rebuild the object with "
                f"-D_GLIBCXX_USE_CXX11_ABI={1 if abi == 'cxx11' else 0} set like the library's build")
    if shipped and shipped[0].kind == SHIPPED_LIB:
        return (f"the shipped {shipped[0].library} is not the build the object was linked against: ship that build, "
                "or rebuild the object against the shipped one")
    if shipped:
        return (f"{shipped[0].where} is not the build the object was linked against (or the stub it was compiled "
                "against promised more than the library has): rebuild the object against this library")
    if library is not None:
        return (f"the system's {library} does not define it at that version: the object was linked against "
                "another build of it (a private one on the build machine); link against the system's")
    return ("no library it loads defines it: it was linked without the library that does (add it to the link "
            "and ship or depend on it); -Wl,--no-undefined makes the linker catch this")


def _searched(providers: list[Provider]) -> str:
    """`libshape.so.1 (shipped: pkg/libshape.so.1) or the C library`: what was searched, briefly."""
    named = [p.describe() for p in providers if p.kind in (SHIPPED_LIB, CXX, TORCH, ON_DISK, RUNTIME)]
    if any(p.kind == GLIBC for p in providers):
        named.append("the C library")
    return " or ".join(named) if named else "any library it loads"


def check_undefined(ctx: LoadContext) -> Iterator[Finding]:
    result = ctx.imports
    if result is None:
        return
    for name, version, library, searched in result.missing:
        shown = demangle(name) or name
        label = f"{shown}@{version}" if version else shown
        where = searched[0].describe() if library is not None else _searched(searched)
        added = _newer_glibc(ctx, name, version)
        if added is not None:
            policy = ctx.target.policy.name
            yield ctx.finding(
                AB312, f"{label} is not defined by the C library of {policy} systems (glibc {added} added it): "
                       "loading fails with 'undefined symbol'",
                f"it came from code built against glibc {added} or later, often a static archive (libgcc_eh, "
                "libstdc++.a) from a newer toolchain linked into an object built against the older glibc: build "
                "that runtime against the policy's glibc too, or link it dynamically",
                symbol=name, demangled=shown if shown != name else None,
                details={"glibc": added, "policy": policy, "searched": [p.describe() for p in searched]})
            continue
        yield ctx.finding(
            AB312,
            f"{label} is not defined by {where}: loading fails with 'undefined symbol'",
            _hint(name, library, searched), symbol=name, demangled=shown if shown != name else None, version=version,
            library=library, details={"searched": [p.describe() for p in searched]})


RULES = [AB312]
CHECKS = [check(check_undefined, AB312)]
