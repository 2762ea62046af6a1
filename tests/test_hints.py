"""AB101 fix hints: rebuild, code change or toolchain, with the exact older binding."""

from __future__ import annotations

import glob
import json
import os

import jsonschema
import pytest
from conftest import ROOT, bin_path, run_cli

import abicheck
from abicheck.binary.elf import open_elf
from abicheck.policy import glibc_symbols
from abicheck.policy.manylinux import numeric


def by_symbol(report):
    return {f.symbol: f for f in report.findings if f.code == "AB101"}


# symbol -> the older library the glibc 2.28 build binds it in
OLDER_HOMES = {"pthread_join": "libpthread.so.0", "pthread_create": "libpthread.so.0", "dlopen": "libdl.so.2",
               "exp": "libm.so.6", "log": "libm.so.6", "pow": "libm.so.6"}


@pytest.mark.parametrize(("symbol", "binding"),
                         [(name, f"{name}@GLIBC_2.2.5 in {home}") for name, home in OLDER_HOMES.items()])
def test_rebuild_hints_name_the_older_binding(symbol, binding):
    finding = by_symbol(abicheck.check([bin_path("x86_64/newglibc.so")]))[symbol]
    assert finding.hint_kind == "rebuild"
    assert "rebuild against glibc 2.28" in finding.hint and binding in finding.hint


def test_code_change_hint_for_a_symbol_glibc_228_lacks():
    finding = by_symbol(abicheck.check([bin_path("x86_64/newglibc.so")]))["arc4random"]
    assert finding.hint_kind == "code-change"
    assert finding.hint.startswith("code change: arc4random was added in glibc 2.36")


def test_hints_follow_the_architecture_and_policy():
    aarch64 = by_symbol(abicheck.check([bin_path("aarch64/newglibc.so")]))
    assert "pthread_join@GLIBC_2.17 in libpthread.so.0" in aarch64["pthread_join"].hint
    # Against manylinux_2_17 exp@2.29 still rebuilds to the aarch64 baseline.
    old = by_symbol(abicheck.check([bin_path("aarch64/newglibc.so")], policy="manylinux_2_17"))
    assert old["exp"].hint_kind == "rebuild" and "exp@GLIBC_2.17 in libm.so.6" in old["exp"].hint


def test_cxx_symbols_are_demangled_in_text_and_mangled_in_json():
    done = run_cli("check", bin_path("x86_64/newcxx.so"))
    assert "std::to_chars(char*, char*, double)@GLIBCXX_3.4.29" in done.stdout
    assert "toolchain: needs libstdc++ from GCC 11.1.0; manylinux_2_28 has GCC 7.2.0's" in done.stdout
    assert "-static-libstdc++" in done.stdout
    data = json.loads(run_cli("check", "--format", "json", bin_path("x86_64/newcxx.so")).stdout)
    jsonschema.validate(data, json.loads((ROOT / "docs/report-v1.schema.json").read_text()))
    to_chars = next(f for a in data["artifacts"] for f in a["findings"] if f["symbol"] == "_ZSt8to_charsPcS_d")
    assert to_chars["demangled"] == "std::to_chars(char*, char*, double)"
    assert to_chars["hint_kind"] == "toolchain"


def test_json_carries_the_hint_kind():
    data = json.loads(run_cli("check", "--format", "json", bin_path("x86_64/newglibc.so")).stdout)
    kinds = {f["symbol"]: f["hint_kind"] for a in data["artifacts"] for f in a["findings"]}
    assert kinds["arc4random"] == "code-change" and kinds["pthread_join"] == "rebuild"


def test_show_summarises_what_it_takes_to_reach_the_policy():
    done = run_cli("show", bin_path("x86_64/newglibc.so"), bin_path("x86_64/newcxx.so"))
    assert ("to reach manylinux_2_28: 6 symbols fixed by rebuilding, 1 needing code changes (arc4random)"
            in done.stdout)
    assert "5 needing an older or static C++ runtime" in done.stdout
    data = json.loads(run_cli("show", "--format", "json", "--policy", "manylinux_2_34",
                              bin_path("x86_64/newglibc.so")).stdout)
    reach = data["objects"][0]["to_reach"]
    assert reach == {"policy": "manylinux_2_34", "rebuild": 0, "code-change": 1, "toolchain": 0,
                     "code_change_symbols": ["arc4random"]}


