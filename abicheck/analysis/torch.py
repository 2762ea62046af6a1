"""The torch a kernel will meet: its version, its C++ ABI, and what its libraries export.

`--torch PATH` names an installed torch (the `torch` package folder, holding
`lib/` and `version.py`), a torch wheel, or a saved `abicheck abi dump
--format json` of a torch wheel. The pytest plugin finds the
installed one without importing it. Exports are looked up through each
library's hash table (abicheck.binary.exports); nothing is read until a
kernel's imports ask.
"""

from __future__ import annotations

import json
import os
import re
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import cached_property
from importlib.util import find_spec

from abicheck.abi.surface import SET_SCHEMA, Surface
from abicheck.binary.demangle import demangle
from abicheck.binary.elf import ElfReader, open_elf
from abicheck.binary.exports import Exports
from abicheck.errors import InputError, UsageError
from abicheck.inputs.files import read_file
from abicheck.inputs.wheel import WheelReader
from abicheck.policy.export_index import IndexedLibrary
from abicheck.policy.torch_exports import IndexedBuild, release_of, torch_index

# Mangled names in torch's C++ namespaces (c10::, at::, torch::, caffe2::), with their vtables, typeinfo and
# guard variables, the local statics of their functions (Z), the typeinfo of function types returning one of
# their types (F, P for a pointer), and torch's C shim functions. After N come the CV-qualifiers (r, V, K) and
# then the ref-qualifier (R: &, O: &&) of a member function.
TORCH_SYMBOL = re.compile(r"^(_Z(T[VIST]|GV)?(Z+|P?F[ROK]*)?N?[KVrLRO]*(3c10|2at|5torch|6caffe2)|aoti_torch_|torch_)")
CXX11_MARKERS = ("St7__cxx11", "B5cxx11")
TORCH_LIBRARIES = ("libc10", "libtorch", "libcaffe2")  # the name prefixes of torch's own libraries
_LIBRARY = re.compile(r"lib[^/]*\.so(\.[0-9]+)*")
_VERSION = re.compile(r"""^__version__\s*=\s*['"]([^'"]+)['"]""", re.M)


def is_torch_symbol(name: str) -> bool:
    return bool(TORCH_SYMBOL.match(name))


def cxx_abi_of(name: str) -> str | None:
    """`cxx11` when a mangled name uses the new std::string ABI, `cxx98` the old one, else None."""
    if any(marker in name for marker in CXX11_MARKERS):
        return "cxx11"

    text = demangle(name)
    if text is None:  # no demangler installed (it is optional) or a name it cannot parse: read the mangling
        return "cxx98" if name.startswith("_Z") and _names_old_string(name) else None
    if "std::string" in text or "std::basic_string<char, std::char_traits<char>, std::allocator<char> >" in text:
        return "cxx98"
    return None


def _names_old_string(name: str) -> bool:
    """Whether a mangled name uses `Ss`, the old-ABI std::string, outside its length-prefixed identifiers."""
    i = 2
    while i < len(name):
        if name[i].isdigit() and name[i - 1] not in "SLT_":  # a <source-name>: its length, then its characters
            j = i
            while j < len(name) and name[j].isdigit():
                j += 1
            i = j + int(name[i:j])
        elif name.startswith("Ss", i):
            return True
        else:
            i += 1
    return False


