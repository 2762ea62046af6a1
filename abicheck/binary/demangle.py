"""C++ symbol demangling, through the `cpp-demangle` package.

cpp-demangle binds the Rust `cpp_demangle` crate (maintained by the gimli-rs
project): a complete Itanium-ABI demangler that needs no system libstdc++ or
binutils. If it is missing or a name does not parse, the mangled name is used.
"""

from __future__ import annotations

from functools import lru_cache

try:  # an optional nicety: C++ names are shown mangled without it
    import cpp_demangle
except ImportError:  # pragma: no cover
    cpp_demangle = None


@lru_cache(maxsize=4096)
def demangle(name: str) -> str | None:
    """The demangled form of an Itanium C++ name (`_Z...`), else None."""
    if not name.startswith("_Z"):
        return None
    if cpp_demangle is None:
        return None
    try:
        return str(cpp_demangle.demangle(name))
    except ValueError:
        return None
