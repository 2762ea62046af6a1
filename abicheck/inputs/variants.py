"""Kernel build-variant names, as kernel builders write them under `build/`.

    torch28-cxx11-cu128-x86_64-linux      torch 2.8, CUDA 12.8, x86_64 Linux
    torch29-cxx11-rocm64-x86_64-linux     torch 2.9, ROCm 6.4
    torch29-cxx11-xpu20252-x86_64-linux   torch 2.9, oneAPI 2025.2
    torch27-cxx98-cu118-x86_64-linux      the older pre-cxx11 ABI form
    torch28-metal-aarch64-darwin          macOS
    torch-stable-abi29-cu128-x86_64-linux torch's stable ABI (2.9 and later)
    torch-universal, torch-cuda, ...      no architecture (pure Python)

Each name gives the backend and its version, the torch version, the
architecture and the OS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from abicheck.errors import InputError

BACKENDS = ("cuda", "rocm", "xpu", "cpu", "metal")

_COMPUTE = r"(?P<compute>cu\d{3,4}|rocm\d{2,3}|xpu\d{5,6}|cpu|metal)"
_ARCH = r"(?P<arch>x86_64|aarch64)"
_OS = r"(?P<os>linux|darwin)"
_PATTERNS = [
    re.compile(rf"^torch(?P<torch>\d\d+)-(?P<cxx>cxx11|cxx98)-{_COMPUTE}-{_ARCH}-{_OS}$"),
    re.compile(rf"^torch(?P<torch>\d\d+)-{_COMPUTE}-{_ARCH}-{_OS}$"),
    re.compile(rf"^torch-stable-abi(?P<torch>\d\d+)-{_COMPUTE}-{_ARCH}-{_OS}$"),
]
_NOARCH = re.compile(r"^torch-(?P<compute>universal|cpu|cuda|rocm|xpu)$")

GRAMMAR = ("torch{XY}-cxx11-{cu126|cu128|cu129|cu130|rocm63|rocm64|rocm71|xpu20252|cpu}-{x86_64|aarch64}-linux, "
           "torch{XY}-{metal|cpu}-aarch64-darwin, torch-stable-abi{XY}-{compute}-{arch}-linux, "
           "torch-universal or torch-{cpu,cuda,rocm,xpu}")


@dataclass(frozen=True)
class Variant:
    """A parsed build-variant name."""

    name: str
    backend: str | None  # cuda, rocm, xpu, cpu, metal; None for torch-universal
    backend_version: str | None  # "12.8", "6.4", "2025.2"
    torch_version: str | None  # "2.8"
    arch: str | None  # x86_64, aarch64; None for no-arch variants
    os: str | None  # linux, darwin
    cxx_abi: str | None = None  # cxx11, cxx98
    stable_abi: bool = False

    @property
    def compute_token(self) -> str:
        """`cu128`, `rocm64`, `xpu20252`, `cpu`: as written in the name."""
        if self.backend_version is None:
            return self.backend or "universal"
        prefix = {"cuda": "cu"}.get(self.backend or "", self.backend or "")
        return prefix + self.backend_version.replace(".", "")

    @property
    def has_binaries(self) -> bool:
        """Whether the variant holds compiled objects (no-arch variants are pure Python)."""
        return self.arch is not None


def parse_compute(token: str) -> tuple[str, str | None]:
    """`cu128` -> ("cuda", "12.8"); `rocm64` -> ("rocm", "6.4"); `xpu20252` -> ("xpu", "2025.2")."""
    if token in ("cpu", "metal", "cuda", "rocm", "xpu"):
        return token, None
    m = re.fullmatch(r"cu(\d\d)(\d{1,2})", token)
    if m:
        return "cuda", f"{int(m.group(1))}.{int(m.group(2))}"
    m = re.fullmatch(r"rocm(\d)(\d{1,2})", token)
    if m:
        return "rocm", f"{m.group(1)}.{int(m.group(2))}"
    m = re.fullmatch(r"xpu(\d{4})(\d{1,2})", token)
    if m:
        return "xpu", f"{m.group(1)}.{int(m.group(2))}"
    raise ValueError(token)


def _torch(digits: str) -> str:
    return f"{digits[0]}.{digits[1:]}"


def parse_variant(name: str) -> Variant:
    """Parse a variant name; an unknown one raises `InputError` naming the grammar."""
    for pattern in _PATTERNS:
        m = pattern.match(name)
        if m:
            backend, version = parse_compute(m.group("compute"))
            if m.group("os") == "darwin" and backend not in ("cpu", "metal"):
                break
            if m.group("os") == "linux" and backend == "metal":
                break
            groups = m.groupdict()
            return Variant(name=name, backend=backend, backend_version=version,
                           torch_version=_torch(groups["torch"]), arch=groups["arch"], os=groups["os"],
                           cxx_abi=groups.get("cxx"), stable_abi=name.startswith("torch-stable-abi"))
    m = _NOARCH.match(name)
    if m:
        compute = m.group("compute")
        return Variant(name=name, backend=None if compute == "universal" else compute, backend_version=None,
                       torch_version=None, arch=None, os=None)
    raise InputError(f"unknown build variant name {name!r}; expected one of: {GRAMMAR}")


_CLAIMS = re.compile(r"^torch(\d\d+-|-stable-abi|-universal$|-(cpu|cuda|rocm|xpu|metal)$)")


def looks_like_variant(name: str) -> bool:
    """True for folder names that claim to be variants (`torch28-...`, `torch-universal`).

    A name that claims to be one but does not parse is an input error; other
    folders (`torch-lib`, `torchvision`) are plain folders.
    """
    return bool(_CLAIMS.match(name))
