"""Where each undefined symbol of an object will come from: the loader's symbol scope.

CPython loads an extension with `dlopen(RTLD_NOW)`: every non-weak undefined
symbol must then be defined in the object's scope, or the import fails with
"undefined symbol". The scope, in the order ld.so searches it:

1. the program: CPython and the C library it loads (libc, libm, libpthread,
   libdl, libutil and the loader; an executable has only its own NEEDED);
2. the object's NEEDED libraries, breadth first through their own NEEDED
   entries, each as the resolution stage found it (shipped, system, a
   dependency);
3. for a kernel, what `import torch` loaded globally before it: torch's
   libraries and its backend's runtime.

A versioned reference (`foo@GLIBCXX_3.4.21`) binds only to a definition with
that version in the library its version need names; an unversioned one to
the first default definition in the scope. The CPython API (`Py*`, `_Py*`)
is the interpreter's, and checked by the stable-ABI rules instead.

Each library's exports come from (`Provider.kind`): a shipped object's own
hash table; glibc and the C++ runtime from abicheck's generated data; torch's
libraries when a torch is at hand; with `--target nix`, the libraries the
RUNPATH names in the store, read where they are. Any other library's exports are unknown,
and the imports only it could define are "not checked", never passed.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from abicheck.analysis.loaded import left_to_its_loader
from abicheck.analysis.resolver import DEPENDENCY, SHIPPED, SYSTEM, Resolved
from abicheck.analysis.torch import TORCH_LIBRARIES, is_torch_symbol
from abicheck.binary.elf import open_elf
from abicheck.binary.elf_model import is_musl
from abicheck.binary.exports import Exports
from abicheck.errors import InputError
from abicheck.policy.manylinux import GLIBC_LIBRARIES, is_loader
from abicheck.policy.runtime_exports import runtime_index
from abicheck.policy.system_exports import CXX_RUNTIME, cxx_runtime_defined, glibc_defined

if TYPE_CHECKING:
    from abicheck.policy.manylinux import Policy
    from abicheck.rules.context import LoadContext

SHIPPED_LIB, GLIBC, CXX, TORCH, ON_DISK, UNKNOWN = "shipped", "glibc", "C++ runtime", "torch", "on disk", "unknown"
RUNTIME = "GPU runtime"  # a library of a runtime wheel torch installs, from abicheck's index
# What CPython itself loads on glibc before any extension: its symbols are in every extension's scope. The
# loader (`ld.so`, whatever its soname on the architecture) is in every process, and defines __tls_get_addr.
PROGRAM_LIBRARIES = ("libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "libutil.so.1", "ld.so")

Import = tuple[str, "str | None", "str | None"]  # (name, version, the library its version need names)


class Provider(NamedTuple):
    """One library of the scope, and how its exports are known."""

    library: str
    kind: str  # shipped, glibc, C++ runtime, torch, unknown
    exports: Any = None  # Exports (or a torch dump's names) for shipped and torch libraries
    why: str | None = None  # unknown: why its exports are not known
    where: str | None = None  # shipped: its path in the wheel or tree

    def defined(self, arch: str | None, names: set[str], version: str | None,
                policy: Policy | None = None) -> set[str] | None:
        """The subset of `names` it defines (at `version`, or by default); None when its exports are unknown.

        For glibc and the C++ runtime, an unversioned name counts only at a
        version the systems of `policy` have.
        """
        if self.kind == GLIBC:
            return glibc_defined(arch, self.library, names, version, policy)
        if self.kind == CXX:
            return cxx_runtime_defined(arch, self.library, names, version, policy)
        if self.exports is not None:  # a torch dump or an index keeps default definitions only: it ignores `version`
            return self.exports.defined(names, version)
        return None

    def describe(self) -> str:
        if self.kind == SHIPPED_LIB:
            return f"{self.library} (shipped: {self.where})" if self.where else f"{self.library} (shipped)"
        if self.kind == ON_DISK:
            return f"{self.library} ({self.where})"
        if self.kind == UNKNOWN:
            return f"{self.library} ({self.why})"
        if self.kind == RUNTIME:
            return f"{self.library} ({self.where})"
        return f"{self.library} ({self.kind})"


@dataclass
class ImportResult:
    """What resolving one object's imports found."""

    checked: int = 0
    missing: list[tuple[str, str | None, str | None, list[Provider]]] = field(default_factory=list)
    unknown: dict[str, tuple[int, str]] = field(default_factory=dict)  # library -> (imports, why)
    python_defined: frozenset[str] = frozenset()  # Py*-named imports a library in the scope defines (not CPython)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"checked": self.checked, "missing": len(self.missing),
                                "not_checked": sum(n for n, _why in self.unknown.values())}
        if self.unknown:
            data["unknown_libraries"] = {lib: why for lib, (_n, why) in sorted(self.unknown.items())}
        return data


