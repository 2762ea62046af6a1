"""AB301-AB304, AB306, AB307: NEEDED libraries the user's machine will not provide.

These run after the whole wheel or tree was scanned, on the resolution stage's
answer for each NEEDED entry (abicheck.analysis): found (shipped, system,
dependency), or not, and why not.

Every object's NEEDED libraries are resolved (abicheck.analysis) against what
its users' machines will hold: the wheel or tree itself, the policy's system
libraries, and what pip installs with it. A kernel published to users may link
only torch's own libraries, what torch installs for its backend (the CUDA
runtime in the major version torch installs: libcudart.so.12 for a cu12x
build), the manylinux system libraries, and libraries shipped beside it. The
kernel-specific rules (AB302, AB303) run when the backend is known: from the
build variant, a kernel file name (`_relu_cuda_ab12.abi3.so`), or
`--backend`/`--variant`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from abicheck.analysis.providers import providers
from abicheck.analysis.resolver import EXTRA, MISSING, UNREACHABLE, UNVERIFIED, Resolved, suggested_runpath
from abicheck.report.model import Finding
from abicheck.rules.base import Rule, check
from abicheck.rules.context import LoadContext

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

AB306 = Rule(
    code="AB306",
    name="shipped-library-unreachable",
    summary="A needed library is shipped, but the loader's search path does not lead to it.",
    explanation="""\
The loader looks for a NEEDED library only in the object's RUNPATH (or RPATH)
and the system's directories; a copy elsewhere in the same wheel or tree is
never found (unless something else happened to load it first). An extension
in pkg/sub/ that needs libfoo.so.1 shipped in pkg.libs/ fails to import
unless its RUNPATH holds $ORIGIN/../../pkg.libs; a RUNPATH left pointing at a
build tree does not help either.

Fix: set the RUNPATH to the $ORIGIN-relative directory the finding names
(patchelf --add-rpath, or -Wl,-rpath,'$ORIGIN/...' at link time; auditwheel
repair does this for the libraries it copies in).""",
    scope="load",
)

AB307 = Rule(
    code="AB307",
    name="library-only-in-extra",
    summary="A needed library is installed only when the user asks for an extra.",
    explanation="""\
The wheel needs a library that one of its dependencies installs, but that
dependency is declared only under an extra (Requires-Dist: nvidia-cublas-cu12;
extra == "gpu"). A plain `pip install` does not install it, and the import
fails with "cannot open shared object file".

Fix: move the dependency to the main requirements, load the object only when
the extra is installed (import it lazily behind a check), or ship the
library.""",
    scope="load",
)

AB311 = Rule(
    code="AB311",
    name="version-not-defined",
    summary="The object needs a symbol version that the shipped library it loads does not define.",
    explanation="""\
