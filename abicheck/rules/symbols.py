"""AB1xx: symbol versions the target system's libraries do not provide.

Pass or fail is decided from the version needs alone (`.gnu.version_r`, a few
hundred bytes). Only when a need is too new are `.gnu.version` and `.dynsym`
read, and then only the entries that use the offending versions, so that every
offending symbol is named.
"""

from __future__ import annotations

from collections.abc import Iterator

from abicheck.binary.demangle import demangle
from abicheck.binary.elf import VersionNeed
from abicheck.policy.manylinux import GLIBC_LIBRARIES, split_version
from abicheck.report.model import Finding
from abicheck.rules.base import Rule, check
from abicheck.rules.context import ObjectContext
from abicheck.rules.hints import hint_for

AB101 = Rule(
    code="AB101",
    name="symbol-version-too-new",
    summary="A symbol is bound to a library version newer than the policy allows.",
    explanation="""\
The object imports a symbol at a version (for example pthread_join@GLIBC_2.34)
that the policy's system libraries do not have (manylinux_2_28 means glibc
2.28, GLIBCXX 3.4.24, CXXABI 1.3.11, GCC 7.0.0). On such a system the dynamic
loader refuses to load the object:

    version `GLIBC_2.34' not found (required by ./_ops.abi3.so)

There is one finding per symbol@version, naming the library that provides it.
Versions are compared numerically within their prefix; names that are not
numbers (GLIBC_PRIVATE, CXXABI_TM_1) must be listed by the policy. Versions
needed from libraries the policy does not cover (libcudart.so.12, a library
shipped in the same wheel) are not judged here, and a version need marked
weak (VER_FLG_WEAK) is not fatal to the loader, so it is not reported.

Fix: build against the policy's glibc and toolchain (a manylinux_2_28 build
image, or zig cc -target x86_64-linux-gnu.2.28), so the linker binds the older
symbol versions; for C++ link libstdc++ statically or use GCC 7's libstdc++.""",
)

AB102 = Rule(
    code="AB102",
    name="blacklisted-symbol",
    summary="A symbol the policy forbids from an allowed library is imported.",
    explanation="""\
Some libraries are allowed by a policy only without certain symbols, because
those symbols differ between distributions (auditwheel's policy blacklist; for
manylinux it lists zlib symbols such as _dist_code). An object that imports one
of them may load but misbehave on a user's system.

A weak reference (as Rust's standard library makes to
__cxa_thread_atexit_impl) is not reported: the loader leaves it null where
the symbol is missing, and the code checks for that.

Fix: bundle (vendor) the library, for example with `auditwheel repair`, or
stop using the symbol; glibc's own libraries cannot be bundled, so there use
a weak reference checked at run time.""",
)


def _limit_text(ctx: ObjectContext, version: str) -> str:
    limit = ctx.policy.limit_for(ctx.arch or "", version)
    if limit is None:
        return ""
    prefix, rest = split_version(version)
    if limit.maximum is not None and rest[:1].isdigit():
        return f" ({prefix} <= {limit.maximum_text})"
    return f" ({prefix}_{rest} is not among its allowed versions)"


def too_new_needs(ctx: ObjectContext) -> list[VersionNeed]:
    """The non-weak version needs that the policy rejects for this object."""
    arch = ctx.arch
    if arch is None or arch not in ctx.policy.arches:
        return []  # AB401 reports an architecture the policy does not cover
    return [
        need for need in ctx.facts.version_needs
        if not need.weak
        and need.library not in ctx.shipped
        and not ctx.policy.allows_version(arch, need.library, need.version)
    ]


def check_versions(ctx: ObjectContext) -> Iterator[Finding]:
    needs = too_new_needs(ctx)
    if not needs:
        return

    by_versym = {need.versym: need for need in needs}
    used: set[int] = set()
    symbols = sorted(ctx.reader.imports(set(by_versym)), key=lambda s: (s.name, s.version or ""))
    for sym in symbols:
        need = next((n for n in needs if n.version == sym.version and n.library == sym.library), None)
        if need is None:
            continue
        used.add(need.versym)
        demangled = demangle(sym.name)
        hint = hint_for(sym.name, need.version, need.library, ctx.policy, ctx.arch)
        yield ctx.finding(
            AB101,
            f"{demangled or sym.name}@{need.version} from {need.library} is newer than "
            f"{ctx.policy.name} allows{_limit_text(ctx, need.version)}",
            hint.text,
            symbol=sym.name, version=need.version, library=need.library, hint_kind=hint.kind,
            demangled=demangled, details={"policy": ctx.policy.name},
        )
    # The loader checks every non-weak need, even one no symbol refers to.
    for need in needs:
        if need.versym not in used:
            hint = hint_for(None, need.version, need.library, ctx.policy, ctx.arch)
            yield ctx.finding(
                AB101,
                f"needs version {need.version} of {need.library} (no symbol uses it, but the "
                f"loader still requires it), newer than {ctx.policy.name} allows"
                f"{_limit_text(ctx, need.version)}",
                hint.text,
                version=need.version, library=need.library, hint_kind=hint.kind,
                details={"policy": ctx.policy.name},
            )


def check_blacklist(ctx: ObjectContext) -> Iterator[Finding]:
    relevant = {lib: syms for lib, syms in ctx.policy.blacklist.items()
                if lib in ctx.facts.needed and lib not in ctx.shipped}
    if not relevant:
        return
    names = frozenset().union(*relevant.values())
    # Weak references are resolved only if present: the loader never fails on them.
    for sym in sorted(ctx.reader.imports_named(names), key=lambda s: s.name):
        for lib, blocked in relevant.items():
            if sym.name in blocked and sym.library in (None, lib):
                if lib in GLIBC_LIBRARIES:
                    hint = (f"reference {sym.name} weakly and check it at run time, or stop using it: "
                            f"{lib} cannot be bundled")
                else:
                    hint = f"bundle {lib} into the wheel (auditwheel repair) or stop using {sym.name}"
                yield ctx.finding(
                    AB102,
                    f"{sym.display} from {lib} is blacklisted by {ctx.policy.name}: "
                    "it is not the same on every distribution",
                    hint, symbol=sym.name, version=sym.version, library=lib,
                )


RULES = [AB101, AB102]
CHECKS = [check(check_versions, AB101), check(check_blacklist, AB102)]
