"""Each object's context, built in one place: what the rules may look at.

An object found by the scan gets its policy, the architecture it must be
built for, its kernel backend, the oldest Python its stable-ABI claim covers,
and its build variant, from (first match wins):

* the options (`--policy`, `--arch`, `--backend`, `--variant`, `--python-abi`);
* the variant folder it lies in (`build/torch28-cxx11-cu128-x86_64-linux/`);
* the wheel it is a member of (its platform and ABI tags);
* the object itself (its libc, its kernel-style file name) and the defaults.

Rules come in three scopes, each with its context: one ELF object
(`ObjectContext`), one wheel and architecture (`WheelContext`, for AB402),
and one variant folder (`VariantContext`, for AB305). `ContextBuilder` makes
all three; the pipeline hands them to the rule registry without knowing any
rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from abicheck.binary.elf import ElfFacts, ElfReader
from abicheck.errors import InputError, UsageError
from abicheck.options import parse_python_abi, parse_release, validate_options
from abicheck.policy.manylinux import DEFAULT_POLICY, Policy, load_policy
from abicheck.report.model import ArtifactResult, Finding

if TYPE_CHECKING:
    from abicheck.binary.exports import Exports
    from abicheck.inputs.kernel_tree import VariantDir
    from abicheck.inputs.scan import Container, ScanItem
    from abicheck.inputs.variants import Variant
    from abicheck.inputs.wheel import WheelTags
    from abicheck.policy.backends import BackendContext, BackendPolicy
    from abicheck.resolve.torch import TorchSource
    from abicheck.rules.base import Rule

DEFAULT_PYTHON_ABI = (3, 9)
TABLES_BUDGET = 512 << 20  # bytes of shipped libraries' export tables kept for the symbol resolution stage


@dataclass
class ObjectContext:
    """What a per-object rule may look at."""

    scope: ClassVar[str] = "object"

    path: str
    reader: ElfReader
    policy: Policy
    target: str = "wheel"  # "wheel" or "nix"
    expected_arch: str | None = None  # from the wheel tag, the variant or --arch
    expected_arch_source: str = "--arch"
    shipped: frozenset[str] = field(default_factory=frozenset)
    backend: BackendContext | None = None  # the kernel backend, when known
    backend_policy: BackendPolicy | None = None
    abi3: bool = False  # built for the Python stable ABI (.abi3.so, an abi3 wheel)
    python_abi: tuple[int, int] = DEFAULT_PYTHON_ABI  # the oldest Python the stable-ABI claim covers
    python_abi_source: str = "the default (--python-abi)"
    torch: TorchSource | None = None  # the torch the object will meet (--torch, the plugin's)
    torch_not_checked: str | None = None  # why its torch imports cannot be checked against it
    cxx_abi: str | None = None  # the C++ ABI it must use (cxx11/cxx98), from the variant or the torch
    cxx_abi_source: str = ""
    torch_stable_abi: tuple[int, int] | None = None  # the oldest torch a stable-ABI kernel must load in
    torch_stable_abi_source: str = ""
    symbols: dict | None = None  # what the torch symbol check did (AB308), for the report
    defined_versions: frozenset[str] = frozenset()  # its own .gnu.version_d names, for those that load it
    variant: Variant | None = None  # the kernel build variant it belongs to (its folder, or --variant)
    # kept for the symbol resolution stage (AB312) when it runs: its non-weak imports, and its export tables
    imports: list[tuple[str, str | None, str | None]] | None = None
    exports: Exports | None = None
    exports_why: str | None = None  # why its exports were not kept

    facts: ElfFacts = field(init=False)

    def __post_init__(self) -> None:
        self.facts = self.reader.facts

    @property
    def arch(self) -> str | None:
        """The architecture whose policy limits apply: the object's own."""
        return self.facts.arch

    def release(self) -> None:
        """Drop the reader, and the bytes it holds, once the object's own rules have run.

        Later stages (resolution) see only the facts, so a wheel's members are
        never all held in memory at once.
        """
        self.reader = None  # type: ignore[assignment]

    def finding(self, rule: Rule, message: str, hint: str, **extra: object) -> Finding:
        return Finding(code=rule.code, name=rule.name, message=message, hint=hint, path=self.path,
                       **extra)  # type: ignore[arg-type]

    def result(self, findings: list[Finding]) -> ArtifactResult:
        return ArtifactResult(self.path, findings, arch=self.facts.arch, policy=self.policy.name,
                              symbols=self.symbols, variant=self.variant_info())

    def variant_info(self) -> dict | None:
        """Its build variant as the report shows it, or None outside a variant."""
        return variant_info(self.variant)