@lru_cache(maxsize=64)  # a few dozen store libraries at once, each up to its export tables
def on_disk(path: str) -> tuple[Any, tuple[str, ...]] | None:
    """The exports and absolute RUNPATH of a library on this machine (`--target nix`: the store)."""

    try:
        with open_elf(path) as reader:
            facts = reader.facts
            origin = os.path.dirname(path)
            runpath = tuple(e.replace("$ORIGIN", origin).replace("${ORIGIN}", origin)
                            for e in (facts.runpath or facts.rpath))
            return Exports(reader), tuple(d for d in runpath if d.startswith("/"))
    except InputError:
        return None


def _system(library: str, musl: bool) -> Provider:
    if musl:
        return Provider(library, UNKNOWN, why="musl's exports are not in abicheck's data")
    if library in GLIBC_LIBRARIES or is_loader(library) or library == "ld.so":
        return Provider(library, GLIBC)
    if library in CXX_RUNTIME:
        return Provider(library, CXX)
    return Provider(library, UNKNOWN, why="a system library abicheck has no export data for")


def symbol_scope(ctx: LoadContext) -> list[Provider]:
    """The libraries the object's imports are looked up in, in the loader's order."""
    facts = ctx.facts
    musl = is_musl(facts)
    order: list[Provider] = []
    seen: set[str] = set()
    if facts.interpreter is None and not musl:  # a library or extension: CPython's own libraries come first
        for lib in PROGRAM_LIBRARIES:
            seen.add(lib)
            order.append(_system(lib, musl))
    queue: deque[Resolved] = deque(ctx.resolved)
    torch = ctx.target.torch if not ctx.target.torch_not_checked else None
    while queue:
        r = queue.popleft()
        if r.library in seen:
            continue
        seen.add(r.library)
        if r.how == SYSTEM and r.where and r.where.startswith("/"):  # --target nix: a library on this machine
            found = on_disk(r.where)
            if found is None:
                order.append(Provider(r.library, UNKNOWN, why=f"{r.where} cannot be read", where=r.where))
                continue
            exports, runpath = found
            order.append(Provider(r.library, ON_DISK, exports, where=r.where))
            for lib in exports.needed:
                place = next((os.path.join(d, lib) for d in runpath if os.path.isfile(os.path.join(d, lib))), None)
                queue.append(Resolved(lib, SYSTEM, place))
        elif r.how == SYSTEM:
            order.append(_system(r.library, musl))
        elif r.how == SHIPPED and r.where:
            peer = ctx.peer(r.where)
            tables = peer[0].tables if peer is not None else None
            if tables is None or tables.exports is None:
                why = tables.exports_why if tables is not None and tables.exports_why else "its tables were not read"
                order.append(Provider(r.library, UNKNOWN, why=why, where=r.where))
            else:
                order.append(Provider(r.library, SHIPPED_LIB, tables.exports, where=r.where))
            if peer is not None:
                queue.extend(peer[1])
        elif r.how == DEPENDENCY and r.where == "torch" and torch is not None and r.library in torch.libraries:
            exports = torch.exports(r.library)
            order.append(Provider(r.library, TORCH, exports) if exports is not None
                         else Provider(r.library, UNKNOWN, why=f"not in torch {torch.version}"))
            queue.extend(_needed(ctx, torch.needed_of(r.library)))
        elif r.how == DEPENDENCY and (at_hand := _at_hand(ctx, r.library)) is not None:
            order.append(at_hand)
            queue.extend(_needed(ctx, at_hand.exports.needed))
        elif r.how == DEPENDENCY and r.where != "torch" and (found := _runtime(ctx, r.library)) is not None:
            order.append(found[0])
            queue.extend(_needed(ctx, found[1]))
        elif r.how == DEPENDENCY:
            what = "torch" if r.where == "torch" else r.where
            order.append(Provider(r.library, UNKNOWN, why=f"installed by {what}, not at hand"
                                  + (" (--torch)" if r.where == "torch" else "")))
        else:
            order.append(Provider(r.library, UNKNOWN, why=r.describe().split(": ", 1)[-1]))
    if _is_kernel(ctx):
        order.extend(_torch_globals(ctx, seen))
    return order


