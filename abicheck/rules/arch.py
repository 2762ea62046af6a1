"""AB401: the object is built for another machine than the one it targets."""

from __future__ import annotations

from collections.abc import Iterator

from abicheck.binary.elf import ARCH_SIGNATURES
from abicheck.context import ObjectContext
from abicheck.report.model import Finding
from abicheck.rules.base import Rule

AB401 = Rule(
    code="AB401",
    name="machine-mismatch",
    summary="The ELF machine, class or byte order does not match the target architecture.",
    explanation="""\
A wheel tagged manylinux_2_28_x86_64 (or a check run with --arch x86_64) must
contain only x86-64, 64-bit, little-endian objects; an aarch64 object left over
from a cross build cannot be loaded there ("wrong ELF class" or "cannot open
shared object file: No such file or directory"). This rule also reports
objects whose architecture the chosen policy does not cover at all (there is
no manylinux_2_28 for riscv64).

Fix: rebuild for the tagged architecture, or tag the wheel for the
architecture it contains; check the cross-compiler the build used.""",
)


def _describe(arch: str) -> str:
    sig = ARCH_SIGNATURES.get(arch)
    if sig is None:
        return arch
    return f"{arch} ({sig[1]}-bit {sig[2]}-endian)"


def check_machine(ctx: ObjectContext) -> Iterator[Finding]:
    facts = ctx.facts
    actual = facts.arch or facts.machine_description
    expected = ctx.expected_arch
    if expected is not None and facts.arch != expected:
        if ctx.expected_arch_source.startswith("the variant"):
            hint = (f"rebuild for {expected} or check the cross-compiler; a {actual} object belongs in the "
                    f"{actual} variant folder")
        else:
            hint = f"rebuild for {expected} or check the cross-compiler; or target {actual} instead"
        yield ctx.finding(
            AB401,
            f"object is {_describe(actual)} but {ctx.expected_arch_source} targets {_describe(expected)}",
            hint,
            details={"actual": actual, "expected": expected, "machine": facts.machine,
                     "class": facts.elf_class, "endian": facts.endian},
        )
        return
    if facts.arch is None:  # x32, or a machine no wheel tag names
        yield ctx.finding(
            AB401,
            f"object is {facts.machine_description}, which no manylinux or musllinux policy covers",
            "rebuild for an architecture the wheel tags name (x86_64, aarch64, ...); for x86-64 drop -mx32",
            details={"actual": actual, "machine": facts.machine, "class": facts.elf_class,
                     "endian": facts.endian})
        return
    if ctx.policy.arches and facts.arch not in ctx.policy.arches:
        covers = ", ".join(ctx.policy.arches)
        yield ctx.finding(
            AB401,
            f"{ctx.policy.name} does not cover {facts.arch} (it covers {covers})",
            f"choose a policy that covers {facts.arch} (abicheck policies --arch {facts.arch})",
            details={"actual": facts.arch, "policy": ctx.policy.name},
        )


RULES = [AB401]
CHECKS = [(check_machine, [AB401])]