def variant_info(v: Variant | None) -> dict | None:
    """A build variant as the report shows it, or None outside a variant."""
    if v is None:
        return None
    return {"name": v.name, "framework": v.framework, "backend": v.backend, "backend_version": v.backend_version,
            "torch": v.torch_version, "cxx_abi": v.cxx_abi, "arch": v.arch, "os": v.os}


@dataclass
class WheelContext:
    """One wheel and one architecture it claims: what a per-wheel rule may look at."""

    scope: ClassVar[str] = "wheel"

    path: str
    arch: str | None  # None for a wheel whose tag names no architecture (`any`)
    claim: Policy | None  # the oldest policy its platform tag claims for `arch`
    # (display path, non-weak (library, version) needs outside the wheel) of each object for `arch`
    objects: list[tuple[str, list[tuple[str, str]]]]
    platforms: tuple[str, ...] = ()  # the platform tags of its file name

    def result(self, findings: list[Finding]) -> ArtifactResult:
        return ArtifactResult(self.path, findings, arch=self.arch, policy=self.claim.name if self.claim else None,
                              kind="wheel")


@dataclass
class VariantContext:
    """One kernel build-variant folder: what a per-variant rule may look at."""

    scope: ClassVar[str] = "variant"

    variant_dir: VariantDir

    @property
    def path(self) -> str:
        return self.variant_dir.metadata_path or self.variant_dir.path

    def result(self, findings: list[Finding]) -> ArtifactResult:
        return ArtifactResult(self.path, findings, arch=self.variant_dir.variant.arch, policy=None,
                              kind="metadata")




def is_musl(facts: ElfFacts) -> bool:
    """musl's C library (`libc.musl-x86_64.so.1`, or `libc.so` as musl's linker names it) or loader."""
    return (any(n == "libc.so" or n.startswith("libc.musl-") for n in facts.needed)
            or bool(facts.interpreter and "ld-musl" in facts.interpreter))


def _needs(facts: ElfFacts, shipped: frozenset[str]) -> list[tuple[str, str]]:
    return [(n.library, n.version) for n in facts.version_needs if not n.weak and n.library not in shipped]


