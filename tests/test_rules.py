"""Each rule on the real test binaries, through the library API."""

from __future__ import annotations

import pytest
from conftest import bin_path

import abicheck
from abicheck.errors import UsageError
from abicheck.rules import all_rules, get_rule, selected_codes


def codes(report):
    return sorted({f.code for f in report.findings})


def symbols(report, code="AB101"):
    return sorted(f"{f.symbol}@{f.version}" for f in report.findings if f.code == code and f.symbol)


# --- AB101 --------------------------------------------------------------------

def test_host_built_object_lists_every_too_new_symbol_as_readelf_shows(manifest):
    report = abicheck.check([bin_path("x86_64/newglibc.so")])
    assert report.exit_code == 1
    too_new = [s for s in manifest["bin/x86_64/newglibc.so"]["versioned_imports"]
               if tuple(map(int, s.split("@GLIBC_")[1].split("."))) > (2, 28)]
    assert symbols(report) == sorted(too_new)
    assert "pthread_join@GLIBC_2.34" in symbols(report)
    join = next(f for f in report.findings if f.symbol == "pthread_join")
    assert join.library == "libc.so.6" and "manylinux_2_28" in join.message and join.hint


@pytest.mark.parametrize("twin", ["x86_64/newglibc.stripped.so", "x86_64/newglibc.nosections.so"])
def test_stripped_twins_give_the_same_findings(twin):
    full = abicheck.check([bin_path("x86_64/newglibc.so")])
    stripped = abicheck.check([bin_path(twin)])
    assert [(f.code, f.symbol, f.version, f.library) for f in stripped.findings] == \
           [(f.code, f.symbol, f.version, f.library) for f in full.findings]


def test_zig_glibc_228_object_is_clean():
    for rel in ("x86_64/portable-glibc228.so", "x86_64/portable-glibc228.stripped.so",
                "aarch64/portable-glibc228.so", "i686/portable-glibc228.so", "s390x/portable-glibc228.so"):
        report = abicheck.check([bin_path(rel)])
        assert report.exit_code == 0, (rel, report.findings)


def test_cxx_object_needs_newer_libstdcxx():
    report = abicheck.check([bin_path("x86_64/newcxx.so")])
    versions = {f.version for f in report.findings}
    assert versions == {"GLIBCXX_3.4.26", "GLIBCXX_3.4.29"}
    assert all(f.library == "libstdc++.so.6" for f in report.findings)
    assert "libstdc++" in report.findings[0].hint


def test_weak_version_need_is_not_fatal():
    assert abicheck.check([bin_path("x86_64/weakref.so")]).exit_code == 0


def test_newer_policy_accepts_what_the_older_rejects():
    assert abicheck.check([bin_path("x86_64/newglibc.so")], policy="manylinux_2_36").exit_code == 0
    report = abicheck.check([bin_path("x86_64/newglibc.so")], policy="manylinux_2_34")
    assert symbols(report) == ["arc4random@GLIBC_2.36"]


def test_cross_built_objects_are_checked_against_their_own_arch():
    report = abicheck.check([bin_path("aarch64/newglibc.so")])
    assert "pthread_join@GLIBC_2.34" in symbols(report)
    assert all(a.arch == "aarch64" for a in report.artifacts)


# --- AB102 --------------------------------------------------------------------

def test_blacklisted_zlib_symbol():
    report = abicheck.check([bin_path("x86_64/zlib-internal.so")])
    assert codes(report) == ["AB102"]
    assert report.findings[0].symbol == "_dist_code" and report.findings[0].library == "libz.so.1"


# --- AB201 / AB202 ---------------------------------------------------------------

def test_wheel_target_rejects_store_interpreter_and_accepts_fhs():
    assert codes(abicheck.check([bin_path("x86_64/tool-nix")], select=["AB2"])) == ["AB201"]
    assert abicheck.check([bin_path("x86_64/tool")], select=["AB2"]).exit_code == 0


def test_nix_target_rejects_fhs_interpreter_and_accepts_store():
    assert codes(abicheck.check([bin_path("x86_64/tool")], target="nix", select=["AB2"])) == ["AB201"]
    assert abicheck.check([bin_path("x86_64/tool-nix")], target="nix", select=["AB2"]).exit_code == 0


@pytest.mark.parametrize(("rel", "wheel_entries", "nix_entries"), [
    ("x86_64/runpath-origin.so", [], []),
    ("x86_64/rpath-absolute.so", ["/opt/vendor/lib"], ["/opt/vendor/lib"]),
    ("x86_64/runpath-nix.so", ["/nix/store/7q3ycwxx4q1rzfb7imfcj1xyz3zq0yl8-zlib-1.3.1/lib"], []),
    ("x86_64/runpath-usr.so", ["/usr/lib64", "/build/source/build"], ["/usr/lib64", "/build/source/build"]),
])
def test_rpath_entries_per_target(rel, wheel_entries, nix_entries):
    for target, expected in (("wheel", wheel_entries), ("nix", nix_entries)):
        report = abicheck.check([bin_path(rel)], target=target, select=["AB202"])
        assert [f.details["entry"] for f in report.findings] == expected, target


# --- AB401 ----------------------------------------------------------------------

def test_arch_option_catches_a_cross_build_leftover():
    report = abicheck.check([bin_path("aarch64/portable-glibc228.so")], arch="x86_64")
    assert codes(report) == ["AB401"]
    assert "aarch64" in report.findings[0].message and "x86_64" in report.findings[0].message


def test_big_endian_and_32_bit_are_told_apart():
    report = abicheck.check([bin_path("s390x/portable-glibc228.so"), bin_path("i686/portable-glibc228.so")],
                            arch="x86_64", select=["AB401"])
    assert len(report.findings) == 2
    assert abicheck.check([bin_path("i686/portable-glibc228.so")], arch="i686").exit_code == 0


def test_policy_that_does_not_cover_the_arch():
    report = abicheck.check([bin_path("riscv64/newglibc.so")])
    assert "AB401" in codes(report)
    assert "riscv64" in next(f for f in report.findings if f.code == "AB401").message
    # With a policy that covers riscv64, the symbol findings appear instead.
    assert "pthread_join@GLIBC_2.34" in symbols(abicheck.check([bin_path("riscv64/newglibc.so")],
                                                               policy="manylinux_2_31"))


# --- selection and registry ----------------------------------------------------

def test_select_and_ignore():
    path = bin_path("x86_64/runpath-usr.so")
    assert codes(abicheck.check([path], ignore=["AB2"])) == []
    assert selected_codes(["AB1"], None) == {"AB101", "AB102"}
    assert selected_codes(["ALL"], ["AB101,AB102"]) >= {"AB201", "AB202", "AB401", "AB402"}
    assert selected_codes(["rpath-outside-package"], None) == {"AB202"}
    with pytest.raises(UsageError, match="matches no rule"):
        selected_codes(["AB9"], None)


def test_every_rule_has_a_code_name_and_explanation():
    seen = set()
    for rule in all_rules():
        assert rule.code not in seen and rule.code.startswith("AB") and len(rule.code) == 5
        seen.add(rule.code)
        assert rule.name and rule.summary and "Fix" in rule.explanation
    assert get_rule("ab101").name == "symbol-version-too-new"
    assert get_rule("interpreter-not-allowed").code == "AB201"
