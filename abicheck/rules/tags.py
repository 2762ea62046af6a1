"""AB402-AB404: what a wheel's tags claim against what its objects are.

The claim is the oldest manylinux/musllinux tag in the wheel's file name
(pip installs the wheel on any system that tag admits). The contents need the
newest glibc any of its objects needs; when that is newer than the claim, the
finding names the honest tag (AB402). A musl object cannot load on glibc, nor
a glibc one on musl (AB403), and a wheel tagged for any platform must not
hold compiled objects at all (AB404).
"""

from __future__ import annotations

from collections.abc import Iterator

from abicheck.binary.elf_model import is_musl
from abicheck.policy.manylinux import most_compatible
from abicheck.report.model import Finding
from abicheck.rules.base import Rule, check
from abicheck.rules.context import ObjectContext, WheelContext

AB402 = Rule(
    code="AB402",
    name="tag-claims-too-much",
    summary="The wheel's platform tag claims an older glibc than its objects need.",
    explanation="""\
pip picks a wheel by its platform tag: manylinux_2_17_x86_64 promises that the
wheel works with glibc 2.17 and newer. If an object inside needs symbol
versions from glibc 2.34, pip installs it on systems where it cannot load.
The finding is reported once per wheel and architecture, and names the honest
tag: the oldest policy that all objects in the wheel satisfy.

Fix: rebuild against the claimed policy's toolchain (see AB101 for the
symbols), or retag the wheel honestly (`wheel tags --platform-tag ...`).""",
    scope="wheel",
)


AB403 = Rule(
    code="AB403",
    name="libc-mismatch",
    summary="A musl object checked against a glibc (manylinux) policy, or a glibc object against musllinux.",
    explanation="""\
musllinux objects need musl's C library (libc.musl-x86_64.so.1); manylinux
objects need glibc's (libc.so.6). Neither loads on the other's systems. A
musl object in a manylinux wheel (or a glibc one in a musllinux wheel) is
what a build that mixed two build images leaves behind; auditwheel drops such
objects' tags.

Fix: build the object in the image of the wheel's family (manylinux or
musllinux), or tag the wheel for the C library its objects use.""",
)

AB404 = Rule(
    code="AB404",
    name="binaries-in-pure-wheel",
    summary="A wheel tagged for any platform (py3-none-any) holds compiled objects.",
    explanation="""\
pip installs a `py3-none-any` wheel on every platform: Windows, macOS,
aarch64, musl. Compiled objects in it load only on the machine they were
built for, and the import fails everywhere else, or the package silently
runs without its native part.

Fix: build platform wheels (`pip wheel` with the extension declared, or
`wheel tags --platform-tag manylinux_2_28_x86_64`), then check them with
abicheck; or drop the objects from the pure wheel.""",
    scope="wheel",
)


def check_libc(ctx: ObjectContext) -> Iterator[Finding]:
    """AB403: the object's C library against the policy's family."""
    musl = is_musl(ctx.facts)
    glibc = "libc.so.6" in ctx.facts.needed
    family = ctx.policy.family
    if musl and family == "manylinux":
        yield ctx.finding(
            AB403, f"a musl object (needs {_libc_of(ctx)}), but {ctx.policy.name} is for glibc systems",
            "build it in a manylinux image, or ship it in a musllinux wheel",
            details={"libc": "musl", "policy": ctx.policy.name})
    elif glibc and family == "musllinux":
        yield ctx.finding(
            AB403, f"a glibc object (needs libc.so.6), but {ctx.policy.name} is for musl systems",
            "build it in a musllinux image, or ship it in a manylinux wheel",
            details={"libc": "glibc", "policy": ctx.policy.name})


def _libc_of(ctx: ObjectContext) -> str:
    return next((n for n in ctx.facts.needed if n.startswith("libc.musl-") or n == "libc.so"),
                ctx.facts.interpreter or "musl")


def check_pure_wheel(ctx: WheelContext) -> Iterator[Finding]:
    """AB404: ELF objects in a wheel whose platform tag is `any`."""
    if ctx.claim is not None or "any" not in ctx.platforms:
        return
    objects = [d for d, _needs in ctx.objects]
    shown = ", ".join(o.partition("!")[2] or o for o in objects[:3]) + (" and others" if len(objects) > 3 else "")
    yield ctx.finding(
        AB404, f"tagged {'.'.join(ctx.platforms)} (any platform) but holds {len(objects)} compiled "
               f"object{'s' if len(objects) != 1 else ''}: {shown}",
        "build platform wheels (manylinux/musllinux tags) for the objects, or leave them out of the pure wheel",
        details={"platforms": list(ctx.platforms), "objects": objects},
    )


def check_tag_claim(ctx: WheelContext) -> Iterator[Finding]:
    """AB402 for one wheel and architecture: the oldest policy all its objects meet vs. the tag's claim."""
    claim, arch = ctx.claim, ctx.arch
    if claim is None or arch is None:
        return
    all_needs = [n for _d, needs in ctx.objects for n in needs]
    honest = most_compatible(all_needs, arch, claim.family)
    if honest is not None and honest.priority >= claim.priority:
        return
    culprits = [d for d, needs in ctx.objects
                if (p := most_compatible(needs, arch, claim.family)) is None or p.priority < claim.priority]
    honest_tag = honest.tag(arch) if honest else f"linux_{arch} (no manylinux policy fits)"
    where = f"; needed by {', '.join(culprits[:3])}" + (" and others" if len(culprits) > 3 else "")
    yield ctx.finding(
        AB402, f"tag {claim.tag(arch)} claims more than the contents allow; the honest tag is {honest_tag}{where}",
        f"rebuild against {claim.name}'s toolchain (see the AB101 findings), or retag the wheel as {honest_tag}",
        details={"claimed": claim.tag(arch), "honest": honest.tag(arch) if honest else None, "objects": culprits},
    )


RULES = [AB402, AB403, AB404]
CHECKS = [check(check_tag_claim, AB402), check(check_libc, AB403), check(check_pure_wheel, AB404)]
