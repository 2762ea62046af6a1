"""Build the `Environment` of a container: what will sit beside its objects on the user's machine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from abicheck.analysis.providers import canonicalize_name, providers
from abicheck.analysis.requirements import dependencies, newest_satisfying, python_of
from abicheck.analysis.resolver import Environment

if TYPE_CHECKING:
    from abicheck.analysis.torch import TorchSource
    from abicheck.inputs.scan import Container
    from abicheck.policy.backends import BackendContext, BackendPolicy


def _wheel_dependencies(env: Environment, container: Container, arch: str | None,
                        at_hand: Mapping[str, Mapping[str, str]]) -> None:
    """The libraries the wheel's Requires-Dist installs (and, apart, those only an extra installs).

    A dependency among the wheels being checked (`at_hand`: distribution ->
    library -> path) installs what it holds; one the data does not know and
    that is not at hand is listed, so that a library it could install is
    "not verified", never "not found".
    """

    tags = container.wheel
    data = providers()
    deps = dependencies(container.metadata or "", arch, python_of(tags.pythons) if tags else None,
                        data.knows)
    env.dependency_names = list(deps.default)
    specifiers = dict(deps.specifiers)
    queue, seen = list(deps.default), set()
    while queue:  # what they install, transitively, as far as the data knows (a meta-wheel's requirements)
        dist = queue.pop(0)
        if dist in seen:
            continue
        seen.add(dist)
        # The version pip installs: the newest the data knows that the specifier admits (torch>=2.10: 2.15,
        # which brings libcudart.so.13 and not .12), not every version's libraries.
        version = newest_satisfying(data.versions_of(dist, arch), specifiers.get(dist)) if arch else None
        if version is not None and dist != "torch":  # torch's own installs are in its build's libraries
            for name, spec in data.requires_of(dist, arch, version):
                specifiers.setdefault(name, spec)
                if name not in seen and name not in queue:
                    queue.append(name)
                    env.dependency_names.append(name)
        libraries = data.libraries_at(dist, arch, version) if version is not None else None
        if version is not None and libraries is not None:
            env.chosen[dist] = (version, specifiers.get(dist, ""))
        for lib, (owner, path) in (libraries or data.libraries_of(dist, arch) or {}).items():
            env.dependencies.setdefault(lib, (owner if dist == "torch" else dist, path))
        own = container.wheel is not None and canonicalize_name(container.wheel.name or "") == dist
        if dist in at_hand and not own:
            for lib, path in at_hand[dist].items():
                env.dependencies.setdefault(lib, (dist, path))
        elif not data.knows(dist) and not own:
            env.unknown_dependencies.append(dist)
    for dist, extras in deps.extras.items():
        for lib in data.libraries_of(dist, arch) or {}:
            if lib not in env.dependencies:
                env.extras.setdefault(lib, (dist, ", ".join(f"{dist}[{e}]" for e in extras)))


def _kernel_dependencies(env: Environment, arch: str | None, backend: BackendContext,
                         backend_policy: BackendPolicy, torch: TorchSource | None) -> None:
    """torch and what torch installs for the kernel's backend; kernel-builder's rule for kernels.

    When the torch the kernel meets is a build the data knows, exactly what
    that build installs (a CUDA 13 torch brings libcudart.so.13, not .12);
    otherwise (the variant's build is not in the data: a torch 2.9 cu130 variant,
    where PyPI's 2.9 is a CUDA 12 build) what any torch build of the kernel's
    backend and major installs.
    """

    data = providers()
    known: dict[str, tuple[str, str]] | None
    build = data.build_of(torch.file, torch.version, arch, torch.backend) if torch is not None else None
    if build is not None and torch is not None and torch.indexed is not None and backend.version is not None and (
            build.backend != backend.backend or str(build.backend_major) != backend.version.split(".")[0]):
        build = None  # the index's build of that release is another backend or major than the kernel's variant
    if torch is not None and torch.runtime is not None and (torch.runtime or torch.backend == "cpu"):
        # An installed torch: what is installed beside it is exactly what the loader will find.
        known = {lib: ("torch", path) for lib, path in torch.libraries.items()}
        for lib, path in torch.runtime.items():
            shipping = data.distributions_shipping(lib, arch)
            known.setdefault(lib, (shipping[0] if shipping else "nvidia", path))
        env.torch_build = torch.describe()
    elif torch is not None and build is not None and build.arch == arch:
        known = data.build_environment(build)
        env.torch_build = torch.describe()
        env.torch_installs = dict(build.installs)
    else:
        known = data.torch_environment(arch, backend.backend, backend.version) if arch else None
    if known is not None:
        for lib, owner in known.items():
            env.dependencies[lib] = owner
        for lib in backend_policy.allowed(backend.backend):  # what a --policy-file allows on top
            env.dependencies.setdefault(lib, ("torch", ""))
        env.dependency_names = sorted({*env.dependency_names, "torch"})
        return
    # No torch build of this backend (and major) is in the data: torch's own
    # common libraries are still known, the backend's are not.
    builds = [b for b in data.builds if b.arch == arch] if arch else []
    if builds:
        common = set.intersection(*(set(b.libraries) for b in builds))
        for lib in common:
            env.dependencies.setdefault(lib, ("torch", builds[0].libraries[lib]))
    allowed = backend_policy.allowed(backend.backend)
    pattern = backend_policy.runtime_pattern(backend.backend)

    def unverified(lib: str, name: str = backend.backend) -> bool:
        return (lib in allowed or backend_policy.family_of(lib) == name
                or bool(pattern is not None and pattern.match(lib)))

    env.unverified = unverified
    env.dependency_names = sorted({*env.dependency_names, "torch"})


def build_environment(container: Container, sonames: dict[str, str], target: str, arch: str | None,
                      backend: BackendContext | None, backend_policy: BackendPolicy | None,
                      torch: TorchSource | None = None,
                      at_hand: Mapping[str, Mapping[str, str]] | None = None) -> Environment:
    """The Environment of `container` for objects of `arch` and, for kernels, `backend`."""
    env = Environment(files=set(container.files), sonames=sonames, root=container.root,
                      kind=container.kind, target=target)
    if container.kind == "wheel":
        _wheel_dependencies(env, container, arch, at_hand or {})
    if backend is not None and backend_policy is not None:
        _kernel_dependencies(env, arch, backend, backend_policy, torch)
    return env
