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
from typing import TYPE_CHECKING, Any, NamedTuple

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


def _finding(path: str, rule: Rule, message: str, hint: str, extra: dict[str, Any]) -> Finding:
    """A finding of `rule` about a context's path (an object, a wheel, a variant folder): each context's
    `finding()`. (The contexts are NamedTuples, which take no mixin.)"""
    return Finding(code=rule.code, name=rule.name, message=message, hint=hint, path=path, **extra)


class ObjectContext(NamedTuple):
    """One object while it is open: its binary, its origin, its target, and the torch imports found."""

    origin: Origin
    format: Format
    binary: Binary
    target: Target
    torch_imports: TorchImports | None = None

    @property
    def path(self) -> str:
        return self.origin.display

    @property
    def scope(self) -> Scope:
        return "object"

    def finding(self, rule: Rule, message: str, hint: str, **extra: Any) -> Finding:
        return _finding(self.path, rule, message, hint, extra)

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


class ObjectRecord(NamedTuple):
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


class LoadContext(NamedTuple):
    """One ELF object after the whole input was scanned: where each NEEDED library and import comes from."""

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

    @property
    def scope(self) -> Scope:
        return "load"

    def finding(self, rule: Rule, message: str, hint: str, **extra: Any) -> Finding:
        return _finding(self.path, rule, message, hint, extra)

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


class WheelContext(NamedTuple):
    """One wheel and one architecture it claims: what a per-wheel rule may look at."""

    path: str
    arch: str | None  # None for a wheel whose tag names no architecture (`any`)
    claim: Policy | None  # the oldest policy its platform tag claims for `arch`
    # (display path, non-weak (library, version) needs outside the wheel) of each object for `arch`
    objects: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    platforms: tuple[str, ...] = ()  # the platform tags of its file name

    @property
    def scope(self) -> Scope:
        return "wheel"

    def finding(self, rule: Rule, message: str, hint: str, **extra: Any) -> Finding:
        return _finding(self.path, rule, message, hint, extra)


class VariantContext(NamedTuple):
    """One kernel build-variant folder: what a per-variant rule may look at."""

    variant_dir: VariantDir

    @property
    def path(self) -> str:
        return self.variant_dir.metadata_path or self.variant_dir.path

    @property
    def scope(self) -> Scope:
        return "variant"

    def finding(self, rule: Rule, message: str, hint: str, **extra: Any) -> Finding:
        return _finding(self.path, rule, message, hint, extra)


Context = ObjectContext | LoadContext | WheelContext | VariantContext
