"""Generate policies/providers.json: which wheel installs which shared library.

    python tools/gen_providers.py [--wheel LOCAL.whl ...] [--out policies/providers.json]

The facts come from real wheels on PyPI and nowhere else:

* torch, for each release in TORCH_RELEASES and each architecture: the
  shared libraries in `torch/lib/` and the `Requires-Dist` of its METADATA
  (PyPI's torch wheels for Linux are CUDA builds on x86_64; the CUDA version
  is read from the nvidia-cuda-runtime pin). Local torch wheels given with
  `--wheel` (such as a CPU build) are read the same way.
* every distribution those torch wheels require (markers evaluated for
  Linux, the architecture and CPython 3.11), recursively among the native
  provider families in PROVIDER_PREFIXES, at the pinned version;
* the provider distributions in EXTRA_DISTRIBUTIONS at their newest release
  (Intel's SYCL and OpenMP runtimes, oneMKL, oneTBB, NVIDIA's OpenCL loader,
  and dpcpp-cpp-rt, a wheel of requirements only).

Each distribution records its libraries and what installing it installs too
(`requires`, markers evaluated for Linux, the architecture and CPython 3.11),
which abicheck follows, so a meta-wheel's requirements count.

Only each wheel's central directory, its METADATA and the first bytes of its
library members are read, with HTTP range requests (the way pip's lazy wheel
reads metadata), so a 900 MB wheel costs a few hundred kilobytes. A member is
recorded when its name looks like a library (`lib*.so`, `lib*.so.N...`) and
it starts with the ELF magic. Every wheel read is listed with its file name,
size and sha256, and the date of the run.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import io
import json
import os
import re
import sys
import urllib.request
import zipfile
from email.parser import Parser
from functools import cache

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

INDEX = "https://pypi.org/simple/{}/"
TORCH_RELEASES = ["2.7.1", "2.8.0", "2.9.1", "2.10.0", "2.11.0", "2.12.1", "2.13.0", "2.14.1", "2.15.0"]
ARCHES = ["x86_64", "aarch64"]
PROVIDER_PREFIXES = ("nvidia-", "intel-", "onemkl", "mkl", "tbb", "umf", "tcmlib", "cuda-", "dpcpp-")
EXTRA_DISTRIBUTIONS = ["intel-sycl-rt", "intel-cmplr-lib-rt", "intel-openmp", "tbb", "mkl", "onemkl-sycl-blas",
                       "umf", "tcmlib", "nvidia-cuda-opencl-cu12", "dpcpp-cpp-rt"]
LIBRARY = re.compile(r"lib[^/]*\.so(\.[0-9]+)*")
BLOCK = 1 << 18


class RemoteFile(io.RawIOBase):
    """A read-only, seekable view of a URL through HTTP range requests, cached in blocks."""

    def __init__(self, url: str, size: int) -> None:
        self.url, self.size, self.pos = url, size, 0
        self.blocks: dict[int, bytes] = {}

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = {0: 0, 1: self.pos, 2: self.size}[whence] + offset
        return self.pos

    def _block(self, n: int) -> bytes:
        if n not in self.blocks:
            start, stop = n * BLOCK, min((n + 1) * BLOCK, self.size) - 1
            request = urllib.request.Request(self.url, headers={"Range": f"bytes={start}-{stop}"})
            with urllib.request.urlopen(request, timeout=120) as response:
                if response.status != 206:
                    raise OSError(f"{self.url}: the server ignored the range request")
                self.blocks[n] = response.read()
        return self.blocks[n]

    def readinto(self, buffer) -> int:  # type: ignore[override]
        want = min(len(buffer), self.size - self.pos)
        out = bytearray()
        while len(out) < want:
            n, skip = divmod(self.pos + len(out), BLOCK)
            out += self._block(n)[skip:skip + want - len(out)]
        buffer[:want] = out
        self.pos += want
        return want


@cache
def index(dist: str) -> dict:
    request = urllib.request.Request(INDEX.format(canonicalize_name(dist)),
                                     headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.load(response)


def _fits(filename: str, arch: str) -> int:
    """How well a wheel fits CPython 3.11 on Linux `arch`: 0 not at all, higher is better."""
    _name, _version, _build, tags = parse_wheel_filename(filename)
    best = 0
    for tag in tags:
        if tag.platform == "any" and tag.interpreter.startswith(("py3", "cp3")):
            best = max(best, 1)  # pure Python: installs, ships no libraries
            continue
        if not (tag.platform.endswith(arch) and tag.platform.startswith(("manylinux", "linux"))):
            continue
        if tag.interpreter == "cp311":
            best = max(best, 3)
        elif tag.abi in ("abi3", "none") and tag.interpreter.startswith(("cp3", "py3")):
            best = max(best, 2)
    return best


def pick_wheel(dist: str, arch: str, version: str | None, specifier: str = "") -> dict | None:
    """The index entry of the best-fitting wheel of `dist` at `version` (else the newest that fits)."""
    files = [f for f in index(dist)["files"] if f["filename"].endswith(".whl") and not f.get("yanked")]
    candidates = []
    for f in files:
        _n, ver, _b, _t = parse_wheel_filename(f["filename"])
        if version is not None and ver != Version(version):
            continue
        if specifier and not Requirement(f"x{specifier}").specifier.contains(ver, prereleases=False):
            continue
        if ver.is_prerelease and version is None:
            continue
        fit = _fits(f["filename"], arch)
        if fit:
            candidates.append((ver, fit, f["filename"], f))
    return max(candidates, key=lambda c: c[:3])[3] if candidates else None


def read_wheel(source: zipfile.ZipFile) -> tuple[dict[str, str], list[str]]:
    """(library file name -> member path, Requires-Dist) of one wheel."""
    libraries: dict[str, str] = {}
    metadata = ""
    for info in source.infolist():
        base = os.path.basename(info.filename)
        if info.filename.endswith(".dist-info/METADATA"):
            metadata = source.read(info).decode("utf-8", "replace")
        elif LIBRARY.fullmatch(base) and info.file_size >= 4:
            with source.open(info) as member:
                if member.read(4) == b"\x7fELF":
                    libraries.setdefault(base, info.filename)
    requires = Parser().parsestr(metadata).get_all("Requires-Dist") or []
    return dict(sorted(libraries.items())), requires


def environment(arch: str) -> dict[str, str]:
    env = default_environment()
    env.update(platform_system="Linux", sys_platform="linux", platform_machine=arch, os_name="posix",
               python_version="3.11", python_full_version="3.11.0", implementation_name="cpython",
               platform_python_implementation="CPython")
    return env


def runtime_deps(requires: list[str], arch: str, extras: frozenset[str] = frozenset()) -> list[Requirement]:
    """The requirements installed on Linux `arch` under CPython 3.11, with the given extras asked for."""
    env = environment(arch)
    out = []
    for text in requires:
        req = Requirement(text)
        if req.marker is None or any(req.marker.evaluate({**env, "extra": e}) for e in ("", *extras)):
            out.append(req)
    return out


def describe(entry: dict, source: str) -> dict:
    return {"file": entry["filename"], "size": entry.get("size"), "sha256": entry.get("hashes", {}).get("sha256"),
            "source": source}


def open_remote(entry: dict) -> zipfile.ZipFile:
    return zipfile.ZipFile(RemoteFile(entry["url"], entry["size"]))


class Distributions:
    """Provider distributions read so far: name -> arch -> version -> what the wheel holds."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, dict[str, dict]]] = {}
        self.requires: dict[tuple[str, str, str], list[str]] = {}

    def read(self, req: Requirement, arch: str) -> tuple[str, str] | None:
        """Read the wheel `req` selects for `arch`; (name, version), or None when there is none."""
        name = str(canonicalize_name(req.name))
        pinned = [s.version for s in req.specifier if s.operator == "==" and "*" not in s.version]
        entry = pick_wheel(name, arch, pinned[0] if pinned else None, "" if pinned else str(req.specifier))
        if entry is None:
            print(f"{name} {req.specifier or ''}: no wheel for {arch}", file=sys.stderr)
            return None
        version = str(parse_wheel_filename(entry["filename"])[1])
        if (name, arch, version) not in self.requires:
            print(f"{name} {version} {arch}: {entry['filename']}", file=sys.stderr)
            libraries, requires = read_wheel(open_remote(entry))
            # What installing it installs too, on Linux `arch` under CPython 3.11 (a meta-wheel's whole content):
            # the check follows these, as far as the data reaches.
            installs = sorted({str(canonicalize_name(r.name)) + str(r.specifier) for r in runtime_deps(requires, arch)})
            self.data.setdefault(name, {}).setdefault(arch, {})[version] = {"libraries": libraries,
                                                                          "requires": installs,
                                                                          **describe(entry, "pypi")}
            self.requires[(name, arch, version)] = requires
        return name, version

    def closure(self, requires: list[Requirement], arch: str) -> list[tuple[str, str]]:
        """Every provider distribution (name, version) these requirements install, recursively."""
        found: dict[tuple[str, str], None] = {}
        queue = [req for req in requires if canonicalize_name(req.name).startswith(PROVIDER_PREFIXES)]
        seen: set[str] = set()
        while queue:
            req = queue.pop(0)
            name = str(canonicalize_name(req.name))
            have = next((v for n, v in found if n == name), None)
            if str(req) in seen or (have is not None and req.specifier.contains(have, prereleases=True)):
                continue  # pip installs one version of a distribution: the first one chosen, if it fits
            seen.add(str(req))
            got = self.read(req, arch)
            if got is None:
                continue
            found[got] = None
            deps = runtime_deps(self.requires[(got[0], arch, got[1])], arch, frozenset(req.extras))
            queue.extend(d for d in deps if canonicalize_name(d.name).startswith(PROVIDER_PREFIXES))
        return sorted(found)


