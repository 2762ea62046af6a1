"""AB305: a kernel variant folder whose metadata disagrees with its objects.

The NEEDED-library rules (AB301-AB304, AB306, AB307, AB311) are in
rules/libraries.py, after resolution.
"""

from __future__ import annotations

from collections.abc import Iterator

from abicheck.report.model import Finding
from abicheck.rules.base import Rule, check
from abicheck.rules.context import VariantContext

AB305 = Rule(
    code="AB305",
    name="metadata-backend-mismatch",
    summary="metadata.json names another backend than the variant folder's name.",
    explanation="""\
A variant folder named torch28-cxx11-cu128-x86_64-linux must hold a CUDA
build; when its metadata.json says `"backend": {"type": "rocm"}` the two came
from different builds, and loaders that trust either will pick the wrong
objects.

Fix: rebuild the variant, or regenerate metadata.json from the same build.""",
    scope="variant",
)


def check_metadata(ctx: VariantContext) -> Iterator[Finding]:
    """AB305: the backend a variant folder's metadata.json names against the one its name says."""
    vdir = ctx.variant_dir
    said, variant = vdir.metadata_backend, vdir.variant
    if said is None or variant.backend is None or said == variant.backend or vdir.metadata_path is None:
        return
    yield ctx.finding(  # the context's path is metadata.json's
        AB305, f"metadata.json says backend {said!r} but the variant name {variant.name} says {variant.backend!r}",
        "rebuild the variant, or regenerate metadata.json from the same build",
        details={"metadata_backend": said, "variant_backend": variant.backend, "variant": variant.name},
    )


RULES = [AB305]
CHECKS = [check(check_metadata, AB305)]
