"""AB301-AB305: libraries an object links that its users will not have.

Every object's NEEDED libraries are resolved (abicheck.resolve) against what
its users' machines will hold: the wheel or tree itself, the policy's system
libraries, and what pip installs with it. A kernel published to users may link
only torch's own libraries, what torch installs for its backend (the CUDA
runtime in the major version torch installs: libcudart.so.12 for a cu12x
build), the manylinux system libraries, and libraries shipped beside it. The
kernel-specific rules (AB302, AB303) run when the backend is known: from the
build variant, a kernel file name (`_relu_cuda_ab12.abi3.so`), or
`--backend`/`--variant`. The checks are in rules/libraries.py.
"""

from __future__ import annotations

from collections.abc import Iterator

from abicheck.context import VariantContext
from abicheck.report.model import Finding
from abicheck.rules.base import Rule

AB301 = Rule(
    code="AB301",
    name="library-not-allowed",
    summary="A needed library will not be there: not shipped, not a system library, not installed by a dependency.",
    explanation="""\
The loader must find every DT_NEEDED library when the object is imported.
abicheck looks where it would on a user's machine: the RUNPATH/RPATH inside
the wheel or tree ($ORIGIN expanded), the policy's system libraries
(manylinux_2_28 allows libc, libm, libstdc++, libgcc_s, libz, libGL, ... and
nothing else), and the wheels pip installs with it (Requires-Dist without an
extra). A library found nowhere fails the import with "cannot open shared
object file": libOpenCL.so.1 or libtbb.so.12 from the build machine, libgomp,
libpython (which an extension must never link).

Fix: ship the library (auditwheel repair copies it into the wheel and sets
the RUNPATH), depend on the distribution that installs it (the finding names
it when abicheck's data knows one), link it statically, or drop it.

For kernels: a kernel may link torch's libraries (libc10, libtorch, libtorch_cpu and its
backend's libc10_*/libtorch_*), its backend's runtime (libcudart.so.<major>,
libamdhip64.so.<major>, libsycl.so.<major>), the manylinux system libraries
and libraries it ships itself. Anything else (a stray libfoo.so, libcublas
from the build machine's toolkit, libgomp) is missing on users' machines and
the import fails with "cannot open shared object file".

Fix: drop the dependency, link it statically, or reach it through torch; if
torch really installs the library for your users, allow it in a
--policy-file (docs/backend-policies.md).""",
    scope="load",
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
    scope="load",
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
    scope="load",
)

AB304 = Rule(
    code="AB304",
    name="driver-linked-directly",
    summary="The kernel links a GPU driver library (libcuda.so.1, ...) directly.",
    explanation="""\
Driver libraries (libcuda.so.1, libnvidia-*.so, libze_loader.so.1, libhsakmt)
come with the GPU driver, not with torch or any other wheel. Linking them directly makes the
kernel unloadable on machines without that driver (CPU-only CI, containers
without the driver mounted) and ties it to a driver version; the runtime
loads the driver itself.

Fix: use the runtime API; for driver entry points use cudaGetDriverEntryPoint
(or dlopen the driver at run time) instead of linking -lcuda.""",
    scope="load",
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
CHECKS = [(check_metadata, [AB305])]  # AB301-AB304: rules/libraries.py, after resolution