class DumpedExports:
    """The exports of one library as a saved ABI dump lists them (name lookups only)."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def defines(self, name: str, version: str | None = None) -> bool:
        return name in self.names

    def defined(self, names: set[str], version: str | None = None) -> set[str]:
        return names & self.names


LibraryExports = Exports | DumpedExports | IndexedLibrary


@dataclass
class TorchSource:
    """One torch: where its libraries are, opened on first use."""

    path: str
    version: str  # "2.13.0+cpu"
    libraries: dict[str, str]  # file name -> path on disk (or member, for a wheel)
    wheel: str | None = None
    dumped: dict[str, DumpedExports] | None = None  # from a saved ABI dump: no library to open
    indexed: IndexedBuild | None = None  # from abicheck's index: the build whose exports it holds
    label: str = "--torch"  # where it came from, as messages say it
    runtime: dict[str, str] | None = None  # an installed torch: the runtime libraries installed beside it
    _open: dict[str, LibraryExports] = field(default_factory=dict, repr=False)
    _stack: ExitStack = field(default_factory=ExitStack, repr=False)

    @property
    def release(self) -> str:
        return release_of(self.version)

    @property
    def file(self) -> str | None:
        """The wheel it was installed from, when known (the key to what it installs)."""
        if self.indexed is not None:
            return self.indexed.file
        return os.path.basename(self.wheel) if self.wheel else None

    @property
    def backend(self) -> str:
        """cuda, rocm, xpu or cpu, from its own libraries."""
        return next((b for lib, b in (("libc10_cuda.so", "cuda"), ("libc10_hip.so", "rocm"),
                                      ("libc10_xpu.so", "xpu")) if lib in self.libraries), "cpu")

    def describe(self) -> str:
        if self.indexed is not None and self.label.startswith("--torch"):
            return f"{self.indexed.describe()} from {self.label} (its exports read from abicheck's torch index)"
        if self.indexed is not None:
            return f"{self.indexed.describe()} from abicheck's torch index"
        return f"torch {self.version} from {self.label}"

    def exports(self, library: str) -> LibraryExports | None:
        """The exports of one of torch's libraries, or None if torch has no such library."""
        if self.dumped is not None:
            return self.dumped.get(library)
        if library not in self.libraries:
            return None
        if library not in self._open:
            if self.indexed is not None:
                self._open[library] = IndexedLibrary(torch_index().index, self.indexed.bit, library)
            else:
                self._open[library] = Exports(self._reader(library))
        return self._open[library]

    def _reader(self, library: str) -> ElfReader:
        where = self.libraries[library]
        if self.wheel is None:
            return self._stack.enter_context(open_elf(where))

        wheel = self._stack.enter_context(WheelReader(self.wheel))
        member = next(m for m in wheel.members if m.name == where)
        return ElfReader(wheel.read_all(member), wheel.display(member))

    def needed_of(self, library: str) -> tuple[str, ...]:
        if self.indexed is not None:
            return self.indexed.libraries.get(library, ())
        exports = self.exports(library)
        if isinstance(exports, Exports):
            return exports.needed
        return tuple(self.libraries) if exports is not None else ()  # a dump keeps no NEEDED: all of torch

    def scope(self, needed: tuple[str, ...]) -> list[str]:
        """torch's libraries an object loads, breadth first through their own NEEDED entries."""
        order: list[str] = []
        queue = [n for n in needed if n in self.libraries]
        while queue:
            lib = queue.pop(0)
            if lib in order:
                continue
            order.append(lib)
            queue.extend(n for n in self.needed_of(lib) if n in self.libraries and n not in order)
        return order

    def defines(self, scope: list[str], name: str) -> bool:
        return any((e := self.exports(lib)) is not None and e.defines(name) for lib in scope)

    @cached_property
    def cxx_abi(self) -> str | None:
        """The C++ ABI torch was built with, from what libc10.so exports (read once per run)."""
        if self.indexed is not None:
            return self.indexed.cxx_abi
        exports = self.exports("libc10.so")
        if exports is None:
            return None
        if isinstance(exports, DumpedExports):
            cxx11 = any(m in name for name in exports.names for m in CXX11_MARKERS)
        elif isinstance(exports, Exports):
            cxx11 = any(m.encode() in exports.strings for m in CXX11_MARKERS)
        else:
            return None
        return "cxx11" if cxx11 else "cxx98"

    def close(self) -> None:
        self._stack.close()
        self._open.clear()


def indexed_torch(build: IndexedBuild) -> TorchSource:
    """The torch of one build in abicheck's index: its libraries' exports, looked up with no torch at hand."""
    return TorchSource(build.file, build.version, {lib: lib for lib in build.libraries}, indexed=build,
                       label="abicheck's torch index")