def cuda_version(installs: list[tuple[str, str]]) -> str | None:
    """CUDA major.minor from the runtime torch installs (nvidia-cuda-runtime, any suffix)."""
    for name, version in installs:
        if re.fullmatch(r"nvidia-cuda-runtime(-cu\d+)?", name):
            return ".".join(version.split(".")[:2])
    return None


def torch_build(zf: zipfile.ZipFile, entry: dict, source: str, arch: str, dists: Distributions) -> dict:
    libraries, requires = read_wheel(zf)
    deps = runtime_deps(requires, arch)
    installs = dists.closure(deps, arch)
    version = str(parse_wheel_filename(entry["filename"])[1])
    torch_libs = {name: path for name, path in libraries.items() if path.startswith("torch/lib/")}
    backend = next((b for lib, b in (("libc10_cuda.so", "cuda"), ("libc10_hip.so", "rocm"),
                                     ("libc10_xpu.so", "xpu")) if lib in torch_libs), "cpu")
    return {"version": version.partition("+")[0], "arch": arch, "backend": backend,
            "backend_version": cuda_version(installs) if backend == "cuda" else None,
            "libraries": torch_libs, "requires": sorted(str(req) for req in deps),
            "installs": [f"{name}=={version}" for name, version in installs], **describe(entry, source)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", action="append", default=[], help="a local torch wheel to read as well")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "policies",
                                                      "providers.json"))
    args = parser.parse_args()
    builds: list[dict] = []
    dists = Distributions()
    for path in args.wheel:
        with open(path, "rb") as f:
            sha = hashlib.file_digest(f, "sha256").hexdigest()
        name = os.path.basename(path)
        arch = next(a for a in ARCHES if name.endswith(f"{a}.whl"))
        with zipfile.ZipFile(path) as zf:
            entry = {"filename": name, "size": os.path.getsize(path), "hashes": {"sha256": sha}}
            builds.append(torch_build(zf, entry, "local file", arch, dists))
    for release in TORCH_RELEASES:
        for arch in ARCHES:
            entry = pick_wheel("torch", arch, release)
            if entry is None:
                print(f"torch {release} has no wheel for {arch}", file=sys.stderr)
                continue
            print(f"torch {release} {arch}: {entry['filename']}", file=sys.stderr)
            builds.append(torch_build(open_remote(entry), entry, "pypi", arch, dists))
    for name in EXTRA_DISTRIBUTIONS:
        for arch in ARCHES:
            dists.closure([Requirement(name)], arch)
    distributions = dists.data
    data = {
        "about": "Which distribution installs which shared library, and what torch installs with it. "
                 "Generated by tools/gen_providers.py from the wheels listed with each entry; do not edit.",
        "generated": datetime.date.today().isoformat(),
        "index": INDEX.format("{name}"),
        "torch": sorted(builds, key=lambda b: (Version(b["version"]), b["arch"], b["backend"])),
        "distributions": {name: distributions[name] for name in sorted(distributions)},
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=False)
        f.write("\n")
    print(f"wrote {args.out}: {len(builds)} torch builds, {len(distributions)} distributions", file=sys.stderr)


if __name__ == "__main__":
    main()
