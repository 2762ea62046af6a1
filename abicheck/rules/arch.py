"""AB401: the object is built for another machine than the one it targets."""

from __future__ import annotations

from collections.abc import Iterator

from abicheck.binary.elf import ARCH_SIGNATURES
from abicheck.report.model import Finding
from abicheck.rules.base import MACOS_AND_WINDOWS, Rule, check
from abicheck.rules.context import ObjectContext

AB401 = Rule(
    code="AB401",
    name="machine-mismatch",
    summary="The object's machine, class, byte order or format does not match its target architecture or OS.",
    explanation="""\
A wheel tagged manylinux_2_28_x86_64 (or a check run with --arch x86_64) must
contain only x86-64, 64-bit, little-endian objects; an aarch64 object left over
from a cross build cannot be loaded there ("wrong ELF class" or "cannot open
shared object file: No such file or directory"). This rule also reports
objects whose architecture the chosen policy does not cover at all (there is
no manylinux_2_28 for riscv64).

The same goes for the object format: an ELF object in a darwin or windows
variant folder, a Mach-O or PE object in a Linux one or in a manylinux
wheel, cannot be loaded there whatever its machine; and for the slices of a
macOS object (a universal2 wheel needs both) and the machine of a Windows one.

Fix: rebuild for the tagged architecture, or tag the wheel for the
architecture it contains; check the cross-compiler the build used.""",
)


def _describe(arch: str) -> str:
    sig = ARCH_SIGNATURES.get(arch)
    if sig is None:
        return arch
    return f"{arch} ({sig[1]}-bit {sig[2]}-endian)"


FORMAT_OF_OS = {"linux": "ELF", "darwin": "Mach-O", "windows": "PE"}


def wrong_format(variant: object | None, fmt: str) -> str | None:
    """The OS a variant names, when an object of format `fmt` (ELF, Mach-O, PE) cannot load there."""
    system = getattr(variant, "os", None)
    if system is None or FORMAT_OF_OS.get(system, fmt) == fmt:
        return None
    return system


def check_machine(ctx: ObjectContext) -> Iterator[Finding]:
    facts = ctx.facts
    system = wrong_format(ctx.variant, "ELF")
    if system is not None and ctx.variant is not None:
        yield ctx.finding(
            AB401, f"is an ELF (Linux) object, but the variant {ctx.variant.name} is for {system}",
            f"build it for {system} ({FORMAT_OF_OS[system]}), or move it to the Linux variant folder",
            details={"format": "ELF", "os": system})
        return
    actual = facts.arch or facts.machine_description
    expected = ctx.target.arches[0] if ctx.target.arches else None
    if expected is not None and facts.arch != expected:
        if ctx.target.arch_source.startswith("the variant"):
            hint = (f"rebuild for {expected} or check the cross-compiler; a {actual} object belongs in the "
                    f"{actual} variant folder")
        else:
            hint = f"rebuild for {expected} or check the cross-compiler; or target {actual} instead"
        yield ctx.finding(
            AB401,
            f"object is {_describe(actual)} but {ctx.target.arch_source} targets {_describe(expected)}",
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


def check_foreign_machine(ctx: ObjectContext) -> Iterator[Finding]:
    """A Mach-O or PE object: its format against its variant and wheel, its slices or machine against the arches."""
    fmt = "Mach-O" if ctx.format == "macho" else "PE"
    system = wrong_format(ctx.variant, fmt)
    if system is not None:
        name = ctx.variant.name if ctx.variant is not None else ""
        yield ctx.finding(
            AB401, f"is a {fmt} ({'macOS' if fmt == 'Mach-O' else 'Windows'}) object, but the variant {name} is for "
                   f"{system}",
            f"build it for {system} ({FORMAT_OF_OS[system]}), or move it to the variant folder of its own OS",
            details={"format": fmt, "os": system})
        return
    linux = [t for t in ctx.target.platforms if t.startswith(("manylinux", "musllinux", "linux_"))]
    if linux:
        yield ctx.finding(
            AB401, f"is a {fmt} ({'macOS' if fmt == 'Mach-O' else 'Windows'}) object in a wheel tagged {linux[0]}",
            "build the wheel's objects for Linux (ELF), or tag the wheel for the platform they are built for",
            details={"format": fmt, "tag": linux[0]})
        return
    arches = ctx.arches()
    for wanted in ctx.target.arches:
        if wanted not in arches:
            have = ", ".join(arches) or "no architecture"
            yield ctx.finding(
                AB401, f"is built for {have}, but {ctx.target.arch_source} needs {wanted}",
                f"build for {wanted}" + (" (lipo -create joins slices into one universal file)"
                                              if ctx.format == "macho" and len(ctx.target.arches) > 1 else ""),
                details={"expected": wanted, "found": arches})


AB405 = Rule(
    code="AB405",
    name="x86-isa-level-too-high",
    summary="The object needs a newer x86-64 ISA level (v2, v3, v4) than the baseline CPUs its policy covers.",
    explanation="""\
An x86-64 object may record the micro-architecture level it was built for in
its GNU property note (GNU_PROPERTY_X86_ISA_1_NEEDED: x86-64-v2 adds SSE4.2
and POPCNT, v3 AVX2, v4 AVX-512), as `gcc -march=x86-64-v3` with
-Wa,-mx86-used-note=yes or `-Wl,-z,x86-64-v3` do. manylinux and musllinux
x86_64 cover every x86-64 CPU, the baseline. On a CPU without the recorded
level, glibc 2.33 and later refuse to load the object:

    .../ext.so: CPU ISA level is lower than required

and older glibc loads it, to die at the first newer instruction (SIGILL).
readelf -n shows the note ("x86 ISA needed: x86-64-v3").

Fix: build for the baseline (-march=x86-64, no -z x86-64-vN), and choose
the faster code at run time (function multiversioning, or a dispatch on
__builtin_cpu_supports); or publish the object only where every CPU has the
level.""",
)

_ISA_LEVELS = ("baseline", "x86-64-v2", "x86-64-v3", "x86-64-v4")


def check_isa_level(ctx: ObjectContext) -> Iterator[Finding]:
    if ctx.facts.arch != "x86_64":
        return
    needed = ctx.reader.x86_isa_needed()
    level = needed.bit_length()  # bit 0 the baseline, bit 1 v2, bit 2 v3, bit 3 v4
    if level <= 1:
        return
    name = _ISA_LEVELS[level - 1] if level <= len(_ISA_LEVELS) else f"an x86 ISA level above v4 (bits {needed:#x})"
    yield ctx.finding(
        AB405,
        f"needs {name} (its GNU property note), but {ctx.policy.name} covers baseline x86-64 CPUs: on one "
        "without it, glibc 2.33+ refuses to load it ('CPU ISA level is lower than required')",
        "build for the baseline (-march=x86-64, no -z x86-64-vN) and pick faster code at run time "
        "(function multiversioning, __builtin_cpu_supports)",
        details={"isa_needed": name, "policy": ctx.policy.name})


RULES = [AB401, AB405]
CHECKS = [check(check_machine, AB401), check(check_foreign_machine, AB401, formats=MACOS_AND_WINDOWS),
          check(check_isa_level, AB405)]