def load_torch(path: str) -> TorchSource:
    """An installed torch folder, a folder holding one (site-packages), a torch wheel, or a saved dump of one.

    UsageError if it is none of these.
    """
    if path.endswith(".whl"):
        return _from_wheel(path)
    if path.endswith(".json"):
        return _from_dump(path)
    candidates = [path, os.path.join(path, "torch")]
    for folder in candidates:
        lib = os.path.join(folder, "lib")
        if os.path.isdir(lib) and os.path.isfile(os.path.join(folder, "version.py")):
            try:
                text = read_file(os.path.join(folder, "version.py"), "version.py").decode("utf-8", "replace")
            except InputError as exc:
                raise UsageError(f"--torch {path}: {exc.message}") from None
            m = _VERSION.search(text)
            if m is None:
                raise UsageError(f"--torch {path}: no __version__ in {folder}/version.py")
            libraries = {n: os.path.join(lib, n) for n in sorted(os.listdir(lib)) if ".so" in n}
            return TorchSource(folder, m.group(1), libraries, runtime=_installed_runtime(os.path.dirname(folder)))
    raise UsageError(f"--torch {path}: not an installed torch (a folder with lib/ and version.py) or a torch wheel")


def _installed_runtime(site: str) -> dict[str, str]:
    """The GPU runtime libraries pip installed beside torch (site-packages/nvidia/*/lib/), by file name."""
    found: dict[str, str] = {}
    nvidia = os.path.join(site, "nvidia")
    try:
        packages = sorted(os.listdir(nvidia))
    except OSError:
        return found
    for package in packages:
        lib = os.path.join(nvidia, package, "lib")
        try:
            names = sorted(os.listdir(lib))
        except OSError:
            continue
        for name in names:
            if _LIBRARY.fullmatch(name) and os.path.isfile(os.path.join(lib, name)):
                found.setdefault(name, os.path.join(lib, name))
    return found


def _from_wheel(path: str) -> TorchSource:
    from packaging.utils import parse_wheel_filename  # noqa: PLC0415 - packaging costs ~20 ms at import: loaded only when used

    try:
        with WheelReader(path) as wheel:
            if wheel.tags.name != "torch":
                raise UsageError(f"--torch {path}: not a torch wheel")
            libraries = {os.path.basename(m.name): m.name for m in wheel.members
                         if m.name.startswith("torch/lib/") and ".so" in m.name}
    except InputError as exc:
        raise UsageError(f"--torch {path}: {exc.message}") from None

    version = str(parse_wheel_filename(os.path.basename(path))[1])
    return TorchSource(path, version, libraries, wheel=path)


def _from_dump(path: str) -> TorchSource:
    """`abicheck abi dump --format json torch-2.9.0-...whl > torch.json`: the release from the wheel's name."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename  # noqa: PLC0415 - packaging costs ~20 ms at import: loaded only when used

    try:
        head = json.loads(read_file(path, "ABI dump"))
    except InputError as exc:
        raise UsageError(f"--torch {path}: {exc.message}") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise UsageError(f"--torch {path}: not a readable ABI dump ({type(exc).__name__})") from None
    if not isinstance(head, dict) or head.get("schema") != SET_SCHEMA or not str(head.get("source", "")).startswith(
            "torch-"):
        raise UsageError(f"--torch {path}: not an ABI dump of a torch wheel (abicheck abi dump --format json "
                         "torch-X.Y.Z-....whl)")

    try:
        version = str(parse_wheel_filename(head["source"])[1])
        surfaces = {name: Surface.from_dict(s, path) for name, s in head["objects"].items()}
    except (InvalidWheelFilename, InputError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(f"--torch {path}: not a readable ABI dump ({exc})") from None
    dumped = {os.path.basename(member): DumpedExports({s.name for s in surface.symbols
                                                       if s.version is None or s.default})
              for member, surface in surfaces.items() if member.startswith("torch/lib/")}
    return TorchSource(path, version, {name: name for name in dumped}, dumped=dumped)


def installed_torch() -> str | None:
    """The folder of the torch installed in this environment, found without importing it."""

    try:
        spec = find_spec("torch")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return next(iter(spec.submodule_search_locations))
