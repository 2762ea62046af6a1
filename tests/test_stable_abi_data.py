"""policies/stable-abi.json against its source, the abi3info package."""

from __future__ import annotations

import abi3info

from abicheck.policy.stable_abi import stable_symbols


def _abi3info_table() -> dict[str, tuple[int, int]]:
    return {symbol.name: (entry.added.major, entry.added.minor)
            for mapping in (abi3info.FUNCTIONS, abi3info.DATAS) for symbol, entry in mapping.items()}


def test_shipped_table_agrees_with_abi3info():
    ours, source = stable_symbols(), _abi3info_table()
    assert len(ours) > 900 and ours["PyType_FromMetaclass"] == (3, 12)
    # Every shipped entry is in abi3info with the same version ...
    assert {name: source.get(name) for name in ours} == ours
    # ... and nothing abi3info has for the Pythons the table covers is missing.
    # (A newer abi3info may add later Pythons' symbols: regenerate then.)
    newest = max(ours.values())
    assert {name for name, added in source.items() if added <= newest} == set(ours)