def _is_kernel(ctx: LoadContext) -> bool:
    obj = ctx.target
    return obj.backend is not None or (obj.variant is not None and obj.variant.framework in ("torch",
                                                                                             "torch-stable-abi"))


def _at_hand(ctx: LoadContext, library: str) -> Provider | None:
    """A library a dependency installs, when that dependency's wheel is among those being checked."""
    dep = ctx.environment.dependencies.get(library)
    exports = ctx.environment.exports_at_hand.get(dep[1]) if dep is not None else None
    return None if exports is None or dep is None else Provider(library, ON_DISK, exports,
                                                                 where=f"{dep[0]}: {dep[1]}")


def _runtime(ctx: LoadContext, library: str) -> tuple[Provider, tuple[str, ...]] | None:
    """A library of a runtime wheel the kernel's torch installs, at the version it pins; and its NEEDED.

    For an installed torch, the library installed beside it, read where it is.
    """
    torch = ctx.target.torch
    if torch is not None and torch.runtime and library in torch.runtime:
        found = on_disk(torch.runtime[library])
        if found is None:
            return None
        exports, _runpath = found
        return Provider(library, ON_DISK, exports, where=torch.runtime[library]), exports.needed
    pins, arch = ctx.environment.torch_installs, ctx.facts.arch
    dep = ctx.environment.dependencies.get(library)
    if pins is None or dep is None or arch is None or dep[0] not in pins:
        return None
    index = runtime_index()
    wheel = index.wheel(dep[0], pins[dep[0]], arch)
    exports = index.exports(wheel, library) if wheel is not None else None
    if wheel is None or exports is None:
        return None
    return Provider(library, RUNTIME, exports, where=f"{dep[0]} {pins[dep[0]]}"), wheel.needed_of(library)


def _needed(ctx: LoadContext, needed: tuple[str, ...]) -> list[Resolved]:
    """The NEEDED entries of a library outside the container (torch's, a runtime's) as the scope walks them:
    torch's own libraries, what torch or the wheel's dependencies install (libcupti), else the system's."""
    torch = ctx.target.torch
    deps = ctx.environment.dependencies
    out = []
    for lib in needed:
        if torch is not None and lib in torch.libraries:
            out.append(Resolved(lib, DEPENDENCY, "torch"))
        elif lib in deps and deps[lib][0] != "torch":
            out.append(Resolved(lib, DEPENDENCY, deps[lib][0]))
        else:
            out.append(Resolved(lib, SYSTEM))
    return out


GLOBAL_DEPS = "libtorch_global_deps.so"