An object built against one release of a versioned library records the
versions it needs (.gnu.version_r: ver_add@LIBVER_2.0 from libver.so.1). The
loader checks each of them against the library it actually loads, before any
symbol is bound, and refuses to load the object:

    version `LIBVER_2.0' not found (required by ./_ext.so)

when the wheel or tree ships an older release of that library. A version
marked weak is not checked.

Fix: ship the release of the library the object was built against (or
newer), or rebuild the object against the one you ship.""",
    scope="load",
)

_LIBPYTHON = re.compile(r"^libpython\d+\.\d+[a-z]*\.so(\.[\d.]+)?$")


def _variant_text(ctx: LoadContext) -> str:
    backend = ctx.target.backend
    if backend is None:
        return ""
    if backend.variant:
        return f"the variant {backend.variant} ({backend.label})"
    return f"this {backend.label} build (from {backend.source})"


def _container(ctx: LoadContext) -> str:
    return {"wheel": "the wheel", "dir": "the tree", "file": "its folder"}[ctx.environment.kind]


def _missing(ctx: LoadContext, lib: str) -> Finding:
    """AB301 for any object: where the loader and pip looked, and the fix."""

    env, policy = ctx.environment, ctx.target.policy
    arch = ctx.facts.arch
    for dist, (version, spec) in sorted(env.chosen.items()):
        if lib in (providers().libraries_of(dist, arch) or {}):  # another version of the dependency has it
            stem = lib.split(".so")[0]
            brings = sorted(other for other in env.dependencies if other.split(".so")[0] == stem)
            what = (f"{dist} {version}, what pip installs for {dist}{spec}," if spec
                    else f"{dist} {version}, the newest release and what pip installs,")
            return ctx.finding(
                AB301, f"needs {lib}, which will not be found: {what} brings {', '.join(brings) or 'no ' + stem}, "
                       f"not {lib}",
                f"pin {dist} to a release that brings {lib} in the wheel's requirements, or build against what "
                f"{dist} {version} brings", library=lib,
                details={"distribution": dist, "version": version, "specifier": spec, "brings": brings})
    looked = [f"not shipped in {_container(ctx)} ({ctx.search.describe()})", f"not a {policy.name} system library"]
    if env.dependency_names:
        looked.append(f"not installed by its dependencies ({', '.join(env.dependency_names)})")
    shipping = [d for d in providers().distributions_shipping(lib, arch) if d not in env.dependency_names]
    if _LIBPYTHON.match(lib):
        hint = (f"do not link {lib}: an extension gets Python's symbols from the interpreter that loads it "
                f"(drop -lpython from the link line, or patchelf --remove-needed {lib})")
    elif shipping:
        hint = (f"depend on {' or '.join(shipping[:3])} (it installs {lib}), or ship {lib} in the wheel "
                "(auditwheel repair copies it in and sets the RUNPATH)")
    else:
        hint = (f"ship {lib} in the wheel (auditwheel repair copies it in and sets the RUNPATH), "
                "link it statically, or drop the dependency")
    return ctx.finding(AB301, f"needs {lib}, which will not be found: {', '.join(looked)}", hint, library=lib,
                       details={"searched": [raw for raw, _d in ctx.search.entries], "providers": shipping})


def _kernel_missing(ctx: LoadContext, lib: str, resolved: Resolved) -> Finding | None:
    """AB302/AB303/AB301 for a kernel: another backend, the wrong runtime major, or a stray library."""
    backend = ctx.target.backend
    assert backend is not None
    policy = ctx.backend_policy()
    where = _variant_text(ctx)
    family = policy.family_of(lib)
    if family is not None and family != backend.backend:
        return ctx.finding(
            AB302, f"links {lib}, a {family} library, in {where}",
            f"remove {lib} from the link line: a {backend.backend} kernel must not use {family}; "
            "check which toolchain the build picked up",
            library=lib, details={"backend": backend.backend, "library_backend": family})
    runtime = policy.expected_runtime(backend)
    pattern = policy.runtime_pattern(backend.backend)
    match = pattern.match(lib) if pattern else None
    if match is not None and ctx.environment.torch_build is not None and backend.variant is None:
        brings = sorted(d for d in ctx.environment.dependencies if pattern is not None and pattern.match(d))
        if brings and lib not in brings:
            return ctx.finding(
                AB303, f"needs {lib}, but {ctx.environment.torch_build} installs {', '.join(brings)}: the loader "
                f"will not find {lib}",
                f"build the kernel for the CUDA major that torch brings (link {brings[0]}), or name the torch build "
                "it is for in its variant",
                library=lib, details={"backend": backend.backend, "expected": brings[0],
                                      "torch": ctx.environment.torch_build})
    if match is not None:
        expected = policy.runtime_major(backend)
        if expected is None or int(match.group(1)) == expected:
            return None if resolved.how == UNVERIFIED else _kernel_stray(ctx, lib, where, runtime)
        return ctx.finding(
            AB303, f"links {lib}, but {where} needs {runtime}",
            policy.hint_for_runtime(backend) or f"link {runtime} instead",
            library=lib, details={"backend": backend.backend, "expected": runtime})
    if resolved.how == UNVERIFIED:
        return None
    return _kernel_stray(ctx, lib, where, runtime)


def _kernel_stray(ctx: LoadContext, lib: str, where: str, runtime: str | None) -> Finding:
    backend = ctx.target.backend
    assert backend is not None
    return ctx.finding(
        AB301,
        f"links {lib}, which users' systems do not have: {where} may link only torch's libraries, what torch "
        "installs for it" + (f" ({runtime}, ...)" if runtime else "") + " and the manylinux system libraries",
        f"drop {lib}, link it statically, or ship it beside the kernel; if torch installs it for your "
        "users, allow it with --policy-file",
        library=lib, details={"backend": backend.backend})


def check_needed(ctx: LoadContext) -> Iterator[Finding]:
    for resolved in ctx.resolved:
        lib = resolved.library
        if resolved.found:
            continue
        if resolved.how == UNREACHABLE and resolved.where is not None:
            runpath = suggested_runpath(ctx.relpath, resolved.where)
            yield ctx.finding(
                AB306,
                f"needs {lib}, shipped as {resolved.where}, but the loader cannot reach it "
                f"({ctx.search.describe()})",
                f"add {runpath} to the RUNPATH (patchelf --add-rpath '{runpath}', or link with "
                f"-Wl,-rpath,'{runpath}')",
                library=lib, details={"shipped": resolved.where, "runpath": runpath})
            continue
        if resolved.how == EXTRA:
            yield ctx.finding(
                AB307,
                f"needs {lib}, which only {resolved.detail} installs: a plain pip install of this wheel "
                "does not",
                f"make {resolved.where} a main requirement, import this object only when the extra is "
                f"installed, or ship {lib}",
                library=lib, details={"distribution": resolved.where, "extras": resolved.detail})
            continue
        driver = ctx.backend_policy().driver_of(lib) if resolved.how in (MISSING, UNVERIFIED) else None
        if driver is not None:
            where = _variant_text(ctx) or "this object"
            yield ctx.finding(
                AB304,
                f"links the {driver} driver library {lib} directly in {where}; it comes with the GPU driver, "
                "not with torch or any wheel",
                "use the runtime API (cudaGetDriverEntryPoint for driver calls) or dlopen the driver at run time"
                if driver == "cuda" else "use the runtime API, or dlopen the driver at run time",
                library=lib, details={"backend": ctx.target.backend.backend if ctx.target.backend else None,
                                      "driver": driver})
            continue
        if ctx.target.backend is not None:
            finding = _kernel_missing(ctx, lib, resolved)
            if finding is not None:
                yield finding
        elif resolved.how == MISSING:
            yield _missing(ctx, lib)


def check_shipped_versions(ctx: LoadContext) -> Iterator[Finding]:
    """AB311: every non-weak version needed from a shipped library is one that library defines."""
    for need in ctx.facts.version_needs:
        shipped = ctx.shipped_versions.get(need.library)
        if need.weak or shipped is None or need.version in shipped[1]:
            continue
        path, versions = shipped
        have = ", ".join(sorted(v for v in versions if v != need.library)) or "no versions"
        yield ctx.finding(
            AB311,
            f"needs version {need.version} of {need.library}, but the shipped {path} defines {have}: the loader "
            f"stops with 'version `{need.version}' not found'",
            f"ship the {need.library} the object was built against (one that defines {need.version}), or rebuild "
            "the object against the one you ship",
            version=need.version, library=need.library, details={"shipped": path, "defined": sorted(versions)})


RULES = [AB301, AB302, AB303, AB304, AB306, AB307, AB311]
CHECKS = [check(check_needed, AB301, AB302, AB303, AB304, AB306, AB307), check(check_shipped_versions, AB311)]
