"""Generate policies/stable-abi.json from the `abi3info` package.

abi3info (PyPI) is generated from CPython's own `Misc/stable_abi.toml`, the
list of every function and data symbol in the stable ABI with the Python
version that added it. abicheck needs only `name -> added version`; reading
that from a small JSON file costs about 1 ms, while importing abi3info costs
25-50 ms, which every check of a `.abi3.so` kernel would pay.

Rerun after each CPython feature release (and `pip install -U abi3info`):

    python tools/gen_stable_abi.py > policies/stable-abi.json
"""

from __future__ import annotations

import importlib.metadata
import json
import sys

import abi3info


def main() -> None:
    symbols: dict[str, str] = {}
    for mapping in (abi3info.FUNCTIONS, abi3info.DATAS):
        for symbol, entry in mapping.items():
            symbols[symbol.name] = f"{entry.added.major}.{entry.added.minor}"
    source = f"abi3info {importlib.metadata.version('abi3info')}, from CPython's Misc/stable_abi.toml"
    # One symbol per line: small, and reviewable as a diff when regenerated.
    lines = [f"  {json.dumps(name)}: {json.dumps(added)}" for name, added in sorted(symbols.items())]
    sys.stdout.write("{\n"
                     f'"source": {json.dumps(source)},\n'
                     '"generated_by": "tools/gen_stable_abi.py",\n'
                     '"symbols": {\n' + ",\n".join(lines) + "\n}\n}\n")

if __name__ == "__main__":
    main()