def _torch_globals(ctx: LoadContext, seen: set[str]) -> list[Provider]:
    """What `import torch` has loaded with RTLD_GLOBAL before a kernel: in every kernel's scope.

    torch loads libtorch_global_deps.so with RTLD_GLOBAL, and with it what it
    needs: libgomp and, for a CUDA build, libcudart (torch/__init__.py's
    `_load_global_deps`; its own libraries are loaded by torch._C, locally).
    A kernel may use their symbols without naming them in NEEDED. torch's
    libraries are known from the torch at hand or abicheck's index; the
    runtime's from abicheck's runtime index, for a torch build whose pins the
    data knows. What stays unknown is named, and what only it could define is
    reported as not checked. A torch without libtorch_global_deps.so (a
    stand-in) is taken as loading libtorch, libtorch_cpu and libc10 globally.
    """
    obj = ctx.target
    torch = obj.torch if not obj.torch_not_checked else None
    if torch is None:
        return [Provider("torch's libraries", UNKNOWN,
                         why="loaded by `import torch` before a kernel; no torch at hand (--torch)")]
    out: list[Provider] = []
    roots = (GLOBAL_DEPS,) if GLOBAL_DEPS in torch.libraries else ("libtorch.so", "libtorch_cpu.so", "libc10.so")
    queue: deque[Resolved] = deque(Resolved(lib, DEPENDENCY, "torch") for lib in roots if lib in torch.libraries)
    runtime_missing = False
    musl = is_musl(ctx.facts)
    while queue:
        r = queue.popleft()
        lib = r.library
        if lib in seen:
            continue
        seen.add(lib)
        if lib in torch.libraries:
            exports = torch.exports(lib)
            if exports is not None and lib != GLOBAL_DEPS:
                out.append(Provider(lib, TORCH, exports))
            queue.extend(_needed(ctx, torch.needed_of(lib)))
        elif (found := _runtime(ctx, lib)) is not None:
            out.append(found[0])
            queue.extend(_needed(ctx, found[1]))
        elif lib in ctx.environment.dependencies:
            runtime_missing = True
        else:
            system = _system(lib, musl)
            if system.kind == UNKNOWN:
                out.append(Provider(lib, UNKNOWN, why="loaded by `import torch`; a system library abicheck has "
                                                      "no export data for"))
    # A CUDA build of torch loads its runtime globally for every kernel, a CPU kernel included.
    backend = obj.backend.backend if obj.backend is not None else None
    backend = backend if backend not in (None, "cpu") else torch.backend
    known = ctx.environment.torch_installs is not None or bool(torch.runtime)
    if backend != "cpu" and (not known or runtime_missing):
        out.append(Provider(f"torch's {backend} runtime", UNKNOWN,
                            why=f"loaded by `import torch` with torch's {backend} build; its exports are not at hand"))
    return out


