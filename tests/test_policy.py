"""Policies loaded from auditwheel's JSON and version comparison."""

from __future__ import annotations

import pytest

from abicheck.errors import UsageError
from abicheck.policy.manylinux import all_policies, load_policy, most_compatible, numeric, split_version


def test_manylinux_2_28_x86_64_limits_match_the_published_policy():
    policy = load_policy("manylinux_2_28")
    limits = policy.limits_for("x86_64")
    assert limits["GLIBC"].maximum == (2, 28)
    assert limits["GLIBCXX"].maximum == (3, 4, 24)
    assert limits["CXXABI"].maximum == (1, 3, 11)
    assert limits["GCC"].maximum == (7, 0, 0)
    assert {"TM_1", "FLOAT128"} <= limits["CXXABI"].names


@pytest.mark.parametrize(("version", "allowed"), [
    ("GLIBC_2.28", True),
    ("GLIBC_2.3.4", True),     # numerically below 2.28, though "2.3.4" > "2.28" as text
    ("GLIBC_2.19", True),      # absent from the JSON (no x86_64 symbols) but older than 2.28
    ("GLIBC_2.29", False),
    ("GLIBC_2.34", False),
    ("GLIBC_PRIVATE", False),  # not a number: membership only
    ("GLIBCXX_3.4.24", True),
    ("GLIBCXX_3.4.26", False),
    ("CXXABI_TM_1", True),
    ("CXXABI_FLOAT128", True),
    ("CXXABI_1.3.13", False),
    ("GCC_7.0.0", True),
    ("GCC_12.1.0", False),
])
def test_version_comparison(version, allowed):
    lib = "libstdc++.so.6" if version.startswith(("GLIBCXX", "CXXABI")) else "libc.so.6"
    assert load_policy("manylinux_2_28").allows_version("x86_64", lib, version) is allowed


def test_versions_from_libraries_outside_the_policy_are_not_judged():
    policy = load_policy("manylinux_2_28")
    assert policy.allows_version("x86_64", "libcudart.so.12", "libcudart.so.12")
    # Even a glibc-looking name is not ours to judge from an unknown library.
    assert policy.allows_version("x86_64", "libvendor.so.3", "GLIBC_2.99")


def test_the_dynamic_loaders_numeric_versions_are_still_checked():
    policy = load_policy("manylinux_2_28")
    assert policy.allows_version("x86_64", "ld-linux-x86-64.so.2", "GLIBC_2.3")
    assert not policy.allows_version("x86_64", "ld-linux-x86-64.so.2", "GLIBC_2.35")


@pytest.mark.parametrize("name", ["manylinux2014", "manylinux_2_17", "manylinux_2_17_x86_64", "manylinux2014_aarch64"])
def test_aliases_and_tags_resolve(name):
    assert load_policy(name).name == "manylinux_2_17"


def test_unknown_policy_lists_the_known_ones():
    with pytest.raises(UsageError, match="manylinux_2_28"):
        load_policy("manylinux_3_0")


def test_policies_are_ordered_most_compatible_first():
    names = [p.name for p in all_policies() if p.family == "manylinux"]
    assert names[0] == "manylinux_2_5" and names.index("manylinux_2_17") < names.index("manylinux_2_28")
    assert any(p.family == "musllinux" for p in all_policies())


def test_most_compatible_picks_the_oldest_policy_that_fits():
    needs = [("libc.so.6", "GLIBC_2.34"), ("libm.so.6", "GLIBC_2.29")]
    assert most_compatible(needs, "x86_64").name == "manylinux_2_34"
    assert most_compatible([], "x86_64").name == "manylinux_2_5"
    assert most_compatible(needs, "riscv64").name == "manylinux_2_34"


def test_version_name_helpers():
    assert split_version("CXXABI_TM_1") == ("CXXABI", "TM_1")
    assert numeric("2.3.4") == (2, 3, 4) and numeric("PRIVATE") is None