def test_symbol_data_is_compact_and_names_its_source():
    path = ROOT / "policies" / "glibc-symbols.json"
    assert path.stat().st_size < 300_000
    assert "ziglang" in glibc_symbols.source()


def _host_glibc_versions() -> dict[str, set[str]]:
    """Symbol -> GLIBC_ versions the host's own glibc (x86_64) exports."""
    exported: dict[str, set[str]] = {}
    libdir = "/lib/x86_64-linux-gnu"
    for name in ("libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1",
                 "libresolv.so.2", "ld-linux-x86-64.so.2"):
        with open_elf(os.path.join(libdir, name)) as reader:
            for sym in reader.exports():
                if sym.version and sym.version.startswith("GLIBC_2"):
                    exported.setdefault(sym.name, set()).add(sym.version.removeprefix("GLIBC_"))
    return exported


def test_symbol_data_agrees_with_the_hosts_real_glibc():
    """An independent oracle: the host's glibc binaries (Debian 12: glibc 2.36, x86_64)."""
    assert glob.glob("/lib/x86_64-linux-gnu/libc.so.6"), "the x86_64 host glibc is required"
    with open_elf("/lib/x86_64-linux-gnu/libc.so.6") as libc:
        host_release = max(numeric(v.removeprefix("GLIBC_")) for v in libc.version_definitions().values()
                           if v.startswith("GLIBC_2"))
    exported = _host_glibc_versions()
    table = json.loads((ROOT / "policies" / "glibc-symbols.json").read_text())["symbols"]
    checked = 0
    gone = []
    for symbol in table:
        ours = {v for _lib, v in glibc_symbols.bindings("x86_64", symbol) or () if numeric(v) <= host_release}
        if ours and symbol not in exported:
            gone.append(symbol)  # the ABI lists keep what a release once had; glibc 2.34 dropped a few
        elif ours:
            assert ours <= exported[symbol], symbol
            checked += 1
    assert checked > 2000
    # glibc 2.34 removed the long-deprecated malloc state functions; nothing else is missing
    assert gone == ["malloc_get_state", "malloc_set_state"]
    # The other way round: everything the host exports is in the data, baseline symbols
    # included (the GLIBC_2.x and *_version_placeholder markers aside).
    missing = [s for s in exported
               if not s.startswith("GLIBC_") and not s.endswith("_version_placeholder")
               and not glibc_symbols.bindings("x86_64", s)]
    assert missing == []


def test_symbols_that_new_headers_put_in_are_fixed_by_a_rebuild():
    """__libc_single_threaded (libstdc++'s headers) and __isoc23_* (glibc 2.38's): no code change needed."""
    report = abicheck.check([bin_path("x86_64/shared-counter.so")])
    (single,) = [f for f in report.findings if f.symbol == "__libc_single_threaded"]
    assert single.hint_kind == "rebuild" and "<ext/atomicity.h>" in single.hint
    from abicheck.policy.manylinux import load_policy
    from abicheck.rules.hints import hint_for

    hint = hint_for("__isoc23_strtol", "GLIBC_2.38", "libc.so.6", load_policy("manylinux_2_28"), "x86_64")
    assert hint.kind == "rebuild" and "calls strtol" in hint.text
    # A symbol glibc 2.28 lacks and no header brings in still needs a code change.
    assert hint_for("arc4random", "GLIBC_2.36", "libc.so.6", load_policy("manylinux_2_28"), "x86_64").kind == \
        "code-change"


def test_the_header_symbol_data_matches_the_headers_it_came_from():
    """Every __isoc23_ name is a real glibc symbol of 2.38 or later, and libstdc++'s use is in its header."""
    data = json.loads((ROOT / "policies" / "header-symbols.json").read_text())
    assert len(data["isoc23"]) > 20 and data["generated"]
    for name, plain in data["isoc23"].items():
        assert name == f"__isoc23_{plain}" or name == f"__isoc23_{plain}ieee128"
    x86 = [n for n in data["isoc23"] if glibc_symbols.bindings("x86_64", n)]
    assert x86 and all(numeric(glibc_symbols.introduced("x86_64", n).split("_")[-1]) >= (2, 38) for n in x86)
    assert "__libc_single_threaded" in data["libstdcxx"]
    assert glibc_symbols.introduced("x86_64", "__libc_single_threaded") == "2.32"
