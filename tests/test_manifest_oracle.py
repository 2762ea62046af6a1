"""The manifest of expected facts still matches what binutils readelf reports.

readelf is the independent oracle: the manifest was written from its output by
testdata/tools/make_manifest.py, and the reader tests compare abicheck with the
manifest. If a binary is rebuilt without refreshing the manifest, this fails.
"""

from __future__ import annotations

import pytest
from conftest import BIN, TESTDATA, bin_path
from readelf_facts import facts, is_elf_per_readelf


def _entries():
    import json

    return sorted(json.loads((TESTDATA / "manifest.json").read_text()).items())


def test_manifest_lists_every_committed_binary(manifest):
    """Every ELF test binary (and bad input); the macOS and Windows ones have their own oracles (test_foreign)."""
    on_disk = {str(p.relative_to(TESTDATA)) for p in BIN.rglob("*")
               if p.is_file() and p.parent.name not in ("macos", "windows")}
    assert on_disk == set(manifest)
    assert any(BIN.glob("macos/*")) and any(BIN.glob("windows/*"))


@pytest.mark.requires("readelf")
@pytest.mark.parametrize(("rel", "expected"), _entries(), ids=lambda v: v if isinstance(v, str) else "")
def test_manifest_matches_readelf(rel, expected):
    path = bin_path(rel.removeprefix("bin/"))
    if expected.get("bad"):
        assert not is_elf_per_readelf(path)
        return
    actual = facts(path)
    if actual["sectionless"]:
        # readelf cannot show version tables without sections; the manifest
        # takes them from the twin the file was cut from (checked here too).
        twin = facts(bin_path(expected["versions_from"].removeprefix("bin/")))
        actual["version_needs"] = twin["version_needs"]
        actual["versioned_imports"] = twin["versioned_imports"]
        actual["versions_from"] = expected["versions_from"]
    assert actual == expected


def test_oracle_sees_the_violations_the_tests_rely_on(manifest):
    """Guard the premises of the rule tests, in readelf's own words."""
    host = manifest["bin/x86_64/newglibc.so"]
    assert "pthread_join@GLIBC_2.34" in host["versioned_imports"]
    assert "arc4random@GLIBC_2.36" in host["versioned_imports"]
    zig = manifest["bin/x86_64/portable-glibc228.so"]
    numbers = [tuple(int(x) for x in v.removeprefix("GLIBC_").split("."))
               for versions in zig["version_needs"].values() for v, _weak in versions]
    assert numbers and max(numbers) <= (2, 28)
    assert manifest["bin/x86_64/weakref.so"]["version_needs"]["libc.so.6"] == [
        ["GLIBC_2.2.5", False], ["GLIBC_2.36", True]]
