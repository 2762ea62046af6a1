"""Fix hints for AB101: is a rebuild enough, or must code or toolchain change?

* `rebuild`: the symbol also exists in the policy's glibc at an older version,
  so building against that glibc binds the old one with no code change
  (pthread_join@GLIBC_2.34 -> pthread_join@GLIBC_2.2.5 in libpthread.so.0).
* `code-change`: the symbol does not exist in the policy's glibc at all
  (arc4random, added in 2.36); the code must guard it or do without.
* `toolchain`: a libstdc++/libgcc_s version (GLIBCXX_, CXXABI_, GCC_) from a
  newer GCC than the policy's; link the runtime statically or avoid the
  feature.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from abicheck.policy import glibc_symbols
from abicheck.policy.data import load_json
from abicheck.policy.manylinux import Policy, numeric, split_version

REBUILD, CODE_CHANGE, TOOLCHAIN = "rebuild", "code-change", "toolchain"


class Hint(NamedTuple):
    kind: str
    text: str


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


@lru_cache(maxsize=1)
def _gcc_table() -> dict:
    return load_json("libstdcxx-versions.json")


def gcc_release_for(prefix: str, rest: str) -> str | None:
    """The first GCC release providing `prefix_rest` (GLIBCXX_3.4.29 -> 11.1.0)."""
    if prefix == "GCC":
        number = numeric(rest)
        return f"{number[0]}" if number else None
    return _gcc_table().get(prefix, {}).get(rest)


def _build_recipe(policy: Policy, arch: str | None) -> str:
    libc = policy.libc_version
    if policy.family != "manylinux" or libc is None:
        return f"a {policy.name} build image"
    zig = f", or zig cc -target {arch}-linux-gnu.{libc[0]}.{libc[1]}" if arch else ""
    return f"a {policy.name} build image{zig}"


@lru_cache(maxsize=1)
def _header_symbols() -> dict:
    return load_json("header-symbols.json")


def header_hint(symbol: str, release: str, recipe: str) -> Hint | None:
    """A glibc symbol that newer headers, not the code, put there (`__isoc23_strtol`, `__libc_single_threaded`)."""
    data = _header_symbols()
    plain = data["isoc23"].get(symbol)
    if plain is not None:
        return Hint(REBUILD, f"rebuild against glibc {release} ({recipe}): glibc 2.38's headers turned {plain} "
                             f"into {symbol}; with glibc {release}'s the code calls {plain}, no code change needed")
    used = data["libstdcxx"].get(symbol)
    if used is not None:
        return Hint(REBUILD, f"rebuild against glibc {release} ({recipe}): libstdc++'s <{used['header']}> reads "
                             f"{symbol} only when glibc's headers have it, so no code change is needed")
    return None


def glibc_hint(symbol: str | None, version: str, library: str, policy: Policy, arch: str | None) -> Hint:
    libc = policy.libc_version or (0, 0)
    release = f"{libc[0]}.{libc[1]}"
    recipe = _build_recipe(policy, arch)
    if symbol and (from_headers := header_hint(symbol, release, recipe)) is not None:
        return from_headers
    if symbol and arch and policy.family == "manylinux":
        known = glibc_symbols.bindings(arch, symbol)
        if known:
            older = glibc_symbols.newest_at_most(arch, symbol, libc)
            if older is not None:
                lib, ver = older
                return Hint(REBUILD, f"rebuild against glibc {release} ({recipe}): it binds "
                                     f"{symbol}@GLIBC_{ver} in {lib}, no code change needed")
            added = known[0][1]
            return Hint(CODE_CHANGE, f"code change: {symbol} was added in glibc {added} and does not exist in "
                                     f"glibc <= {release}; guard it (a weak reference checked at run time, or "
                                     "dlsym) or use an alternative")
    return Hint(REBUILD, f"rebuild against glibc {release} ({recipe}) so the linker binds an older "
                         "version, or stop using the symbol")


def toolchain_hint(version: str, library: str, policy: Policy, arch: str | None) -> Hint:
    prefix, rest = split_version(version)
    needed = gcc_release_for(prefix, rest)
    limit = policy.limit_for(arch or "", version)
    allowed = None
    if limit is not None and limit.maximum is not None:
        allowed = gcc_release_for(prefix, _dotted(limit.maximum))
    runtime = "libgcc_s" if prefix == "GCC" else "libstdc++"
    static = "-static-libgcc" if prefix == "GCC" else "-static-libstdc++"
    needs = f"needs {runtime} from GCC {needed}" if needed else f"needs a newer {runtime} ({version})"
    has = f"; {policy.name} has GCC {allowed}'s" if allowed else ""
    return Hint(TOOLCHAIN, f"toolchain: {needs}{has}: link {runtime} statically ({static}) or avoid this "
                           "feature")


def hint_for(symbol: str | None, version: str, library: str, policy: Policy, arch: str | None) -> Hint:
    prefix, _ = split_version(version)
    if prefix in ("GLIBCXX", "CXXABI", "GCC"):
        return toolchain_hint(version, library, policy, arch)
    if prefix == "GLIBC":
        return glibc_hint(symbol, version, library, policy, arch)
    return Hint(REBUILD, f"rebuild against the {library} that {policy.name} allows, or stop using the symbol")
