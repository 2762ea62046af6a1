"""The Python stable ABI: which `Py*` symbols it has, and since which Python.

The facts come from the `abi3info` package, which is generated from CPython's
own `Misc/stable_abi.toml`; it is imported only when an abi3 object is checked.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def stable_symbols() -> dict[str, tuple[int, int]]:
    """Symbol name -> the Python version that added it to the stable ABI."""
    import abi3info

    table: dict[str, tuple[int, int]] = {}
    for mapping in (abi3info.FUNCTIONS, abi3info.DATAS):
        for symbol, entry in mapping.items():
            table[symbol.name] = (entry.added.major, entry.added.minor)
    return table


def is_python_api(name: str) -> bool:
    """Names the stable-ABI rules judge: the C API's `Py*` and `_Py*` symbols."""
    return name.startswith(("Py", "_Py"))
