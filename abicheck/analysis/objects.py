"""What is learned of one object while it is open, whatever rules are selected.

* `torch_imports`: a kernel's imports of torch's own symbols, looked up in the
  torch it will meet (the report's `symbols`; AB308 reads it);
* `foreign_imports`: a Mach-O or PE object's imports from other dylibs and
  DLLs, which abicheck does not resolve: counted as not checked;
* `keep_tables`: an ELF object's non-weak imports and a copy of its export
  tables, for the symbol resolution stage after the scan (abicheck.analysis.load),
  within a memory budget.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from abicheck.analysis.torch import TORCH_LIBRARIES, is_torch_symbol
from abicheck.binary.elf import ElfReader
from abicheck.binary.exports import Exports
from abicheck.binary.macho import MachOFile
from abicheck.binary.pe import PEFile
from abicheck.policy.stable_abi import PYTHON_DLL, is_python_api
from abicheck.target import Target

TABLES_BUDGET = 256 << 20  # bytes of shipped libraries' export tables kept for the symbol resolution stage


class TorchImports(NamedTuple):
    """A kernel's imports of torch's own symbols, and which of them the torch it meets lacks."""

    scope: tuple[str, ...]  # the torch libraries it names in NEEDED, and theirs
    checked: int = 0
    missing: tuple[str, ...] = ()
    torch: str | None = None  # the torch version checked against
    not_checked: str | None = None  # why they were not checked

    def summary(self) -> dict[str, Any]:
        if self.not_checked is not None:
            return {"checked": self.checked, "not_checked": self.not_checked}
        return {"checked": self.checked, "missing": len(self.missing), "torch": self.torch}


def torch_imports(reader: ElfReader, target: Target) -> TorchImports | None:
    """None for an object that does not link torch."""
    torch = target.torch
    facts = reader.facts
    linked = tuple(n for n in facts.needed if n.startswith(TORCH_LIBRARIES))
    needed = tuple(n for n in facts.needed if n in torch.libraries) if torch is not None else linked
    if not needed and not linked:
        return None
    if torch is None or target.torch_not_checked:
        why = target.torch_not_checked or ("no torch at hand: name its release (a variant folder, --variant, or "
                                           "--torch 2.9) or give a torch (--torch PATH)")
        return TorchImports(needed or linked, not_checked=why)
    scope = torch.scope(needed)
    imports = sorted({s.name for s in reader.imports() if s.binding != "weak" and is_torch_symbol(s.name)})
    missing = tuple(name for name in imports if not torch.defines(scope, name))
    absent = [n for n in linked if n not in torch.libraries]  # libtorch_hip.so against a CUDA build
    if missing and absent:
        return TorchImports(tuple(scope), len(imports) - len(missing), (), torch.version,
                            not_checked=f"{len(missing)} may come from {', '.join(absent)}, which "
                                        f"{torch.describe()} does not have")
    return TorchImports(tuple(scope), len(imports), missing, torch.version)


def python_imports(reader: ElfReader) -> tuple[str, ...]:
    """The object's imports named like the CPython API: the interpreter's, or a library's of the same prefix."""
    return tuple(sorted({s.name for s in reader.imports() if is_python_api(s.name)}))


def foreign_imports(binary: MachOFile | PEFile) -> dict[str, Any]:
    """Imports from other dylibs and DLLs are not resolved: counted as not checked, per library."""
    unknown: dict[str, tuple[int, str]] = {}
    if isinstance(binary, MachOFile):
        why = "macOS dylib imports are not resolved by abicheck"
        for s in binary.slices:
            if s.file_type == "object":
                continue
            for name, library in binary.undefined(s):
                if name.startswith("_Py") or library is None:
                    continue  # the interpreter's (flat lookup), checked by the stable-ABI rules
                count, _ = unknown.get(library, (0, why))
                unknown[library] = (count + 1, why)
    else:
        why = "Windows DLL imports are not resolved by abicheck"
        for dll, functions in binary.imports.items():
            if not PYTHON_DLL.match(dll) and dll.lower() != "python3.dll" and functions:
                unknown[dll] = (len(functions), why)
    report: dict[str, Any] = {"checked": 0, "missing": 0, "not_checked": sum(n for n, _w in unknown.values())}
    if unknown:
        report["unknown_libraries"] = {lib: why for lib, (_n, why) in sorted(unknown.items())}
    return report


class KeptTables(NamedTuple):
    """An ELF object's non-weak imports, and its export tables when the budget allowed."""

    imports: tuple[tuple[str, str | None, str | None], ...]
    exports: Exports | None
    exports_why: str | None = None  # why its exports were not kept


class TableBudget:
    """Copies of export tables kept during one run, up to TABLES_BUDGET bytes."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = TABLES_BUDGET if limit is None else limit
        self.used = 0

    def keep(self, reader: ElfReader) -> KeptTables:
        imports = tuple(reader.import_keys())
        # What the copy would cost, known before it is made: a 600 MB DT_STRSZ must not be copied to find out.
        cost = reader.table_bytes()
        if self.used >= self.limit or self.used + cost > self.limit:
            return KeptTables(imports, None, "its tables were not kept (over abicheck's memory budget of "
                                             f"{self.limit >> 20} MiB)")
        exports = Exports(reader)
        self.used += exports.size
        return KeptTables(imports, exports)
