"""AB402: a wheel's platform tag claims more compatibility than its contents have.

The claim is the oldest manylinux/musllinux tag in the wheel's file name
(pip installs the wheel on any system that tag admits). The contents need the
newest glibc any of its objects needs; when that is newer than the claim, the
finding names the honest tag.
"""

from __future__ import annotations

from collections.abc import Iterator

from abicheck.context import WheelContext
from abicheck.policy.manylinux import most_compatible
from abicheck.report.model import Finding
from abicheck.rules.base import Rule

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


def check_tag_claim(ctx: WheelContext) -> Iterator[Finding]:
    """AB402 for one wheel and architecture: the oldest policy all its objects meet vs. the tag's claim."""
    claim, arch = ctx.claim, ctx.arch
    all_needs = [n for _d, needs in ctx.objects for n in needs]
    honest = most_compatible(all_needs, arch, claim.family)
    if honest is not None and honest.priority >= claim.priority:
        return
    culprits = [d for d, needs in ctx.objects
                if (p := most_compatible(needs, arch, claim.family)) is None or p.priority < claim.priority]
    honest_tag = honest.tag(arch) if honest else f"linux_{arch} (no manylinux policy fits)"
    where = f"; needed by {', '.join(culprits[:3])}" + (" and others" if len(culprits) > 3 else "")
    yield Finding(
        code=AB402.code,
        name=AB402.name,
        path=ctx.path,
        message=f"tag {claim.tag(arch)} claims more than the contents allow; the honest tag is "
                f"{honest_tag}{where}",
        hint=f"rebuild against {claim.name}'s toolchain (see the AB101 findings), or retag the wheel "
             f"as {honest_tag}",
        details={"claimed": claim.tag(arch), "honest": honest.tag(arch) if honest else None,
                 "objects": culprits},
    )


RULES = [AB402]
CHECKS = [(check_tag_claim, [AB402])]