def resolve_object_imports(ctx: LoadContext, scope: list[Provider],
                           groups: tuple[tuple[str, list[Provider]], ...] = ()) -> ImportResult | None:
    """Every non-weak import of the object looked up in its load scope (`symbol_scope`); None when its imports
    were not read.

    An object only ever loaded as a dependency of others (`groups`: the root
    and scope of each dlopen group it is loaded in) binds in a group's scope:
    ld.so looks a symbol up in the global scope and then in the whole
    breadth-first tree of the object dlopen was given (MKL's layered
    libraries, mpich's libucm loaded by libucs). It is reported missing when
    it is missing in every group. Missing in some groups only, it binds only
    when a group that defines it is loaded first (ld.so relocates an object
    once, in the first group that loads it): that depends on the order
    Python imports them in, and is not checked, and said so. An import that
    another object of the same wheel or tree defines, outside every scope,
    binds only if Python code loads that object with RTLD_GLOBAL first: that
    is not checked either.

    The CPython API is the interpreter's (the stable-ABI rules judge it); torch's
    own symbols are AB308's and AB310's (a kernel meets the torch of its
    variant, loaded by `import torch` before it), unless the object ships with
    torch's libraries: torch's own wheel.
    """
    tables = ctx.object.tables
    if tables is None:
        return None
    inside_torch = any(p.kind == SHIPPED_LIB and p.library.startswith(TORCH_LIBRARIES) for p in scope)
    executable = ctx.facts.interpreter is not None

    def skip(name: str) -> bool:
        if not executable and name.startswith(("Py", "_Py")):
            return True
        return not inside_torch and is_torch_symbol(name)

    if groups:
        result = ImportResult()
        missing: dict[tuple[str, str | None, str | None], list[Provider]] = {}
        lacking: dict[tuple[str, str | None, str | None], list[str]] = {}  # the roots of the groups lacking it
        grouped = group_imports(tables.imports, skip)  # once: only the scope differs from group to group
        memo: Memo = {}
        for root, group in groups:
            found = resolve_grouped(grouped, group, ctx.facts.arch, ctx.target.policy, memo)
            result.checked = max(result.checked, found.checked)
            for name, version, library, searched in found.missing:
                missing.setdefault((name, version, library), searched)
                lacking.setdefault((name, version, library), []).append(root)
            for library, (count, why) in found.unknown.items():
                result.unknown.setdefault(library, (count, why))
        for key, roots in lacking.items():
            binding = [root for root, _group in groups if root not in roots]
            if binding:  # some groups define it: it binds if one of them is loaded first
                del missing[key]
                _unknown(result, binding[0], f"defined in the load group of {binding[0]} but not of {roots[0]}: "
                                             f"bound only if {binding[0]} is loaded first (ld.so binds an "
                                             "object's imports once, in the first group that loads it)", 1)
                result.checked -= 1
        result.missing = [(*key, searched) for key, searched in sorted(missing.items(), key=lambda m: m[0][0])]
    else:
        result = resolve_imports(tables.imports, scope, ctx.facts.arch, skip, ctx.target.policy)
    _outside_scope(ctx, result)
    if not executable and left_to_its_loader(ctx.relpath, bool(groups)):
        _for_its_loader(result)
    if ctx.object.python_imports and not executable:
        result.python_defined = _defined_by_libraries(set(ctx.object.python_imports), scope, ctx.facts.arch)
    return result


def _for_its_loader(result: ImportResult) -> None:
    """A shared library nothing in its wheel or tree loads is linked or loaded by someone else (MKL's layers,
    left underlinked on purpose; MPI glue): what that one loads first may define its unversioned imports."""
    why = ("a library nothing here loads, left for what links or loads it to define (an underlinked layer, such "
           "as MKL's threading and BLACS libraries)")
    kept = []
    for entry in result.missing:
        if entry[1] is None:
            _unknown(result, "what loads it", why, 1)
            result.checked -= 1
        else:
            kept.append(entry)
    result.missing = kept


def _outside_scope(ctx: LoadContext, result: ImportResult) -> None:
    """Missing imports another object of the container defines: they bind only if Python loads it globally."""
    if not result.missing:
        return
    names = {name for name, _v, _l, _s in result.missing}
    in_scope = {p.where for _n, _v, _l, searched in result.missing for p in searched if p.kind == SHIPPED_LIB}
    for relpath, (record, _resolved) in sorted(ctx.peers.items()):
        exports = record.tables.exports if record.tables is not None else None
        if relpath == ctx.relpath or relpath in in_scope or exports is None or not names:
            continue
        defined = exports.defined(names)
        if not defined:
            continue
        why = (f"defined by {relpath}, which it does not load: found only if Python code loads that first with "
               "RTLD_GLOBAL (ctypes, sys.setdlopenflags), which abicheck cannot see")
        kept = []
        for entry in result.missing:
            if entry[0] in defined and (entry[1] is None or exports.defines(entry[0], entry[1])):
                _unknown(result, relpath, why, 1)
                result.checked -= 1
            else:
                kept.append(entry)
        result.missing = kept
        names -= defined


def _defined_by_libraries(names: set[str], scope: list[Provider], arch: str | None) -> frozenset[str]:
    """Which of `names` a library of the scope other than the C library defines (PySide's PySideProperty_*)."""
    found: set[str] = set()
    for provider in scope:
        if provider.kind in (SHIPPED_LIB, ON_DISK, TORCH, RUNTIME) and names - found:
            found |= provider.defined(arch, names - found, None) or set()
    return frozenset(found)


