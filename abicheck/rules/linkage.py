"""AB3xx: what a GPU (or CPU) kernel links, against what its users have.

A kernel published to users may link only torch's own libraries, its
backend's runtime in the major version torch installs (libcudart.so.12 for a
cu12x build, libamdhip64.so.6 for ROCm 6, libsycl.so.8 for oneAPI 2025), the
manylinux system libraries, and libraries shipped beside it. These rules run
only when the backend is known: from the build variant, a kernel file name
(`_relu_cuda_ab12.abi3.so`), or `--backend`/`--variant`.
"""

from __future__ import annotations

from collections.abc import Iterator

from abicheck.context import ObjectContext, VariantContext
from abicheck.policy.manylinux import is_loader
from abicheck.report.model import Finding
from abicheck.rules.base import Rule

AB301 = Rule(
    code="AB301",
    name="library-not-allowed",
    summary="The kernel links a library its users' systems do not provide.",
    explanation="""\
A kernel may link torch's libraries (libc10, libtorch, libtorch_cpu and its
backend's libc10_*/libtorch_*), its backend's runtime (libcudart.so.<major>,
libamdhip64.so.<major>, libsycl.so.<major>), the manylinux system libraries
and libraries it ships itself. Anything else (a stray libfoo.so, libcublas
from the build machine's toolkit, libgomp) is missing on users' machines and
the import fails with "cannot open shared object file".

Fix: drop the dependency, link it statically, or reach it through torch; if
torch really installs the library for your users, allow it in a
--policy-file (docs/backend-policies.md).""",
)

AB302 = Rule(
    code="AB302",
    name="backend-mismatch",
    summary="The kernel links another backend's library (ROCm in a CUDA build, ...).",
    explanation="""\
A CUDA build that links libamdhip64.so.6, or a ROCm build that links
libcudart, was built with the wrong toolchain or picked up a stray library
from the build machine. Users of that variant have only their own backend's
runtime installed.

Fix: remove the foreign library from the link line and check which toolchain
the build used (CMake's find_package results, the Nix inputs).""",
)

AB303 = Rule(
    code="AB303",
    name="runtime-major-mismatch",
    summary="The kernel links its backend's runtime in another major version than the variant's.",
    explanation="""\
torch's cu12x wheels install libcudart.so.12; a kernel in a cu128 variant that
links libcudart.so.13 (built with the CUDA 13 toolkit) fails to load for every
user of that variant. The same holds for libamdhip64.so.<ROCm major> and
libsycl.so.<oneAPI major>.

Fix: build each variant with the toolkit torch was built with: link
CUDA::cudart from CUDA 12 for cu12x variants, from CUDA 13 for cu13x.""",
)

AB304 = Rule(
    code="AB304",
    name="driver-linked-directly",
    summary="The kernel links a GPU driver library (libcuda.so.1, ...) directly.",
    explanation="""\
Driver libraries (libcuda.so.1, libnvidia-*.so, libze_loader.so.1, libhsakmt)
come with the GPU driver, not with torch. Linking them directly makes the
kernel unloadable on machines without that driver (CPU-only CI, containers
without the driver mounted) and ties it to a driver version; the runtime
loads the driver itself.

Fix: use the runtime API; for driver entry points use cudaGetDriverEntryPoint
(or dlopen the driver at run time) instead of linking -lcuda.""",
)

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


def _variant_text(ctx: ObjectContext) -> str:
    backend = ctx.backend
    if backend is None:
        return ""
    if backend.variant:
        return f"the variant {backend.variant} ({backend.label})"
    return f"this {backend.label} build (from {backend.source})"


def check_linkage(ctx: ObjectContext) -> Iterator[Finding]:
    backend, policy = ctx.backend, ctx.backend_policy
    if backend is None or policy is None:
        return
    allowed = policy.allowed(backend.backend)
    runtime = policy.expected_runtime(backend)
    runtime_pattern = policy.runtime_pattern(backend.backend)
    expected_major = policy.runtime_major(backend)
    where = _variant_text(ctx)
    for lib in ctx.facts.needed:
        if lib in ctx.shipped or lib in ctx.policy.libraries or is_loader(lib) or lib in allowed:
            continue
        driver = policy.driver_of(lib)
        if driver is not None:
            yield ctx.finding(
                AB304,
                f"links the {driver} driver library {lib} directly in {where}; it comes with the GPU driver, "
                "not with torch",
                "use the runtime API (cudaGetDriverEntryPoint for driver calls) or dlopen the driver at run time"
                if driver == "cuda" else "use the runtime API, or dlopen the driver at run time",
                library=lib, details={"backend": backend.backend, "driver": driver},
            )
            continue
        family = policy.family_of(lib)
        if family is not None and family != backend.backend:
            yield ctx.finding(
                AB302,
                f"links {lib}, a {family} library, in {where}",
                f"remove {lib} from the link line: a {backend.backend} kernel must not use {family}; "
                "check which toolchain the build picked up",
                library=lib, details={"backend": backend.backend, "library_backend": family},
            )
            continue
        match = runtime_pattern.match(lib) if runtime_pattern else None
        if match is not None:
            if expected_major is None or int(match.group(1)) == expected_major:
                continue
            yield ctx.finding(
                AB303,
                f"links {lib}, but {where} needs {runtime}",
                policy.hint_for_runtime(backend) or f"link {runtime} instead",
                library=lib, details={"backend": backend.backend, "expected": runtime},
            )
            continue
        yield ctx.finding(
            AB301,
            f"links {lib}, which users' systems do not have: {where} may link only torch's libraries"
            + (f", {runtime}" if runtime else "") + " and the manylinux system libraries",
            f"drop {lib}, link it statically, or ship it beside the kernel; if torch installs it for your "
            "users, allow it with --policy-file",
            library=lib, details={"backend": backend.backend},
        )


def check_metadata(ctx: VariantContext) -> Iterator[Finding]:
    """AB305: the backend a variant folder's metadata.json names against the one its name says."""
    vdir = ctx.variant_dir
    said, variant = vdir.metadata_backend, vdir.variant
    if said is None or variant.backend is None or said == variant.backend or vdir.metadata_path is None:
        return
    yield Finding(
        code=AB305.code, name=AB305.name, path=vdir.metadata_path,
        message=f"metadata.json says backend {said!r} but the variant name {variant.name} says {variant.backend!r}",
        hint="rebuild the variant, or regenerate metadata.json from the same build",
        details={"metadata_backend": said, "variant_backend": variant.backend, "variant": variant.name},
    )


RULES = [AB301, AB302, AB303, AB304, AB305]
CHECKS = [(check_linkage, [AB301, AB302, AB303, AB304]), (check_metadata, [AB305])]