class ContextBuilder:
    """Turns the options once into the context of every object, wheel and variant folder."""

    def __init__(self, *, policy: str | None = None, target: str = "wheel", arch: str | None = None,
                 backend: str | None = None, variant: str | None = None, python_abi: str | None = None,
                 policy_files: Iterable[str] = (), torch: str | None = None,
                 torch_mismatch: str = "error", torch_stable_abi: str | None = None,
                 macos: str | None = None) -> None:
        """Parse the options; raises UsageError for one that makes no sense.

        `torch` is an installed torch folder or a torch wheel; when its release
        differs from a variant's, `torch_mismatch` says what happens: "error"
        (a usage error), "skip" (that variant's torch symbols are reported as not
        checked: what the pytest plugin does) or "check" (check against it anyway).
        """
        self.explicit = validate_options(policy, target, arch)
        self.target = target
        self.arch = arch
        self.backend_option: BackendContext | None = None
        if backend:
            from abicheck.policy.backends import parse_backend_option

            self.backend_option = parse_backend_option(backend)
        self.variant: Variant | None = None
        if variant:
            from abicheck.inputs.variants import parse_variant

            try:
                self.variant = parse_variant(variant)
            except InputError as exc:
                raise UsageError(f"--variant: {exc.message}") from None
        self.python_option = parse_python_abi(python_abi) if python_abi else None
        self.macos = parse_release(macos, "--macos", "a macOS release such as 15.0") if macos else None
        self.policy_files = tuple(policy_files)
        self._backend_policy: BackendPolicy | None = None
        if self.policy_files:
            self.backend_policy()  # a bad --policy-file is a usage error before any work
        self._wheels: dict[str, tuple[WheelTags, list[tuple[tuple[int, int], str, str | None,
                                                           list[tuple[str, str]]]]]] = {}
        self._variant_dirs: dict[str, VariantDir] = {}
        # each object found in a wheel or tree, for the load stage (abicheck.load_stage)
        self.objects: list[tuple[Container, str, ObjectContext]] = []
        self._tables_kept = 0
        if torch_mismatch not in ("error", "skip", "check"):
            raise UsageError(f"unknown torch mismatch handling {torch_mismatch!r}")
        self.torch_mismatch = torch_mismatch
        self.torch_stable_abi = parse_release(torch_stable_abi, "--torch-stable-abi") if torch_stable_abi else None
        self.torch: TorchSource | None = None
        if torch:
            from abicheck.resolve.torch import load_torch

            self.torch = load_torch(torch)

    def backend_policy(self) -> BackendPolicy:
        """Loaded once, when the first object with a kernel backend is met."""
        if self._backend_policy is None:
            from abicheck.policy.backends import load_backend_policy

            self._backend_policy = load_backend_policy(self.policy_files)
        return self._backend_policy

    # -- per object -----------------------------------------------------------

    def for_object(self, item: ScanItem) -> ObjectContext:
        """The context of one scanned object; also remembers its wheel and variant folder."""
        facts = item.reader.facts
        chosen = self.policy_for(facts, item)
        expected, source = self._expected_arch(facts, item)
        py_abi, py_source = self._python_abi(item)
        backend = self._backend_for(item)
        if item.variant_dir is not None:
            self._variant_dirs.setdefault(item.variant_dir.path, item.variant_dir)
        if item.wheel is not None and item.container is not None:
            entry = self._wheels.setdefault(item.container, (item.wheel, []))
            entry[1].append((item.position, item.display, facts.arch, _needs(facts, item.shipped)))
        ctx = ObjectContext(
            path=item.display, reader=item.reader, policy=chosen, target=self.target,
            expected_arch=expected, expected_arch_source=source, shipped=item.shipped,
            backend=backend, backend_policy=self.backend_policy() if backend else None,
            abi3=item.display.endswith(".abi3.so") or bool(item.wheel and item.wheel.abi3),
            python_abi=py_abi, python_abi_source=py_source,
        )
        self._torch_context(ctx, item)
        if item.origin is not None:
            ctx.defined_versions = frozenset(item.reader.version_definitions().values())
            self.objects.append((item.origin, item.relpath, ctx))
        return ctx

    def _torch_context(self, ctx: ObjectContext, item: ScanItem) -> None:
        """The torch and C++ ABI an object will meet: its variant's, checked against --torch."""
        variant = item.variant_dir.variant if item.variant_dir is not None else self.variant
        ctx.variant = variant
        ctx.torch = self.torch
        if variant is not None and variant.cxx_abi:
            ctx.cxx_abi, ctx.cxx_abi_source = variant.cxx_abi, f"the variant {variant.name}"
        elif self.torch is not None and (abi := self.torch.cxx_abi) is not None:
            ctx.cxx_abi, ctx.cxx_abi_source = abi, f"torch {self.torch.version} (--torch)"
        if self.torch_stable_abi is not None:
            ctx.torch_stable_abi, ctx.torch_stable_abi_source = self.torch_stable_abi, "--torch-stable-abi"
        elif variant is not None and variant.stable_abi and variant.torch_version:
            ctx.torch_stable_abi = parse_release(variant.torch_version, "the variant")
            ctx.torch_stable_abi_source = f"the variant {variant.name}"
        wanted = variant.torch_version if variant is not None else None
        if self.torch is None or wanted is None or wanted == self.torch.release:
            return
        if self.torch_mismatch == "error":
            raise UsageError(f"--torch is torch {self.torch.version}, but the variant {variant.name} is for torch "
                             f"{wanted}; give the matching torch, or --torch-mismatch check to check anyway")
        if self.torch_mismatch == "skip":
            ctx.torch_not_checked = f"torch {wanted} not at hand (torch {self.torch.version} is)"

    def keep_tables(self, ctx: ObjectContext) -> None:
        """Keep what the symbol resolution stage needs once the object's reader is gone.

        Its non-weak imports, and a copy of its export lookup tables while the
        copies stay within TABLES_BUDGET bytes; past it, imports from the object
        are reported as not checked.
        """
        from abicheck.binary.exports import Exports

        reader = ctx.reader
        ctx.imports = reader.import_keys()
        if self._tables_kept >= TABLES_BUDGET:
            ctx.exports_why = "its tables were not kept (over abicheck's memory budget)"
            return
        ctx.exports = Exports(reader)
        self._tables_kept += ctx.exports.size

    def close(self) -> None:
        """Close what the run opened (the torch libraries)."""
        if self.torch is not None:
            self.torch.close()

    def policy_for(self, facts: ElfFacts, item: ScanItem) -> Policy:
        """--policy wins; then the wheel's claim for this object's architecture; then the default."""
        if self.explicit is not None:
            return self.explicit
        if item.wheel is not None and item.wheel.claims:
            claims = item.wheel.claims
            return claims.get(facts.arch or "") or next(iter(claims.values()))
        return load_policy("musllinux_1_2" if is_musl(facts) else DEFAULT_POLICY)

    def _expected_arch(self, facts: ElfFacts, item: ScanItem) -> tuple[str | None, str]:
        if self.arch is not None:
            return self.arch, "--arch"
        if item.variant_dir is not None and item.variant_dir.variant.arch:
            return item.variant_dir.variant.arch, f"the variant {item.variant_dir.variant.name}"
        if self.variant is not None and self.variant.arch:
            return self.variant.arch, f"--variant {self.variant.name}"
        if item.wheel is not None and item.wheel.claims:
            arches = item.wheel.arches
            if facts.arch in arches:
                return facts.arch, "the wheel tag"
            return arches[0], f"the wheel tag ({item.wheel.claims[arches[0]].tag(arches[0])})"
        return None, ""

    def _backend_for(self, item: ScanItem) -> BackendContext | None:
        """The variant folder wins; then --variant/--backend; then a kernel file name."""
        from abicheck.inputs.paths import backend_from_filename

        variant, option = self.variant, self.backend_option
        if item.variant_dir is None and variant is None and option is None:
            named = backend_from_filename(item.display)
            if named is None:
                return None  # a plain object: the backend machinery is not even imported
        from abicheck.policy.backends import BackendContext

        if item.variant_dir is not None:
            v = item.variant_dir.variant
            return BackendContext(v.backend, v.backend_version, f"the variant {v.name}", v.name) if v.backend else None
        if variant is not None:
            if variant.backend is None:
                return None
            return BackendContext(variant.backend, variant.backend_version, f"--variant {variant.name}",
                                  variant.name)
        if option is not None:
            return option
        named = backend_from_filename(item.display)
        return BackendContext(named, None, "its file name") if named else None

    def _python_abi(self, item: ScanItem) -> tuple[tuple[int, int], str]:
        if self.python_option is not None:
            return self.python_option, "--python-abi"
        if item.wheel is not None and item.wheel.abi3_python is not None:
            v = item.wheel.abi3_python
            return v, f"the wheel's cp{v[0]}{v[1]}-abi3 tag"
        return DEFAULT_PYTHON_ABI, "the default; set --python-abi"

    # -- per wheel and per variant folder ------------------------------------

    def scope_contexts(self) -> Iterator[WheelContext | VariantContext]:
        """After the scan: one context per wheel and claimed architecture, then per variant folder."""
        for path, (tags, objects) in self._wheels.items():
            ordered = sorted(objects)  # members finish out of archive order with several jobs
            for arch, claim in tags.claims.items():
                mine = [(display, needs) for _pos, display, a, needs in ordered if a == arch]
                if mine:
                    yield WheelContext(path, arch, claim, mine, tags.platforms)
            if not tags.claims and ordered:
                yield WheelContext(path, None, None, [(display, needs) for _p, display, _a, needs in ordered],
                                   tags.platforms)
        for vdir in self._variant_dirs.values():
            yield VariantContext(vdir)
