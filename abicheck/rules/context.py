"""What a rule may look at: one frozen context per scope, built by the pipeline, only read by rules.

* `ObjectContext`: one object (ELF, Mach-O or PE) while it is open, with its
  target (abicheck.target) and what the analysis learned of it;
* `LoadContext`: one ELF object after the whole input was scanned, with
  each NEEDED library resolved and its imports looked up (abicheck.analysis.load);
* `WheelContext`: one wheel and one architecture it claims;
* `VariantContext`: one kernel variant folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from abicheck.binary.elf import ElfFacts, ElfReader
from abicheck.binary.macho import MachOFile
from abicheck.binary.pe import PEFile
from abicheck.report.model import Finding

if TYPE_CHECKING:
    from abicheck.analysis.objects import KeptTables, TorchImports
    from abicheck.analysis.resolver import Environment, Resolved, SearchPath
    from abicheck.analysis.symbols import ImportResult
    from abicheck.binary import Format
    from abicheck.inputs.artifact import Binary, Origin
    from abicheck.inputs.kernel_tree import VariantDir
    from abicheck.inputs.variants import Variant
    from abicheck.policy.backends import BackendPolicy
    from abicheck.policy.manylinux import Policy
    from abicheck.rules.base import Rule, Scope
    from abicheck.target import Target


class _HasPath(Protocol):
    @property
    def path(self) -> str: ...


class _Reports:
    """`finding()`: a finding of a rule about this context's path (an object, a wheel, a variant folder)."""

    def finding(self: _HasPath, rule: Rule, message: str, hint: str, **extra: Any) -> Finding:
        return Finding(code=rule.code, name=rule.name, message=message, hint=hint, path=self.path, **extra)


@dataclass(frozen=True)
class ObjectContext(_Reports):
    """One object while it is open: its binary, its origin, its target, and the torch imports found."""

    scope: ClassVar[Scope] = "object"

    origin: Origin
    format: Format
    binary: Binary
    target: Target
    torch_imports: TorchImports | None = None

    @property
    def path(self) -> str:
        return self.origin.display

    @property
    def reader(self) -> ElfReader:
        assert isinstance(self.binary, ElfReader)
        return self.binary

    @property
    def facts(self) -> ElfFacts:
        return self.reader.facts

    @property
    def macho(self) -> MachOFile | None:
        return self.binary if isinstance(self.binary, MachOFile) else None

    @property
    def pe(self) -> PEFile | None:
        return self.binary if isinstance(self.binary, PEFile) else None

    @property
    def arch(self) -> str | None:
        """An ELF object's own architecture: the one whose policy limits apply."""
        return self.facts.arch

    def arches(self) -> list[str]:
        """The architectures of a Mach-O object's slices, or of a PE object's machine."""
        if isinstance(self.binary, MachOFile):
            return [s.arch for s in self.binary.slices]
        if isinstance(self.binary, PEFile):
            return [self.binary.machine]
        return [self.facts.arch] if self.facts.arch else []

    @property
    def shipped(self) -> frozenset[str]:
        return self.origin.shipped

    @property
    def policy(self) -> Policy:
        return self.target.policy

    @property
    def variant(self) -> Variant | None:
        return self.target.variant


@dataclass(frozen=True)
class ObjectRecord:
    """One ELF object after its own rules ran: what the load stage needs once its bytes are released."""

    origin: Origin
    facts: ElfFacts
    target: Target
    defined_versions: frozenset[str]  # its own .gnu.version_d names, for those that load it
    tables: KeptTables | None  # None: its symbol table could not be read
    python_imports: tuple[str, ...] = ()  # its imports named like the CPython API (Py*, _Py*), weak ones too

    @property
    def path(self) -> str:
        return self.origin.display


@dataclass(frozen=True)
class LoadContext(_Reports):
    """One ELF object after the whole input was scanned: where each NEEDED library and import comes from."""

    scope: ClassVar[Scope] = "load"

    object: ObjectRecord
    resolved: tuple[Resolved, ...]
    search: SearchPath
    environment: Environment
    shipped_versions: dict[str, tuple[str, frozenset[str]]]  # lib -> (its path, the versions it defines)
    # a shipped library's record and resolution, by its path in the same wheel or tree
    peers: dict[str, tuple[ObjectRecord, tuple[Resolved, ...]]]
    policies: Callable[[], BackendPolicy]  # the backend policy data, loaded at the first call
    imports: ImportResult | None = None  # every non-weak import looked up in the load scope (AB312)

    @property
    def path(self) -> str:
        return self.object.path

    def backend_policy(self) -> BackendPolicy:
        return self.policies()

    @property
    def facts(self) -> ElfFacts:
        return self.object.facts

    @property
    def target(self) -> Target:
        return self.object.target

    @property
    def relpath(self) -> str:
        return self.object.origin.relpath

    def peer(self, where: str) -> tuple[ObjectRecord, tuple[Resolved, ...]] | None:
        """The shipped object at `where` (a symlink followed), with its own resolution."""
        container = self.object.origin.container
        links = container.links if container is not None else {}
        return self.peers.get(links.get(where, where))


@dataclass(frozen=True)
class WheelContext(_Reports):
    """One wheel and one architecture it claims: what a per-wheel rule may look at."""

    scope: ClassVar[Scope] = "wheel"

    path: str
    arch: str | None  # None for a wheel whose tag names no architecture (`any`)
    claim: Policy | None  # the oldest policy its platform tag claims for `arch`
    # (display path, non-weak (library, version) needs outside the wheel) of each object for `arch`
    objects: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    platforms: tuple[str, ...] = ()  # the platform tags of its file name


@dataclass(frozen=True)
class VariantContext(_Reports):
    """One kernel build-variant folder: what a per-variant rule may look at."""

    scope: ClassVar[Scope] = "variant"

    variant_dir: VariantDir

    @property
    def path(self) -> str:
        return self.variant_dir.metadata_path or self.variant_dir.path


Context = ObjectContext | LoadContext | WheelContext | VariantContext