def resolve_imports(imports: Iterable[Import], scope: list[Provider], arch: str | None,
                    skip: Callable[[str], bool], policy: Policy | None = None) -> ImportResult:
    """Look each import up in `scope`, as ld.so would bind it (on a system of `policy`, when given).

    Imports are grouped by the library and version they need, so each group
    costs one set operation per library rather than a lookup per symbol.
    """
    return resolve_grouped(group_imports(imports, skip), scope, arch, policy)


Grouped = tuple[dict[tuple[str, str], set[str]], set[str]]  # (library, version) -> names; unversioned names


def group_imports(imports: Iterable[Import], skip: Callable[[str], bool]) -> Grouped:
    """The imports not skipped, versioned ones grouped by the library and version they need."""
    versioned: dict[tuple[str, str], set[str]] = {}
    unversioned: set[str] = set()
    for name, version, library in imports:
        if skip(name):
            continue
        if version is not None and library is not None:
            versioned.setdefault((library, version), set()).add(name)
        else:
            unversioned.add(name)
    return versioned, unversioned


Memo = dict[tuple[str | None, str, str, str | None, int, str | None], "set[str] | None"]


def resolve_grouped(grouped: Grouped, scope: list[Provider], arch: str | None,
                    policy: Policy | None = None, memo: Memo | None = None) -> ImportResult:
    """`resolve_imports` on imports already grouped. With `memo`, shared by the scopes of one object's dlopen
    groups (the same libraries, met again from another root), each library is asked once per version."""
    versioned, unversioned = grouped
    result = ImportResult()
    by_name = {p.library: p for p in scope}

    def defined(provider: Provider, names: set[str], need: str | None, version: str | None) -> set[str] | None:
        if memo is None:
            return provider.defined(arch, names, version, policy if version is None else None)
        # the names are the same for the same need: versioned, those of (need, version); unversioned, all
        key = (need, provider.library, provider.kind, provider.where, id(provider.exports), version)
        if key not in memo:  # unversioned: asked of all the object's names, so that any scope can reuse it
            memo[key] = provider.defined(arch, names if version is not None else unversioned, version,
                                         policy if version is None else None)
        return memo[key]

    for (library, version), names in versioned.items():
        provider = by_name.get(library) or (by_name.get("ld.so") if is_loader(library) else None)
        if provider is not None and provider.kind in (SHIPPED_LIB, ON_DISK) and not provider.exports.has_version(
                version):
            result.checked += len(names)  # the library lacks the whole version: AB311 names it once
            continue
        found = defined(provider, names, library, version) if provider is not None else None
        if found is None:
            why = "not in the object's load scope" if provider is None else (
                provider.why or f"its {version} exports are not in abicheck's data")
            _unknown(result, library, why, len(names))
            continue
        result.checked += len(names)
        assert provider is not None  # found is None without one
        result.missing.extend((name, version, library, [provider]) for name in sorted(names - found))
    # Unversioned: defined anywhere in the scope binds (the order only decides which definition wins).
    remaining = unversioned
    unknown: list[Provider] = []
    for provider in scope:
        if not remaining:
            break
        found = defined(provider, remaining, None, None)
        if found is None:
            unknown.append(provider)
        elif found:
            remaining = remaining - found
    result.checked += len(unversioned) - len(remaining)
    if remaining and unknown:
        first = unknown[0]
        _unknown(result, first.library, first.why or "its exports are not in abicheck's data", len(remaining))
    elif remaining:
        result.checked += len(remaining)
        result.missing.extend((name, None, None, scope) for name in sorted(remaining))
    return result


def _unknown(result: ImportResult, library: str, why: str, count: int) -> None:
    before, _why = result.unknown.get(library, (0, why))
    result.unknown[library] = (before + count, why)
